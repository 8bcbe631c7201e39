package providers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// TestLbsimRegisterFailsFast registers a drained host whose health check
// fails, through lbsim's Hetzner API: the register fails once the port
// stayed unhealthy past the first pass of checks, the retries a recovery
// takes and fail_after_checks, naming the port and lbsim's reason, long
// before the timeout. A host that turns healthy after the first pass (a
// slow boot) is not failed. With fail_after_checks: 0, AWS's fast fail on
// unhealthy waits for the timeout instead.
func TestLbsimRegisterFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim: a few seconds of real health checks")
	}
	const failAfter = 2
	w := startWorld(t)
	// lbsim reports the 200 ms check interval and timeout as the API's
	// whole seconds, 1 s each; retries 2.
	const interval, checkTimeout, retries = time.Second, time.Second, 2
	firstPass := interval + checkTimeout
	failsAt := firstPass + (retries-1+failAfter)*interval

	drain := func() {
		t.Helper()
		if out, raw := realRun(t, "lb_drain", w.args("hetzner", 0, nil)); out["failed"] != false {
			t.Fatalf("drain: %s", raw)
		}
	}
	register := func(extra map[string]any) (map[string]any, string, time.Duration) {
		t.Helper()
		extra["fail_after_checks"] = failAfter
		extra["interval"] = 0.5 // polls at most half a second apart
		out, raw := realRun(t, "lb_register", w.args("hetzner", 0, extra))
		waited, _ := out["waited"].(float64)
		return out, raw, time.Duration(waited * float64(time.Second))
	}

	drain()
	w.backends[0].SetHealthy(false)
	out, raw, waited := register(map[string]any{})
	msg, _ := out["msg"].(string)
	if out["failed"] != true || lbtest.Get(out, "failure", "code") != "unhealthy" ||
		!strings.Contains(msg, "failed 2 health checks in a row in load balancer "+simtest.LBName+" on port") || !strings.Contains(msg, "unexpected_http_status") {
		t.Fatalf("never healthy: want an unhealthy failure naming the port and reason, got %s", raw)
	}
	// One check interval more covers the polling.
	if waited < failsAt || waited > failsAt+interval {
		t.Errorf("never healthy failed after %s, want between %s and %s (timeout 30s)", waited, failsAt, failsAt+interval)
	}
	t.Logf("never healthy: failed after %s: %s", waited, msg)

	// A slow boot: unhealthy through the first pass, healthy well before
	// fail_after_checks would be reached.
	drain()
	w.backends[0].SetHealthy(false)
	go func() {
		time.Sleep(failsAt - 3*interval/2)
		w.backends[0].SetHealthy(true)
	}()
	out, raw, waited = register(map[string]any{})
	if out["failed"] != false {
		t.Fatalf("slow boot failed: %s", raw)
	}
	t.Logf("slow boot: healthy after %s", waited)

	// AWS fails on unhealthy as soon as the group reports it; 0 waits.
	w.backends[0].SetHealthy(false)
	if out, raw := realRun(t, "lb_drain", w.args("aws", 0, map[string]any{"min_healthy": 0})); out["failed"] != false {
		t.Fatalf("aws drain: %s", raw)
	}
	out, raw = realRun(t, "lb_register", w.args("aws", 0, map[string]any{"fail_after_checks": 0, "timeout": 4}))
	if lbtest.Get(out, "failure", "code") != "timeout" {
		t.Errorf("aws, fail_after_checks 0: want a timeout, got %s", raw)
	}
}
