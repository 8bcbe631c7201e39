package lb_test

import (
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

func TestRegisterWaitsHealthy(t *testing.T) {
	p := &fakePool{name: "web-lb", states: [][]lb.Member{
		{member("2", lb.StateHealthy)},
		{member("1", lb.StateUnhealthy), member("2", lb.StateHealthy)}, // no verdict without a HealthJudge
		{member("1", lb.StateHealthy), member("2", lb.StateHealthy)},
	}}
	res := runFake(t, false, nil, p)
	if res["failed"] != false || res["changed"] != true {
		t.Fatalf("failed=%v changed=%v: %v", res["failed"], res["changed"], res)
	}
	wantCalls(t, p, "register 1")
	if h := afterState(t, res, 0)["health"].(map[string]any); h["80"] != string(lb.StateHealthy) {
		t.Errorf("after health %v, want healthy", h)
	}
}

func TestRegisterAlreadyHealthy(t *testing.T) {
	p := &fakePool{name: "web-lb", states: [][]lb.Member{{member("1", lb.StateHealthy)}}}
	res := runFake(t, false, nil, p)
	if res["failed"] != false || res["changed"] != false {
		t.Fatalf("failed=%v changed=%v: %v", res["failed"], res["changed"], res)
	}
	wantCalls(t, p)
}

// A pool's HealthJudge ends the wait: a failure with its message, a
// success with its warning.
func TestRegisterHealthJudge(t *testing.T) {
	states := [][]lb.Member{{}, {member("1", lb.StateUnhealthy)}}
	fail := &judgedPool{fakePool: &fakePool{name: "web-lb", states: states}, judge: func(tg lb.Target, _, st lb.State) lb.Verdict {
		return lb.Verdict{Outcome: wait.Failure, Msg: "target " + tg.ID + " is " + string(st.Health["80"])}
	}}
	res := runFake(t, false, nil, fail)
	if failureCode(res) != "unhealthy" || res["msg"] != "target 1 is unhealthy" {
		t.Errorf("code %q, msg %q", failureCode(res), res["msg"])
	}
	warn := &judgedPool{fakePool: &fakePool{name: "web-lb", states: states}, judge: func(lb.Target, lb.State, lb.State) lb.Verdict {
		return lb.Verdict{Outcome: wait.Success, Msg: "not waiting"}
	}}
	res = runFake(t, false, nil, warn)
	if res["failed"] != false || !strings.Contains(strings.Join(strs(res["warnings"]), "\n"), "not waiting") {
		t.Errorf("failed=%v warnings=%v", res["failed"], res["warnings"])
	}
}

func TestRegisterCheckModePredicts(t *testing.T) {
	p := &fakePool{name: "web-lb", states: [][]lb.Member{{member("1", lb.StateDraining)}}}
	res := runFake(t, false, map[string]any{"_ansible_check_mode": true}, p)
	after := afterState(t, res, 0)
	if res["changed"] != true || after["registered"] != true || after["health"].(map[string]any)["80"] != string(lb.StateHealthy) {
		t.Errorf("changed=%v after=%v", res["changed"], after)
	}
	wantCalls(t, p)
}

func TestRegisterTimeoutHint(t *testing.T) {
	p := &fakePool{name: "web-lb", states: [][]lb.Member{{}, {member("1", lb.StateUnhealthy)}}}
	res := runFake(t, false, map[string]any{"timeout": 2}, p)
	msg, _ := res["msg"].(string)
	if failureCode(res) != "timeout" || !strings.Contains(msg, "target 1 not healthy in load balancer web-lb after 2s (registered 1 in load balancer web-lb)") ||
		!strings.HasSuffix(msg, "check the application and the health check's port and path, or raise timeout") {
		t.Errorf("code %q, msg %q", failureCode(res), msg)
	}
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		out = append(out, s.(string))
	}
	return out
}

// fail_after_checks: 0 turns a judge's failure on failed health checks
// (AWS's unhealthy) into waiting; other failures still end the wait.
func TestRegisterFailAfterChecksZero(t *testing.T) {
	states := [][]lb.Member{{}, {member("1", lb.StateUnhealthy)}}
	judged := func(checks bool) *judgedPool {
		return &judgedPool{fakePool: &fakePool{name: "web-tg", states: states}, judge: func(lb.Target, lb.State, lb.State) lb.Verdict {
			return lb.Verdict{Outcome: wait.Failure, Checks: checks, Msg: "target 1 turned unhealthy"}
		}}
	}
	cases := []struct {
		name   string
		checks bool
		after  int
		code   string
	}{
		{"checks, default", true, 3, "unhealthy"},
		{"checks, 0 waits", true, 0, "timeout"},
		{"not checks, 0 still fails", false, 0, "unhealthy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runFake(t, false, map[string]any{"timeout": 2, "fail_after_checks": tc.after}, judged(tc.checks))
			if got := failureCode(res); got != tc.code {
				t.Errorf("failure code %q, want %q: %v", got, tc.code, res["msg"])
			}
		})
	}
}
