package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// TestRolloutFailsFast: app-2's new release answers the verify but fails
// HAProxy's health check (500 on /healthz) for good. With the role's
// default deploy_register_fail_after_checks and the harness's check
// interval (inter 200 ms), its register fails with HAProxy's reason soon
// after the first pass of checks instead of waiting out
// deploy_register_timeout, and the rollout stops there, losing nothing.
func TestRolloutFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rollout under load; skipped with -short")
	}
	const (
		inter     = 200 * time.Millisecond // default-server check inter 200 (haproxy.go)
		failAfter = 3                      // the role's default
		timeout   = 60
	)
	coll := ansibletest.Install(t)
	opts := Options{LB: "haproxy", Net: 45, Broken: map[string]string{"app-2": "unhealthy"},
		Vars: map[string]any{"deploy_register_timeout": timeout, "deploy_haproxy_check_interval": inter.Seconds()}}
	opts.Load.Clients, opts.Load.Pause = 20, 20*time.Millisecond
	ctx, s := setUp(t, coll, opts)
	r, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests, %d failed, exit %d, %.1fs", r.Requests, r.Failed, r.ExitCode, r.Elapsed)
	checkBotched("register", "L7STS/500")(t, s, r)

	// The register's own wait: the first pass, failAfter intervals, and
	// one more for the polling; far below the timeout.
	var waited float64
	var found bool
	for _, m := range r.StepResults("register_haproxy")["app-2"] {
		if msg, _ := m["msg"].(string); strings.Contains(msg, "L7STS/500") {
			waited, _ = m["waited"].(float64)
			found = true
			t.Logf("register of app-2 failed after %.2fs: %s", waited, msg)
		}
	}
	if !found {
		t.Fatalf("no register result of app-2 names L7STS/500: %v", r.StepResults("register_haproxy")["app-2"])
	}
	lo, hi := inter*(1+failAfter), inter*(1+failAfter+1)+time.Second
	if w := time.Duration(waited * float64(time.Second)); w < lo || w > hi {
		t.Errorf("register of app-2 failed after %s, want between %s and %s (deploy_register_timeout %ds)", w, lo, hi, timeout)
	}
}
