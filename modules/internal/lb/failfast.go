package lb

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// CheckTimer is implemented by pools whose API reports a verdict per port
// but no count of checks (Hetzner): a register counts a port's failed
// checks by the health check's timing, for fail_after_checks.
type CheckTimer interface {
	// CheckTiming is the health check of the service on port: its
	// interval, its timeout and its retries (how many passed checks turn
	// an unhealthy target healthy again). ok is false for an unknown port.
	CheckTiming(port int) (t CheckTiming, ok bool)
}

// CheckTiming is how a pool's health check runs on one port.
type CheckTiming struct {
	Interval time.Duration
	Timeout  time.Duration
	Retries  int
}

// failCount counts, for fail_after_checks, the checks a registering target
// failed in a row on each of its ports. Only the verdict is known, so an
// interval through which a port stays unhealthy counts as a failed check,
// beyond the retries intervals a recovering target stays unhealthy while
// it passes. The first pass of checks (one interval and timeout after the
// register) does not count; a port that is not unhealthy starts again.
type failCount struct {
	since map[string]time.Time // port -> start of its unhealthy streak
}

// observe counts st's unhealthy ports at now and, once a port has failed
// after (fail_after_checks; 0 = never) checks, returns the message that
// ends the wait.
func (f *failCount) observe(after int, ct CheckTimer, target Target, pool string, registered, now time.Time, st State) string {
	if after <= 0 {
		return ""
	}
	if f.since == nil {
		f.since = map[string]time.Time{}
	}
	ports := make([]string, 0, len(st.Health))
	for p := range st.Health {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	for _, p := range ports {
		n, _ := strconv.Atoi(p)
		timing, ok := ct.CheckTiming(n)
		if !ok || timing.Interval <= 0 || st.Health[p] != StateUnhealthy {
			delete(f.since, p)
			continue
		}
		from, seen := f.since[p]
		if !seen {
			from = now
			if first := registered.Add(timing.Interval + timing.Timeout); first.After(now) {
				from = first
			}
			f.since[p] = from
		}
		if now.Before(from) {
			continue
		}
		failed := int(now.Sub(from)/timing.Interval) - max(timing.Retries-1, 0)
		if failed < after {
			continue
		}
		return fmt.Sprintf("target %s failed %s in a row in %s on port %s (%s): unhealthy for %s after the first pass of checks, "+
			"%d health_check.interval (%s) more than the %d a recovering target stays unhealthy (retries %d); "+
			"check the application and the service's health check, or raise fail_after_checks (0 waits for the whole timeout)",
			target, plural(failed, "health check"), pool, p, orUnknown(st.Reasons[p]), now.Sub(from).Round(100*time.Millisecond),
			failed, timing.Interval, max(timing.Retries-1, 0), timing.Retries)
	}
	return ""
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
