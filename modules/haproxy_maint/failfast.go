package haproxymaint

import (
	"fmt"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

// failFast counts a server's failed health checks while state: ready waits
// for it, so that fail_after_checks ends the wait early.
//
// HAProxy's runtime API counts no check of a DOWN server: chkfail only
// counts failures while the server is UP, and check_health stays 0 while
// every check fails (seen on 2.6.12: one poll every 200 ms of a server
// answering 500 showed no field change from one check to the next). So
// the count is of check intervals: each check_interval through which the
// last check stays failed, with no progress toward rise, is one failed
// check. The first interval after the register is the first pass of
// checks and is not counted; a passed check or progress toward rise
// ("DOWN 1/3") starts the count again.
type failFast struct {
	after int           // fail_after_checks; 0 = never fail early
	every time.Duration // check_interval
}

// start arms t's count when the wait starts at now.
func (f failFast) start(t *target, now time.Time) {
	t.countFrom = now.Add(f.every)
	t.checkHealth = -1
}

// observe counts t's failed checks at now from s, and returns an error
// once fail_after_checks are reached.
func (f failFast) observe(t *target, s haproxy.Stat, now time.Time) error {
	if f.after <= 0 {
		return nil
	}
	progress := t.checkHealth >= 0 && s.CheckHealth > t.checkHealth
	t.checkHealth = s.CheckHealth
	if !s.CheckFailed() || progress {
		// A pass seen before the first pass of checks is over may be
		// the last check before maintenance: it moves nothing.
		if now.After(t.countFrom) {
			t.countFrom = now
		}
		t.failed = 0
		return nil
	}
	if now.Before(t.countFrom) {
		return nil
	}
	t.failed = int(now.Sub(t.countFrom) / f.every)
	if t.failed < f.after {
		return nil
	}
	msg := fmt.Sprintf("server %s in backend %s failed %s in a row after the first pass of checks (one every %s, check_interval): last check %s, status %s. "+
		"It gets no traffic until a check passes: check the application and the backend's health check, or raise fail_after_checks (0 waits for the whole timeout)",
		t.st.Name, t.st.Backend, plural(t.failed, "health check"), f.every, s.CheckReason(), s.Status)
	return failed(&failure.Error{Provider: provider, Code: failure.Unhealthy, Resource: t.key(), Msg: msg})
}
