package lb

import (
	"context"
	"fmt"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// drain takes the target out of rotation: method remove deregisters it,
// method health makes it fail its health check (health_file).
type drain struct{}

// An absent target may be unknown: a drain says so rather than succeed.
func (drain) checksKnown(bool) bool { return true }

func (drain) healthFile(exists bool) (makeFile, dropFile bool) { return !exists, false }

func (drain) readsDelay() bool { return true }

// plan may run again after a wait for capacity, on a fresh read.
func (d drain) plan(s *runState) error {
	health := s.a.Method == MethodHealth
	for _, pr := range s.pools {
		st := pr.before
		pr.calls, pr.done = nil, false
		if d.drained(s, pr, st) {
			pr.done = true
			continue
		}
		if via := selectorOf(s.target, pr.members); !health && via != "" {
			return failure.Errorf(s.provider, failure.Unsupported, pr.label(), nil,
				"target %s is in %s through its %s, and targets from a label selector cannot be removed on their own: drain it with method: health (and health_file), or change the server's labels",
				s.target, pr.label(), via)
		}
		if !health {
			for _, mem := range pr.members {
				if s.target.Matches(mem.Target) && mem.Via == "" && !allStates(mem, StateDraining) {
					pr.calls = append(pr.calls, mem.Target)
				}
			}
		}
	}
	return nil
}

// A drain keeps min_healthy: see capacity.go.
func (drain) guardsCapacity() bool { return true }

// drained is the done-check: method remove wants the target gone (or what
// the pool's DrainJudge counts as drained), method health wants it
// unhealthy on every service.
func (drain) drained(s *runState, pr *poolRun, st State) bool {
	if !st.Registered {
		return true
	}
	if s.a.Method == MethodHealth {
		return st.AllPorts(StateUnhealthy)
	}
	j, ok := pr.pool.(DrainJudge)
	return ok && j.Drained(st)
}

func selectorOf(t Target, members []Member) string {
	for _, m := range members {
		if m.Via != "" && t.Matches(m.Target) {
			return m.Via
		}
	}
	return ""
}

func allStates(m Member, state Health) bool {
	if len(m.Health) == 0 {
		return false
	}
	for _, h := range m.Health {
		if h.State != state {
			return false
		}
	}
	return true
}

func (drain) call(ctx context.Context, _ *runState, p Pool, t Target) error {
	return p.Deregister(ctx, t)
}

func (drain) took(st State) bool { return !st.Registered || st.AllPorts(StateDraining) }

func (drain) verb() string { return "deregistering from" }

func (drain) summary(t Target, pools string) string {
	return "deregistered " + t.String() + " from " + pools
}

func (drain) goal(a Args) string {
	if a.Method == MethodHealth {
		return "unhealthy on every service"
	}
	return "no longer registered"
}

func (d drain) accept(s *runState, pr *poolRun, st State) (wait.Outcome, string) {
	if d.drained(s, pr, st) {
		return wait.Success, ""
	}
	return wait.Retry, ""
}

func (drain) waitOptions(*runState) []wait.Option { return nil }

func (drain) stuck() string { return "still in rotation" }

func (drain) hint(s *runState) string {
	var delay time.Duration
	timed, read := false, false
	for _, pr := range s.pools {
		_, ok := pr.pool.(DrainTimer)
		timed = timed || ok
		if pr.delayRead && !pr.done {
			delay, read = max(delay, pr.drainDelay), true
		}
	}
	switch {
	case timed:
		hint := "raise timeout above the group's deregistration_delay"
		if read {
			hint += fmt.Sprintf(" (%ds)", int(delay/time.Second))
		}
		return hint + ", or lower the delay if long requests need not finish"
	case s.a.Method == MethodHealth:
		return "the health checks still pass: make sure the application fails its health check (health_file), and raise timeout above the checks' interval × retries"
	}
	return "the load balancer still lists the target; raise timeout or check the load balancer's actions"
}

func (drain) predict(a Args, before State) State {
	after := before
	after.Health, after.Reasons = map[string]Health{}, nil
	if a.Method != MethodHealth {
		after.Registered, after.Via = false, ""
		return after
	}
	for port := range before.Health {
		after.Health[port] = StateUnhealthy
	}
	return after
}

// report returns the registrations the drain found, for lb_register's
// restore option: taken away, or in check mode to be taken away.
func (drain) report(s *runState, data map[string]any) {
	data["restore"] = registrationMaps(s.found)
}
