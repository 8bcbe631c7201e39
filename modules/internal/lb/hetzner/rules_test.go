package hetzner

import (
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

func TestJudge(t *testing.T) {
	p := &Pool{name: "web-lb"}
	tg := lb.Target{Type: lb.TypeServer, ID: "42", Name: "app-1"}
	noHealth := lb.State{Registered: true, Health: map[string]lb.Health{}}
	unhealthy := lb.State{Registered: true, Health: map[string]lb.Health{"80": lb.StateUnhealthy}}
	if v := p.Judge(tg, noHealth, noHealth); v.Outcome != wait.Success ||
		v.Msg != "load balancer web-lb reports no health for app-1 (42) (it has no services?); not waiting for health" {
		t.Errorf("no health: %v %q", v.Outcome, v.Msg)
	}
	// A new target is unhealthy until enough checks passed.
	if v := p.Judge(tg, lb.State{}, unhealthy); v.Outcome != wait.Retry || v.Msg != "" {
		t.Errorf("unhealthy: %v %q, want a retry", v.Outcome, v.Msg)
	}
}
