package lb_test

import (
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb"
)

func TestDrainRemovesAndWaits(t *testing.T) {
	p := &fakePool{name: "web-lb", states: [][]lb.Member{
		{member("1", lb.StateHealthy), member("2", lb.StateHealthy)},
		{member("1", lb.StateHealthy), member("2", lb.StateHealthy)}, // still listed at the first check
		{member("2", lb.StateHealthy)},
	}}
	res := runFake(t, true, nil, p)
	if res["failed"] != false || res["changed"] != true {
		t.Fatalf("failed=%v changed=%v: %v", res["failed"], res["changed"], res)
	}
	wantCalls(t, p, "deregister 1")
	if after := afterState(t, res, 0); after["registered"] != false {
		t.Errorf("after = %v, want not registered", after)
	}
	if p.reads != 3 {
		t.Errorf("%d reads of the pool, want 3 (lookup, two checks)", p.reads)
	}
}

func TestDrainAlreadyGone(t *testing.T) {
	p := &fakePool{name: "web-lb", states: [][]lb.Member{{member("2", lb.StateHealthy)}}}
	res := runFake(t, true, nil, p)
	if res["failed"] != false || res["changed"] != false {
		t.Fatalf("failed=%v changed=%v: %v", res["failed"], res["changed"], res)
	}
	wantCalls(t, p)
}

func TestDrainMinHealthyRefuses(t *testing.T) {
	p := &fakePool{name: "web-lb", states: [][]lb.Member{{member("1", lb.StateHealthy), member("2", lb.StateUnhealthy)}}}
	res := runFake(t, true, map[string]any{"min_healthy": 1}, p)
	if failureCode(res) != "min_healthy" {
		t.Fatalf("failure code %q, want min_healthy: %v", failureCode(res), res)
	}
	if msg := res["msg"].(string); !strings.Contains(msg, "load balancer web-lb has 0 other healthy targets (of 1)") {
		t.Errorf("msg = %q", msg)
	}
	wantCalls(t, p)
}

// A pool's DrainJudge decides whether a listed target counts as drained.
func TestDrainJudgeCountsAsDrained(t *testing.T) {
	for _, unusedDrained := range []bool{true, false} {
		p := &fakePool{name: "web-lb", states: [][]lb.Member{
			{member("1", lb.StateUnused), member("2", lb.StateHealthy)},
			{member("2", lb.StateHealthy)},
		}}
		jp := &judgedPool{fakePool: p, drained: func(st lb.State) bool { return unusedDrained && st.AllPorts(lb.StateUnused) }}
		res := runFake(t, true, nil, jp)
		if res["failed"] != false || res["changed"] != !unusedDrained {
			t.Errorf("unused drained=%v: failed=%v changed=%v", unusedDrained, res["failed"], res["changed"])
		}
		if unusedDrained {
			wantCalls(t, p)
		} else {
			wantCalls(t, p, "deregister 1")
		}
	}
}

func TestDrainCheckModePredicts(t *testing.T) {
	for method, want := range map[string]map[string]any{
		"remove": {"registered": false, "health": map[string]any{}},
		"health": {"registered": true, "health": map[string]any{"80": "unhealthy"}},
	} {
		p := &fakePool{name: "web-lb", states: [][]lb.Member{{member("1", lb.StateHealthy), member("2", lb.StateHealthy)}}}
		res := runFake(t, true, map[string]any{"method": method, "_ansible_check_mode": true}, p)
		after := afterState(t, res, 0)
		if res["changed"] != true || after["registered"] != want["registered"] || len(after["health"].(map[string]any)) != len(want["health"].(map[string]any)) {
			t.Errorf("method %s: changed=%v after=%v, want %v", method, res["changed"], after, want)
		}
		if h := want["health"].(map[string]any)["80"]; h != nil && after["health"].(map[string]any)["80"] != h {
			t.Errorf("method %s: after health %v, want %v", method, after["health"], want["health"])
		}
		wantCalls(t, p)
		if p.reads != 1 {
			t.Errorf("method %s: %d reads in check mode, want 1", method, p.reads)
		}
	}
}

func TestDrainTimeoutHint(t *testing.T) {
	p := &fakePool{name: "web-lb", states: [][]lb.Member{{member("1", lb.StateHealthy), member("2", lb.StateHealthy)}}}
	res := runFake(t, true, map[string]any{"timeout": 2}, p)
	msg, _ := res["msg"].(string)
	if failureCode(res) != "timeout" || !strings.Contains(msg, "target 1 still in rotation in load balancer web-lb after 2s (deregistered 1 from load balancer web-lb)") ||
		!strings.HasSuffix(msg, "the load balancer still lists the target; raise timeout or check the load balancer's actions") {
		t.Errorf("code %q, msg %q", failureCode(res), msg)
	}
}
