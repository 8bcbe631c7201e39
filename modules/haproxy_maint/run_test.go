package haproxymaint

import (
	"context"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"

	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

func TestIdempotenceAndCheckMode(t *testing.T) {
	h, _, _ := twoApps(t, "check inter 200 rise 1 fall 1", haproxytest.Config{})
	drain := map[string]any{"socket": h.Socket, "server": "web1", "backend": "www", "state": "drain", "weight": "50%", "_ansible_diff": true}

	check := map[string]any{"_ansible_check_mode": true}
	for k, v := range drain {
		check[k] = v
	}
	res, _ := runModule(t, check)
	mustSucceed(t, res)
	if res["changed"] != true || h.ServerStat(t, "www", "web1")["status"] != "UP" {
		t.Errorf("check mode: changed=%v, status %q; want changed=true and nothing done", res["changed"], h.ServerStat(t, "www", "web1")["status"])
	}
	diff := res["diff"].(map[string]any)
	if b, a := diff["before"].(map[string]any)["www/web1"], diff["after"].(map[string]any)["www/web1"]; b.(map[string]any)["state"] != "ready" || a.(map[string]any)["state"] != "drain" {
		t.Errorf("check mode diff: %v", diff)
	}

	res, _ = runModule(t, drain)
	mustSucceed(t, res)
	row := backendRow(t, res, 0)
	if res["changed"] != true || row["admin_state_after"] != "drain" || row["weight_before"] != 1.0 || row["weight_after"] != 0.0 {
		// 50% of an initial weight of 1 is 0 in HAProxy's integer arithmetic.
		t.Errorf("apply: %v", res)
	}

	start := time.Now()
	res, _ = runModule(t, drain)
	mustSucceed(t, res)
	if res["changed"] != false {
		t.Errorf("re-apply changed=%v, want false: %v", res["changed"], backendRow(t, res, 0)["changes"])
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("re-apply took %s, want no waiting", d)
	}
	res, _ = runModule(t, check)
	if res["changed"] != false {
		t.Errorf("check mode after apply: changed=%v", res["changed"])
	}
}

// With wait: false the timeout is not checked and may be 0; the commands
// must still run, not meet a deadline that passed at the start.
func TestNoWaitZeroTimeout(t *testing.T) {
	h, _, _ := twoApps(t, "check inter 200 rise 1 fall 1", haproxytest.Config{})
	res, _ := runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "backend": "www", "state": "drain", "wait": false, "timeout": 0})
	mustSucceed(t, res)
	if row := backendRow(t, res, 0); res["changed"] != true || row["admin_state_after"] != "drain" {
		t.Errorf("wait: false, timeout: 0: changed=%v, admin state after %v; want drain", res["changed"], row["admin_state_after"])
	}
}

// The timeout option bounds the wait, counted from the wait, while step
// counts Plan's timeout from the module's start.
func TestPlanTimeout(t *testing.T) {
	spent := 10 * time.Second
	for _, tc := range []struct {
		a        args
		min, max time.Duration
	}{
		{args{Wait: true, Timeout: 60}, spent + time.Minute, spent + time.Minute + time.Minute/2},
		{args{Wait: false, Timeout: 0}, ansible.MaxSeconds * time.Second, ansible.MaxSeconds * time.Second},
	} {
		s := &maint{m: &ansible.Module{}, a: tc.a, start: time.Now().Add(-spent)}
		got, err := s.Plan(context.Background())
		if err != nil || got < tc.min || got > tc.max {
			t.Errorf("wait %v, timeout %d, %s spent: Plan gave %s, %v; want %s to %s", tc.a.Wait, tc.a.Timeout, spent, got, err, tc.min, tc.max)
		}
	}
}
