package haproxymaint

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// firstLook is the first delay of a wait; delays double up to interval.
const firstLook = 20 * time.Millisecond

// waitFor polls "show stat" for up to maxWait until every target is drained
// (drain, maint) or UP (ready), and applies shutdown_sessions on timeout.
func waitFor(ctx context.Context, m *ansible.Module, c *haproxy.Client, targets []*target, want haproxy.AdminState, a args, maxWait time.Duration) (time.Duration, error) {
	start := time.Now()
	ff := failFast{after: a.FailAfterChecks, every: ansible.Seconds(a.CheckInterval)}
	for _, t := range targets {
		ff.start(t, start)
	}
	var last map[string]haproxy.Stat
	check := func(ctx context.Context) (wait.Outcome, string, error) {
		stats, err := statsByKey(ctx, c)
		if err != nil {
			var se *haproxy.SocketError
			if errors.As(err, &se) {
				return wait.Retry, "", err // HAProxy reloading: try again
			}
			return wait.Failure, "", err
		}
		last = stats
		var pending []string
		for _, t := range targets {
			s, ok := stats[t.key()]
			if !ok {
				return wait.Failure, "", fmt.Errorf("%s disappeared from `show stat` while waiting (HAProxy reloaded with another configuration?)", t.key())
			}
			if t.done {
				continue
			}
			ok, why, err := reached(t, s, want)
			if err != nil {
				return wait.Failure, why, err
			}
			if ok {
				t.done, t.waited = true, time.Since(start)
				continue
			}
			if want == haproxy.StateReady {
				if err := ff.observe(t, s, time.Now()); err != nil {
					return wait.Failure, why, err
				}
			}
			pending = append(pending, why)
		}
		observed := strings.Join(pending, "; ")
		if len(pending) == 0 {
			return wait.Success, "", nil
		}
		m.Progress("%s set to %s, waiting: %s", keys(targets), want, observed)
		return wait.Retry, observed, nil
	}
	// The runtime API is a local socket and cheap to ask: look again after
	// 20 ms, then back off to interval, so a server left with a few
	// short requests is done within tens of milliseconds.
	interval := ansible.Seconds(a.Interval)
	_, err := wait.New(check, wait.WithDelay(min(firstLook, interval), interval)).Wait(ctx, maxWait)
	elapsed := time.Since(start)
	var te *wait.TimeoutError
	switch {
	case err == nil:
		return elapsed, nil
	case errors.As(err, &te) && want != haproxy.StateReady && a.ShutdownSessions != shutdownNever:
		var cut []string
		for _, t := range targets {
			if t.done {
				continue
			}
			if err := c.ShutdownSessions(ctx, t.st.Backend, t.st.Name); err != nil {
				return elapsed, fail(err, t.key())
			}
			t.cut = true
			s := last[t.key()]
			cut = append(cut, fmt.Sprintf("%s (%s, %d queued)", t.key(), plural(s.Sessions, "session"), s.Queued))
		}
		m.Warn("sessions still open after %ds were shut down (shutdown_sessions: on_timeout): %s", a.Timeout, strings.Join(cut, ", "))
		// Give HAProxy a moment to close them so "after" shows the result.
		waitSessionsGone(ctx, c, targets)
		return time.Since(start), nil
	case errors.As(err, &te):
		return elapsed, timeoutError(targets, last, want, a)
	}
	var fe *wait.FailureError
	if errors.As(err, &fe) {
		return elapsed, fail(fe.Unwrap(), "")
	}
	return elapsed, err
}

// reached says whether t is where the task wants it, or why not.
func reached(t *target, s haproxy.Stat, want haproxy.AdminState) (bool, string, error) {
	if want != haproxy.StateReady {
		if s.Sessions == 0 && s.Queued == 0 {
			return true, "", nil
		}
		return false, fmt.Sprintf("%s has %s, %d queued", t.key(), plural(s.Sessions, "session"), s.Queued), nil
	}
	switch {
	case s.Up():
		return true, "", nil
	case s.InMaint():
		// Someone else put it back in maintenance, or it follows a tracked
		// server that is in maintenance: it will not come up by waiting.
		return false, "", fmt.Errorf("%s is %s while waiting for it to come UP; if it tracks another server, make that one ready", t.key(), s.Status)
	}
	return false, fmt.Sprintf("%s is %s%s", t.key(), s.Status, checkText(s)), nil
}

func checkText(s haproxy.Stat) string {
	if s.CheckStatus == "" {
		return ""
	}
	switch {
	case s.CheckDesc != "" && s.CheckInfo != "":
		return fmt.Sprintf(", last check %s: %s (%s)", s.CheckStatus, s.CheckDesc, s.CheckInfo)
	case s.CheckDesc != "":
		return fmt.Sprintf(", last check %s: %s", s.CheckStatus, s.CheckDesc)
	}
	return ", last check " + s.CheckStatus
}

func waitSessionsGone(ctx context.Context, c *haproxy.Client, targets []*target) {
	check := func(ctx context.Context) (wait.Outcome, string, error) {
		stats, err := statsByKey(ctx, c)
		if err != nil {
			return wait.Retry, "", err
		}
		for _, t := range targets {
			if stats[t.key()].Sessions > 0 {
				return wait.Retry, "", nil
			}
		}
		return wait.Success, "", nil
	}
	wait.New(check, wait.WithDelay(20*time.Millisecond, 100*time.Millisecond)).Wait(ctx, 2*time.Second)
}

func timeoutError(targets []*target, last map[string]haproxy.Stat, want haproxy.AdminState, a args) error {
	var parts []string
	for _, t := range targets {
		if t.done {
			continue
		}
		s := last[t.key()]
		if want == haproxy.StateReady {
			parts = append(parts, fmt.Sprintf("%s is %s%s", t.key(), s.Status, checkText(s)))
		} else {
			parts = append(parts, fmt.Sprintf("%s still has %s and %d queued", t.key(), plural(s.Sessions, "session"), s.Queued))
		}
	}
	var msg string
	if want == haproxy.StateReady {
		msg = fmt.Sprintf("not UP after %ds: %s. It gets no traffic until its health check passes; check that the application listens on the server's address, or raise timeout",
			a.Timeout, strings.Join(parts, "; "))
	} else {
		msg = fmt.Sprintf("not drained after %ds: %s. The server stays in %s; raise timeout, or set shutdown_sessions: on_timeout to cut the remaining sessions",
			a.Timeout, strings.Join(parts, "; "), want)
	}
	return failed(&failure.Error{Provider: provider, Code: failure.Timeout, Resource: keys(targets), Msg: msg})
}
