package watch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// Window is one watch: how long, how often, and the clock it runs on.
type Window struct {
	Length   time.Duration
	Interval time.Duration
	// Sleep and Now replace time in tests; nil means the real clock.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
	// Progress, when set, hears what the watch is doing, for a module's
	// report if it is interrupted.
	Progress func(format string, args ...any)
}

// Result is what a watch saw.
type Result struct {
	Elapsed time.Duration
	Passed  bool
	// Failed is the signal that ended the watch, and Msg why; Msg is
	// empty when the watch passed.
	Failed Signal
	Msg    string
	// Signals holds each signal's Report, with its name, how many
	// readings it took and how many of them failed.
	Signals []map[string]any
}

// WindowError is a watch that failed: a signal crossed a threshold, or
// could not be read for too long.
type WindowError struct {
	Signal  string
	Elapsed time.Duration
	Length  time.Duration
	Msg     string
	Err     error // the reading's error when one ended the watch
}

func (e *WindowError) Unwrap() error { return e.Err }

func (e *WindowError) Error() string {
	return fmt.Sprintf("the watch of %s failed after %.1f s of %s: %s", e.Signal, e.Elapsed.Seconds(), seconds(e.Length), e.Msg)
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%g s", d.Round(time.Millisecond).Seconds())
}

// reading is one signal's state in the window.
type reading struct {
	sig      Signal
	started  bool
	reads    int
	errors   int
	lastErr  error
	errSince time.Time // when the current run of errors began; zero after a success
	finding  Finding
	// fatal is an error that another reading will not mend: a
	// *failure.Error (an alarm or a pool that does not exist, credentials
	// refused), other than throttling.
	fatal error
}

// Run watches signals for w.Length: it starts every signal, then reads all
// of them at once every w.Interval, and a last time when the window ends.
// The first reading that crosses a threshold ends the watch at once, with
// a *WindowError naming the signal. A reading that fails (a socket or an
// API that does not answer) is tried again next interval; a signal that
// could not be read for more than half the window, or not once, fails the
// watch with its last error, since it was not watched. A *failure.Error
// other than throttling (a name that does not exist, credentials refused)
// fails it at once: waiting does not mend it.
func Run(ctx context.Context, w Window, signals []Signal) (Result, error) {
	if w.Length <= 0 || w.Interval <= 0 {
		return Result{}, fmt.Errorf("watch: window %s and interval %s must be positive", w.Length, w.Interval)
	}
	if len(signals) == 0 {
		return Result{}, errors.New("watch: no signal to watch")
	}
	sleep, now := w.Sleep, w.Now
	if sleep == nil {
		sleep = wait.Sleep
	}
	if now == nil {
		now = time.Now
	}
	progress := w.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	// Signals that work in the background (a probe) stop with the window.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	rs := make([]*reading, len(signals))
	for i, s := range signals {
		rs[i] = &reading{sig: s}
	}
	start := now()
	end := start.Add(w.Length)
	result := func() Result {
		r := Result{Elapsed: now().Sub(start), Passed: true}
		for _, x := range rs {
			rep := map[string]any{}
			for k, v := range x.sig.Report() {
				rep[k] = v
			}
			rep["name"], rep["readings"], rep["read_errors"] = x.sig.Name(), x.reads, x.errors
			if x.lastErr != nil {
				rep["last_read_error"] = x.lastErr.Error()
			}
			r.Signals = append(r.Signals, rep)
		}
		return r
	}
	fail := func(x *reading, msg string, err error) (Result, error) {
		r := result()
		r.Passed, r.Failed, r.Msg = false, x.sig, msg
		return r, &WindowError{Signal: x.sig.Name(), Elapsed: r.Elapsed, Length: w.Length, Msg: msg, Err: err}
	}

	for tick := 0; ; tick++ {
		at := now()
		final := !at.Before(end)
		readAll(ctx, rs, at)
		if err := context.Cause(ctx); err != nil {
			r := result()
			r.Passed = false
			return r, fmt.Errorf("the watch stopped after %.1f s of %s: %w", r.Elapsed.Seconds(), seconds(w.Length), err)
		}
		for _, x := range rs {
			if x.finding.Failed {
				return fail(x, x.finding.Msg, nil)
			}
			if x.fatal != nil {
				return fail(x, x.fatal.Error(), x.fatal)
			}
		}
		for _, x := range rs {
			if x.lastErr == nil {
				continue
			}
			// Not read once, or not for half the window: the signal
			// was not watched, and passing would claim it was.
			if x.reads == x.errors && final || !x.errSince.IsZero() && at.Sub(x.errSince) > w.Length/2 {
				return fail(x, fmt.Sprintf("could not be read for %.1f s (%d of %d readings failed); last error: %v",
					at.Sub(x.errSince).Seconds(), x.errors, x.reads, x.lastErr), x.lastErr)
			}
		}
		if final {
			return result(), nil
		}
		progress("watching %s: %.0f s of %s passed", names(signals), at.Sub(start).Seconds(), seconds(w.Length))
		next := start.Add(time.Duration(tick+1) * w.Interval)
		if next.After(end) {
			next = end
		}
		if d := next.Sub(now()); d > 0 {
			if err := sleep(ctx, d); err != nil {
				r := result()
				r.Passed = false
				return r, fmt.Errorf("the watch stopped after %.1f s of %s: %w", r.Elapsed.Seconds(), seconds(w.Length), err)
			}
		}
	}
}

// readAll takes one reading of every signal at once: Start until a signal
// has started, Check after.
func readAll(ctx context.Context, rs []*reading, at time.Time) {
	var wg sync.WaitGroup
	for _, x := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.finding = Finding{}
			var err error
			if x.started {
				x.finding, err = x.sig.Check(ctx)
			} else if err = x.sig.Start(ctx); err == nil {
				x.started = true
			}
			x.reads++
			if err != nil {
				x.errors++
				x.lastErr = err
				if x.errSince.IsZero() {
					x.errSince = at
				}
				var fe *failure.Error
				if errors.As(err, &fe) && fe.Code != failure.Throttled {
					x.fatal = err
				}
				x.finding = Finding{}
				return
			}
			x.lastErr, x.errSince = nil, time.Time{}
		}()
	}
	wg.Wait()
}

func names(signals []Signal) string {
	s := ""
	for i, x := range signals {
		if i > 0 {
			s += "; "
		}
		s += x.Name()
	}
	return s
}
