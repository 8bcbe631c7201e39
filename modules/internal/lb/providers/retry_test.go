package providers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// TestLbsimHetznerServerErrors: 500 and 503 answers are retried a few times
// (hcloud-go retries neither), reads in the transport and target actions in
// the pool; an outage that outlasts the retries fails the module with the
// API's code instead of hanging until the timeout.
func TestLbsimHetznerServerErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim")
	}
	w := startWorld(t)
	cases := []struct {
		name   string
		module string
		faults sim.Faults
		// failCode is the expected failure code; empty for success.
		failCode string
	}{
		{"remove_target answered 503 twice", "lb_drain",
			sim.Faults{Hetzner: sim.APIFaults{FailNext: 2, FailCode: "unavailable", Operations: []string{"remove_target"}}}, ""},
		{"action polls answered 500 three times", "lb_register",
			sim.Faults{Hetzner: sim.APIFaults{FailNext: 3, FailCode: "server_error", Operations: []string{"actions"}}}, ""},
		{"every read answered 500", "lb_drain",
			sim.Faults{Hetzner: sim.APIFaults{ErrorRate: 1, ErrorStatus: 500, Operations: []string{"GET /load_balancers"}}}, "server_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := w.sim.SetFaults(c.faults); err != nil {
				t.Fatal(err)
			}
			defer w.sim.SetFaults(sim.Faults{})
			start := time.Now()
			out, raw := realRun(t, c.module, w.args("hetzner", 0, nil))
			took := time.Since(start)
			if c.failCode == "" {
				if out["failed"] == true {
					t.Fatalf("failed after %s: %s", took, raw)
				}
				if f := w.sim.Faults(); f.Hetzner.FailNext != 0 {
					t.Errorf("fault not consumed (%d left): the test did not test", f.Hetzner.FailNext)
				}
				return
			}
			if out["failed"] != true || get(out, "failure", "code") != c.failCode || !strings.Contains(out["msg"].(string), "internal server error") {
				t.Errorf("want a failure with code %s naming the API's message: %s", c.failCode, raw)
			}
			if took > 20*time.Second {
				t.Errorf("took %s to give up on a lasting 500, want the retries' ~8s", took)
			}
		})
	}
}

// TestLbsimTimeoutKeepsObservation: the waiter's last check lands on the
// deadline, which cuts its read short; the timeout message must still say
// what the load balancer last reported, not "context deadline exceeded".
func TestLbsimTimeoutKeepsObservation(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim")
	}
	w := startWorld(t)
	w.backends[1].SetHealthy(false)
	simtest.Eventually(t, 5*time.Second, "app-2 unhealthy", func() bool { return w.healthyCount("aws") == 2 })
	defer w.backends[1].SetHealthy(true)
	if err := w.sim.SetFaults(sim.Faults{AWS: sim.APIFaults{Latency: sim.Duration(700 * time.Millisecond), Operations: []string{"DescribeTargetHealth"}}}); err != nil {
		t.Fatal(err)
	}
	defer w.sim.SetFaults(sim.Faults{})
	out, raw := realRun(t, "lb_register", w.args("aws", 1, map[string]any{"timeout": 4}))
	msg, _ := out["msg"].(string)
	if out["failed"] != true || get(out, "failure", "code") != "timeout" {
		t.Fatalf("want a timeout: %s", raw)
	}
	if !strings.Contains(msg, "last observed: target group web-tg: registered, unhealthy") || strings.Contains(msg, "deadline exceeded") {
		t.Errorf("timeout message does not carry the last real observation: %s", msg)
	}
}
