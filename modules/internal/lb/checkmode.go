package lb

import (
	"fmt"
	"strings"
	"time"
)

// planMsg is check mode's msg: what a run would change in which pool, the
// wait after it, and where there is nothing to do. A role's dry run shows
// it as its plan.
func (s *runState) planMsg() string {
	if _, ok := s.act.(reserve); ok {
		return s.reservePlanMsg()
	}
	_, draining := s.act.(drain)
	t := s.target.Type + " " + s.target.String()
	var calls, pending, done, left []string
	for _, pr := range s.pools {
		label := pr.label()
		switch {
		case s.a.restore != nil && len(pr.restore) == 0:
			left = append(left, label)
			continue
		case pr.done:
			done = append(done, label)
			continue
		case draining && countsHealthy(pr.before):
			label += fmt.Sprintf(" (%d of its %d other targets healthy)", pr.before.HealthyOthers, max(pr.before.Targets-1, 0))
		}
		if len(pr.calls) > 0 {
			calls = append(calls, label)
		}
		pending = append(pending, label)
	}
	var do []string
	switch {
	case s.makeFile:
		do = append(do, "would create health_file "+s.a.HealthFile)
	case s.dropFile:
		do = append(do, "would remove health_file "+s.a.HealthFile)
	}
	if len(calls) > 0 {
		verb := "register %s in %s"
		if draining {
			verb = "deregister %s from %s"
		}
		do = append(do, "would "+fmt.Sprintf(verb, t, strings.Join(calls, ", ")))
	}
	switch {
	case draining && s.wouldWait:
		do = append(do, fmt.Sprintf("min_healthy %d does not allow it now: a run would first wait for capacity (wait_for_capacity)", s.a.MinHealthy))
	case draining && len(pending) > 0:
		do = append(do, fmt.Sprintf("min_healthy %d allows it", s.a.MinHealthy))
	}
	if len(pending) > 0 {
		w := fmt.Sprintf("wait up to %ds until %s is %s", int(s.planned/time.Second), t, s.act.goal(s.a))
		if len(do) == 0 {
			w = fmt.Sprintf("would %s in %s", w, strings.Join(pending, ", "))
		} else {
			w = "then " + w
		}
		do = append(do, w)
	}
	if len(done) > 0 {
		if draining {
			do = append(do, fmt.Sprintf("%s is out of rotation already in %s: nothing to drain there", t, strings.Join(done, ", ")))
		} else {
			do = append(do, fmt.Sprintf("%s is registered already in %s and healthy: nothing to register there", t, strings.Join(done, ", ")))
		}
	}
	if len(left) > 0 {
		do = append(do, fmt.Sprintf("restore has no entry for %s: left as it is there", strings.Join(left, ", ")))
	}
	return "check mode: " + strings.Join(do, "; ")
}
