package lb

import (
	"context"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// register puts the target into rotation: method remove registers it,
// method health removes health_file and waits for the health checks.
type register struct{}

// A registration finds out by itself that a target is unknown, unless in
// check mode, where nothing is called.
func (register) checksKnown(checkMode bool) bool { return checkMode }

func (register) healthFile(exists bool) (makeFile, dropFile bool) { return false, exists }

func (register) readsDelay() bool { return false }

func (register) guardsCapacity() bool { return false }

func (register) plan(s *runState) error {
	if s.a.restore != nil {
		return s.planRestore()
	}
	for _, pr := range s.pools {
		st := pr.before
		if st.Registered && st.AllPorts(StateHealthy) {
			pr.done = true
			continue
		}
		if s.a.Method == MethodHealth {
			if !st.Registered {
				return failure.Errorf(s.provider, failure.TargetUnknown, pr.label(), nil,
					"target %s is not a target of %s; method: health only waits for the health checks: add the target with method: remove, or add it to the load balancer first",
					s.target, pr.label())
			}
			continue
		}
		if !st.Registered || st.AllPorts(StateDraining) {
			t := s.target
			t.Port = s.a.TargetPort
			pr.calls = append(pr.calls, t)
		}
	}
	return nil
}

func (register) call(ctx context.Context, s *runState, p Pool, t Target) error {
	return p.Register(ctx, t, s.restoreOpts(p, t))
}

func (register) took(st State) bool { return st.Registered && !st.AllPorts(StateDraining) }

func (register) verb() string { return "registering in" }

func (register) summary(t Target, pools string) string {
	return "registered " + t.String() + " in " + pools
}

func (register) goal(Args) string { return "healthy" }

// accept is the done-check: healthy on every port; anything else is up to
// the pool's HealthJudge, and without one a wait goes on.
func (register) accept(s *runState, pr *poolRun, st State) (wait.Outcome, string) {
	if st.Registered && st.AllPorts(StateHealthy) {
		return wait.Success, ""
	}
	if ct, ok := pr.pool.(CheckTimer); ok && st.Registered {
		if msg := pr.fails.observe(s.a.FailAfterChecks, ct, s.target, pr.label(), s.actStart, s.now(), st); msg != "" {
			return wait.Failure, msg
		}
	}
	j, ok := pr.pool.(HealthJudge)
	if !st.Registered || !ok {
		return wait.Retry, ""
	}
	v := j.Judge(s.target, pr.prev, st)
	if v.Outcome == wait.Failure && v.Checks && s.a.FailAfterChecks == 0 {
		return wait.Retry, "" // fail_after_checks: 0 waits for the timeout
	}
	if v.Outcome == wait.Success && v.Msg != "" {
		s.m.Warn("%s", v.Msg)
		return wait.Success, ""
	}
	return v.Outcome, v.Msg
}

// waitOptions skips the wait's first check where every pool asks for it.
func (register) waitOptions(s *runState) []wait.Option {
	for _, pr := range s.pools {
		if l, ok := pr.pool.(LateChecker); !ok || !l.ChecksLate() {
			return nil
		}
	}
	return []wait.Option{wait.WithoutFirstCheck()}
}

func (register) stuck() string { return "not healthy" }

func (register) hint(*runState) string {
	return "the target does not pass the load balancer's health check: check the application and the health check's port and path, or raise timeout"
}

func (register) predict(_ Args, before State) State {
	after := before
	after.Health, after.Reasons = map[string]Health{}, nil
	after.Registered = true
	for port := range before.Health {
		after.Health[port] = StateHealthy
	}
	return after
}

// report lists, with restore, the registrations made (in check mode, to
// be made).
func (register) report(s *runState, data map[string]any) {
	if s.a.restore != nil {
		data["restored"] = registrationMaps(s.restored())
	}
}
