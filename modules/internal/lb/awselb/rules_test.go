package awselb

import (
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

func state(health lb.Health, reason string) lb.State {
	st := lb.State{Registered: true, Health: map[string]lb.Health{"80": health}}
	if reason != "" {
		st.Reasons = map[string]string{"80": reason}
	}
	return st
}

func TestDrained(t *testing.T) {
	p := &Pool{name: "web"}
	for health, want := range map[lb.Health]bool{lb.StateUnused: true, lb.StateDraining: false, lb.StateHealthy: false} {
		if got := p.Drained(state(health, "")); got != want {
			t.Errorf("Drained(%s) = %v, want %v", health, got, want)
		}
	}
}

func TestJudge(t *testing.T) {
	p := &Pool{name: "web"}
	tg := lb.Target{Type: lb.TypeInstance, ID: "i-1"}
	for _, tc := range []struct {
		prev, st lb.State
		want     wait.Outcome
		msg      string
	}{
		{state(lb.StateInitial, ""), state(lb.StateInitial, "Elb.RegistrationInProgress"), wait.Retry, ""},
		{state(lb.StateInitial, ""), state(lb.StateUnhealthy, "Target.Timeout"),
			wait.Failure, "target i-1 turned unhealthy in target group web on port 80 (Target.Timeout); the load balancer's health check fails: check the application and the group's health check settings"},
		// Unhealthy before the register, still unhealthy: no news yet.
		{state(lb.StateUnhealthy, ""), state(lb.StateUnhealthy, "Target.Timeout"), wait.Retry, ""},
		{state(lb.StateUnused, ""), state(lb.StateUnused, "Target.NotRegistered"), wait.Retry, ""},
		{state(lb.StateInitial, ""), state(lb.StateUnused, "Target.InvalidState"),
			wait.Failure, "target i-1 is registered in target group web but unused on port 80 (Target.InvalidState); it will not become healthy until that is fixed"},
		{state(lb.StateInitial, ""), state(lb.StateUnused, ""),
			wait.Failure, "target i-1 is registered in target group web but unused on port 80 (no reason given); it will not become healthy until that is fixed"},
	} {
		v := p.Judge(tg, tc.prev, tc.st)
		if v.Outcome != tc.want || v.Msg != tc.msg {
			t.Errorf("Judge(%v -> %v) = %v %q, want %v %q", tc.prev.Health, tc.st, v.Outcome, v.Msg, tc.want, tc.msg)
		}
	}
	if !p.ChecksLate() {
		t.Error("ChecksLate() = false: a register would check a target that cannot be healthy yet")
	}
}
