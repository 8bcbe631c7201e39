package providers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// twoLBs starts lbsim with two Hetzner load balancers over two servers,
// their actions taking actionDelay and their health checks every interval
// (timeout after timeout), and waits until all are healthy.
func twoLBs(t *testing.T, actionDelay, interval, timeout time.Duration) (*sim.Sim, []string, []string) {
	t.Helper()
	hosts := simtest.Hosts(2)
	_, port := simtest.Backends(t, hosts...)
	cfg := &sim.Config{Hetzner: sim.Hetzner{Token: simToken, ActionDelay: sim.Duration(actionDelay)}}
	lbs := []string{"web-lb", "int-lb"}
	for i, name := range lbs {
		cfg.Hetzner.LoadBalancers = append(cfg.Hetzner.LoadBalancers, sim.LoadBalancer{
			ID: int64(i + 1), Name: name,
			Services: []sim.Service{{Protocol: "http", DestinationPort: port, HealthCheck: sim.HealthCheck{
				Protocol: "http", Port: port, Interval: sim.Duration(interval), Timeout: sim.Duration(timeout),
				Retries: 2, HTTP: &sim.HealthCheckHTTP{Path: "/healthz"},
			}}},
		})
	}
	simtest.AddTargets(cfg, hosts)
	s := simtest.Start(t, cfg)
	simtest.WaitHealthy(t, s, 10*time.Second)
	return s, hosts, lbs
}

// hasServer tells whether load balancer i of st still has server id.
func hasServer(st sim.State, i int, id int64) bool {
	for _, tg := range st.Hetzner.LoadBalancers[i].Targets {
		if tg.Server != nil && tg.Server.ID == id {
			return true
		}
	}
	return false
}

// drainCtx runs lb_drain of app-1 from both load balancers with ctx, which
// stands for the signals as in ansible's own tests.
func drainCtx(t *testing.T, ctx context.Context, s *sim.Sim, lbs []string) (map[string]any, string) {
	t.Helper()
	r := lb.NewRunner(providers.Open)
	args, _ := json.Marshal(map[string]any{"provider": "hetzner", "api_token": simToken, "endpoint": s.Endpoints().HetznerAPI,
		"load_balancer": lbs, "target": "app-1", "timeout": 30})
	var buf bytes.Buffer
	ansible.RunArgs(ctx, lb.NewSpec("lb_drain", lb.DrainOptions), args, &buf, r.Drain)
	var out map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("output: %v\n%s", err, buf.String())
	}
	if strings.Contains(buf.String(), simToken) {
		t.Errorf("secret in output: %s", buf.String())
	}
	return out, buf.String()
}

// TestLbsimDrainPartialFailure: of two load balancers, one's remove action
// fails. The other really lost the target: the result says changed, its
// after-state says so, and msg names what was done as well as what failed.
func TestLbsimDrainPartialFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim")
	}
	s, _, lbs := twoLBs(t, 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond)
	// The first action to start fails; which load balancer's is not known.
	if err := s.SetFaults(sim.Faults{Actions: sim.ActionFaults{FailNext: 1}}); err != nil {
		t.Fatal(err)
	}
	out, raw := drainCtx(t, context.Background(), s, lbs)
	st := s.State()
	failed, done := -1, -1
	for i := range lbs {
		if hasServer(st, i, 101) {
			failed = i
		} else {
			done = i
		}
	}
	if failed < 0 || done < 0 {
		t.Fatalf("want one load balancer to keep app-1 and one to lose it; state %+v\n%s", st.Hetzner.LoadBalancers, raw)
	}
	msg, _ := out["msg"].(string)
	t.Logf("msg: %s", msg)
	if out["failed"] != true || out["changed"] != true {
		t.Errorf("failed %v, changed %v; want both true: %s", out["failed"], out["changed"], raw)
	}
	wantDone := "deregistered app-1 (101) from load balancer " + lbs[done] + ", but "
	if !strings.HasPrefix(msg, wantDone) || !strings.Contains(msg, "on load balancer "+lbs[failed]+" failed") {
		t.Errorf("msg %q; want it to start with %q and name %s's failure", msg, wantDone, lbs[failed])
	}
	pools, _ := out["pools"].([]any)
	if len(pools) != 2 {
		t.Fatalf("pools: %s", raw)
	}
	for i, want := range map[int]bool{done: false, failed: true} {
		p, _ := pools[i].(map[string]any)
		if lbtest.Get(p, "after", "registered") != want || p["changed"] != !want {
			t.Errorf("pool %s: after %v, changed %v; want registered %v, changed %v", lbs[i], p["after"], p["changed"], want, !want)
		}
	}
}

// TestLbsimDrainInterrupted: SIGTERM once both remove actions have
// completed, while the module still waits to see them done: the result
// says what was done (changed, both load balancers), not "done: none".
func TestLbsimDrainInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim")
	}
	// The provider looks at an action 0.2, 0.5 and 0.95 s after it starts:
	// one that takes 0.6 s is seen done some 0.35 s after it is.
	s, _, lbs := twoLBs(t, 600*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond)
	ctx, signal := context.WithCancel(context.Background())
	defer signal()
	go func() {
		for ctx.Err() == nil {
			st := s.State()
			if !hasServer(st, 0, 101) && !hasServer(st, 1, 101) {
				signal()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	out, raw := drainCtx(t, ctx, s, lbs)
	if ctx.Err() == nil {
		t.Fatalf("the drain ended before both actions were seen done: %s", raw)
	}
	msg, _ := out["msg"].(string)
	t.Logf("msg: %s", msg)
	want := "lb_drain was interrupted by a signal; state left: deregistered app-1 (101) from load balancer web-lb, load balancer int-lb"
	if out["failed"] != true || out["changed"] != true || !strings.HasPrefix(msg, want) {
		t.Errorf("failed %v, changed %v, msg %q; want failed, changed and msg starting %q", out["failed"], out["changed"], msg, want)
	}
	pools, _ := out["pools"].([]any)
	for i, p := range pools {
		if p, _ := p.(map[string]any); lbtest.Get(p, "after", "registered") != false || p["changed"] != true {
			t.Errorf("pool %s: after %v, changed %v; want registered false, changed", lbs[i], p["after"], p["changed"])
		}
	}
}
