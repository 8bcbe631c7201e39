// Package wait polls a check until it reports success or failure, or a
// maximum wait passes. It is shaped like the aws-sdk-go-v2 waiters, with named
// outcomes, a failure acceptor and the last observed state in the timeout
// error.
package wait

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Outcome is what a check concluded.
type Outcome int

// Outcomes of a check.
const (
	Retry Outcome = iota
	Success
	Failure
)

// Check observes the state once. observed describes it in words for the
// user ("draining, 2 sessions"). A non-nil error with Retry is transient and
// is remembered as the last observation; with Failure it ends the wait.
type Check func(ctx context.Context) (o Outcome, observed string, err error)

// Waiter polls a Check with exponential backoff and jitter.
type Waiter struct {
	check    Check
	minDelay time.Duration
	maxDelay time.Duration
	factor   float64
	sleep    func(ctx context.Context, d time.Duration) error
	now      func() time.Time
	jitter   func(d time.Duration) time.Duration
	checkAt  []time.Time
	// skipFirst leaves out the check at the start (WithoutFirstCheck).
	skipFirst bool
}

// Option configures a Waiter.
type Option func(*Waiter)

// WithDelay sets the first and the largest delay between checks.
func WithDelay(min, max time.Duration) Option {
	return func(w *Waiter) { w.minDelay, w.maxDelay = min, max }
}

// WithFactor sets how much each delay grows over the one before, up to the
// largest delay (default 2). A smaller factor checks more often early on, so
// a wait of a second or two ends closer to the state it waits for.
func WithFactor(f float64) Option {
	return func(w *Waiter) { w.factor = f }
}

// WithCheckAt makes a check land at each of these moments as well as on the
// schedule: a state known to change at a set time (AWS ends draining at the
// deregistration delay) is then seen at once, not up to the largest delay
// later. A sleep that would pass one of them is cut short to end on it, and
// the schedule goes on from where it was.
func WithCheckAt(at ...time.Time) Option {
	return func(w *Waiter) { w.checkAt = append(w.checkAt, at...) }
}

// WithoutFirstCheck leaves out the check at the start of the wait; the
// first one comes after the first delay, and the schedule is otherwise the
// same. For a state that cannot hold yet (a target registered a moment ago
// has passed no health check), the check at the start would only spend a
// request.
func WithoutFirstCheck() Option {
	return func(w *Waiter) { w.skipFirst = true }
}

// WithClock replaces time for tests: sleep and now.
func WithClock(sleep func(context.Context, time.Duration) error, now func() time.Time) Option {
	return func(w *Waiter) { w.sleep, w.now = sleep, now }
}

// WithoutJitter makes delays deterministic (tests, benchmarks).
func WithoutJitter() Option {
	return func(w *Waiter) { w.jitter = func(d time.Duration) time.Duration { return d } }
}

// New returns a Waiter with delays from 200 ms to 2 s by default.
func New(check Check, opts ...Option) *Waiter {
	w := &Waiter{
		check:    check,
		minDelay: 200 * time.Millisecond,
		maxDelay: 2 * time.Second,
		factor:   2,
		sleep:    Sleep,
		now:      time.Now,
		jitter: func(d time.Duration) time.Duration {
			// ±20 %, so parallel hosts do not poll in lockstep.
			return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
		},
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Result is what a wait saw.
type Result struct {
	Observed string        // the last observation
	Attempts int           // how many times the check ran
	Elapsed  time.Duration // from the start of Wait to its end
}

// TimeoutError is returned when maxWait passes before success.
type TimeoutError struct {
	MaxWait  time.Duration
	Observed string
	LastErr  error
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("still not done after %s", e.MaxWait.Round(time.Millisecond))
	if e.Observed != "" {
		msg += "; last observed: " + e.Observed
	}
	if e.LastErr != nil {
		msg += "; last error: " + e.LastErr.Error()
	}
	return msg
}

// FailureError is returned when a check reports Failure.
type FailureError struct {
	Observed string
	Err      error
}

func (e *FailureError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Observed
}

func (e *FailureError) Unwrap() error { return e.Err }

// ErrInvalidWait reports a misconfigured waiter.
var ErrInvalidWait = errors.New("wait: invalid configuration")

// Wait runs the check until Success, Failure or maxWait. The first check runs
// at once (unless WithoutFirstCheck); the last sleep is shortened so the
// final check lands at the deadline rather than past it.
func (w *Waiter) Wait(ctx context.Context, maxWait time.Duration) (Result, error) {
	if maxWait <= 0 {
		return Result{}, fmt.Errorf("%w: maximum wait must be > 0, got %s", ErrInvalidWait, maxWait)
	}
	if w.minDelay <= 0 || w.maxDelay < w.minDelay {
		return Result{}, fmt.Errorf("%w: delays must satisfy 0 < min (%s) <= max (%s)", ErrInvalidWait, w.minDelay, w.maxDelay)
	}
	if w.factor < 1 {
		return Result{}, fmt.Errorf("%w: delay factor must be >= 1, got %g", ErrInvalidWait, w.factor)
	}
	start := w.now()
	deadline := start.Add(maxWait)
	delay := w.minDelay
	var res Result
	var lastErr error
	// checkOnce runs the check and records what it saw; done reports
	// that the wait is over (with err on Failure).
	checkOnce := func() (done bool, err error) {
		res.Attempts++
		o, observed, cerr := w.check(ctx)
		if observed != "" {
			res.Observed = observed
		}
		res.Elapsed = w.now().Sub(start)
		switch o {
		case Success:
			return true, nil
		case Failure:
			return true, &FailureError{Observed: res.Observed, Err: cerr}
		}
		lastErr = cerr
		return false, nil
	}
	for first := true; ; first = false {
		if !(first && w.skipFirst) {
			if done, err := checkOnce(); done {
				return res, err
			}
		}
		if ctx.Err() != nil {
			return res, withObserved(context.Cause(ctx), res.Observed)
		}
		remaining := deadline.Sub(w.now())
		if remaining <= 0 {
			return res, &TimeoutError{MaxWait: maxWait, Observed: res.Observed, LastErr: lastErr}
		}
		d := min(w.jitter(delay), remaining)
		sleep := w.untilCheckAt(d)
		if err := w.sleep(ctx, sleep); err != nil {
			res.Elapsed = w.now().Sub(start)
			return res, withObserved(err, res.Observed)
		}
		if sleep < d {
			continue // an extra check: the schedule resumes where it was
		}
		delay = min(time.Duration(float64(delay)*w.factor), w.maxDelay)
	}
}

// untilCheckAt returns d, or less when a sleep of d would pass a checkAt
// moment: the time until the first such moment.
func (w *Waiter) untilCheckAt(d time.Duration) time.Duration {
	now := w.now()
	for _, at := range w.checkAt {
		if until := at.Sub(now); until > 0 && until < d {
			d = until
		}
	}
	return d
}

func withObserved(err error, observed string) error {
	if observed == "" {
		return err
	}
	return fmt.Errorf("%w (last observed: %s)", err, observed)
}

// Sleep waits d, or until ctx ends with its cause.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
