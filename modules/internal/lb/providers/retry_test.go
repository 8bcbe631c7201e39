package providers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
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
			if out["failed"] != true || lbtest.Get(out, "failure", "code") != c.failCode || !strings.Contains(out["msg"].(string), "internal server error") {
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
	if out["failed"] != true || lbtest.Get(out, "failure", "code") != "timeout" {
		t.Fatalf("want a timeout: %s", raw)
	}
	if !strings.Contains(msg, "last observed: target group web-tg: registered, unhealthy") || strings.Contains(msg, "deadline exceeded") {
		t.Errorf("timeout message does not carry the last real observation: %s", msg)
	}
}

// TestLbsimDrainMeetsKilledRunsAction: a playbook killed mid-drain leaves
// its remove_target action running on the load balancer. The re-run's
// lb_drain still sees the target, is answered 423 locked, retries, and then
// finds the target gone (not_found): that is a finished drain, not an error.
func TestLbsimDrainMeetsKilledRunsAction(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim")
	}
	hosts := simtest.Hosts(2)
	_, port := simtest.Backends(t, hosts...)
	lbc := sim.LoadBalancer{ID: 1, Name: "web-lb", Services: []sim.Service{{Protocol: "http", DestinationPort: port,
		HealthCheck: sim.HealthCheck{Protocol: "http", Port: port, Interval: sim.Duration(200 * time.Millisecond),
			Timeout: sim.Duration(time.Second), Retries: 2, HTTP: &sim.HealthCheckHTTP{Path: "/healthz"}}}}}
	cfg := &sim.Config{Hetzner: sim.Hetzner{Token: simToken, ActionDelay: sim.Duration(1500 * time.Millisecond)}}
	cfg.Hetzner.LoadBalancers = []sim.LoadBalancer{lbc}
	simtest.AddTargets(cfg, hosts)
	s := simtest.Start(t, cfg)
	ep := s.Endpoints()
	simtest.WaitHealthy(t, s, 10*time.Second)

	// The killed run's module: its action started, nobody waits for it.
	req, _ := http.NewRequest(http.MethodPost, ep.HetznerAPI+"/load_balancers/1/actions/remove_target",
		strings.NewReader(`{"type":"server","server":{"id":101}}`))
	req.Header.Set("Authorization", "Bearer "+simToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("remove_target: status %d", resp.StatusCode)
	}

	out, raw := realRun(t, "lb_drain", map[string]any{"provider": "hetzner", "api_token": simToken, "endpoint": ep.HetznerAPI,
		"load_balancer": "web-lb", "target": "app-1", "timeout": 20})
	if out["failed"] == true {
		t.Fatalf("the re-run's drain failed: %s", raw)
	}
	api := s.Counts().API
	if n := api["hetzner POST /load_balancers/{id}/actions/remove_target"]; n < 3 {
		t.Errorf("remove_target called %d times, want the killed run's, a locked one and the retry: %v", n, api)
	}
	if st := s.State().Hetzner.LoadBalancers[0]; len(st.Targets) != 1 {
		t.Errorf("targets after the drain: %+v, want app-2 only", st.Targets)
	}
}
