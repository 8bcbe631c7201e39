package providers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

const (
	simToken  = "lbsim-test-token-0123456789abcdef"
	simKeyID  = "AKIALBSIMTEST0001"
	simSecret = "lbsimTestSecretAccessKey000000001"
)

func TestLbsimDrainAndRegister(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim: a few seconds of real health checks")
	}
	for _, kind := range []string{"hetzner", "aws"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			w := startWorld(t)
			host := w.hosts[0]
			l := simtest.StartLoad(w.url(kind), 6, 400*time.Millisecond)
			time.Sleep(500 * time.Millisecond) // requests in flight on every backend

			calls := func(what string, before map[string]int64) {
				t.Helper()
				got := w.apiSince(before, kind)
				t.Logf("%s %s: API requests %v", kind, what, got)
				checkCalls(t, kind+" "+what, got, apiWant[kind][what], apiPolls[kind][what]...)
			}

			start := time.Now()
			reached := w.watch(t, gone(kind, host))
			before := w.sim.Counts().API
			out, raw := realRun(t, "lb_drain", w.args(kind, 0, nil))
			took := time.Since(start)
			drainLag := lag(reached, time.Now())
			if out["failed"] != false || out["changed"] != true || out["warnings"] != nil {
				t.Fatalf("drain: %s", raw)
			}
			calls("drain", before)
			atDrain := w.sim.Counts().ProxiedByHost[host]
			hitsAtDrain := w.backends[0].Hits()
			time.Sleep(700 * time.Millisecond)
			if after := w.sim.Counts().ProxiedByHost[host]; after != atDrain {
				t.Errorf("%d requests reached %s after lb_drain returned", after-atDrain, host)
			}
			if hits := w.backends[0].Hits(); hits != hitsAtDrain {
				t.Errorf("backend got %d requests after lb_drain returned", hits-hitsAtDrain)
			}
			t.Logf("%s drain: %.2fs, waited %v, api_requests %v, returned %s after lbsim showed it drained; proxied to %s before: %d",
				kind, took.Seconds(), out["waited"], out["api_requests"], drainLag, host, atDrain)
			if atDrain == 0 {
				t.Errorf("no request reached %s before the drain: the test proves nothing", host)
			}

			// Idempotent: a second drain changes nothing and does not wait.
			before = w.sim.Counts().API
			out, raw = realRun(t, "lb_drain", w.args(kind, 0, nil))
			if out["failed"] != false || out["changed"] != false || out["waited"] != 0.0 {
				t.Errorf("second drain: %s", raw)
			}
			calls("drain again", before)

			start = time.Now()
			reached = w.watch(t, healthy(kind, host))
			before = w.sim.Counts().API
			out, raw = realRun(t, "lb_register", w.args(kind, 0, nil))
			if out["failed"] != false || out["changed"] != true {
				t.Fatalf("register: %s", raw)
			}
			calls("register", before)
			t.Logf("%s register: %.2fs, waited %v, api_requests %v, returned %s after lbsim showed it healthy",
				kind, time.Since(start).Seconds(), out["waited"], out["api_requests"], lag(reached, time.Now()))
			if w.healthyCount(kind) != 3 {
				t.Errorf("lb_register returned but lbsim shows %d healthy", w.healthyCount(kind))
			}
			simtest.Eventually(t, 5*time.Second, "traffic reaches the registered host again", func() bool {
				return w.sim.Counts().ProxiedByHost[host] > atDrain
			})
			l.Finish(t)

			before = w.sim.Counts().API
			out, raw = realRun(t, "lb_register", w.args(kind, 0, nil))
			if out["failed"] != false || out["changed"] != false || out["waited"] != 0.0 {
				t.Errorf("second register: %s", raw)
			}
			calls("register again", before)
		})
	}
}

func TestLbsimMinHealthyAndErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim")
	}
	w := startWorld(t)
	w.backends[1].SetHealthy(false)
	w.backends[2].SetHealthy(false)
	simtest.Eventually(t, 5*time.Second, "two targets unhealthy", func() bool { return w.healthyCount("hetzner") == 1 && w.healthyCount("aws") == 1 })
	for _, kind := range []string{"hetzner", "aws"} {
		before := w.sim.Counts().API
		out, raw := realRun(t, "lb_drain", w.args(kind, 0, nil))
		if out["failed"] != true || !strings.Contains(out["msg"].(string), "refusing to drain") {
			t.Errorf("%s: min_healthy did not refuse: %s", kind, raw)
		}
		for op, n := range w.sim.Counts().API {
			if n != before[op] && (strings.Contains(op, "remove_target") || strings.Contains(op, "Deregister")) {
				t.Errorf("%s: %s called despite the refusal", kind, op)
			}
		}
	}
	w.backends[1].SetHealthy(true)
	w.backends[2].SetHealthy(true)

	out, raw := realRun(t, "lb_drain", w.args("hetzner", 0, map[string]any{"api_token": "wrong-token-value"}))
	if out["failed"] != true || lbtest.Get(out, "failure", "code") != "unauthorized" || strings.Contains(raw, "wrong-token-value") {
		t.Errorf("wrong token: %s", raw)
	}
	out, raw = realRun(t, "lb_drain", w.args("hetzner", 0, map[string]any{"load_balancer": "nope-lb"}))
	if out["failed"] != true || !strings.Contains(out["msg"].(string), `"nope-lb" not found`) {
		t.Errorf("missing lb: %s", raw)
	}
	out, raw = realRun(t, "lb_drain", w.args("aws", 0, map[string]any{"secret_key": "wrongSecretValue12345"}))
	if out["failed"] != true || lbtest.Get(out, "failure", "code") != "unauthorized" || strings.Contains(raw, "wrongSecretValue12345") {
		t.Errorf("wrong secret: %s", raw)
	}
	out, raw = realRun(t, "lb_drain", w.args("aws", 0, map[string]any{"target_group_names": []any{"web-tg", "nope-tg"}}))
	if out["failed"] != true || !strings.Contains(out["msg"].(string), `"nope-tg" not found`) {
		t.Errorf("missing tg: %s", raw)
	}
}

// TestLbsimTwoHetznerLoadBalancers drains a server from two load balancers
// and registers it again, each in one task: the target is added to both
// before either calls it healthy, so their health checks run at once. The
// control registers with one task per load balancer, as the deploy role
// looped before, and shows the check failing: the second add comes only
// once the first load balancer has called the target healthy.
func TestLbsimTwoHetznerLoadBalancers(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim: a few seconds of real health checks")
	}
	s, hosts, lbs := twoLBs(t, 300*time.Millisecond, time.Second, 500*time.Millisecond)
	ep := s.Endpoints()
	args := func(lbs ...string) map[string]any {
		l := make([]any, len(lbs))
		for i, n := range lbs {
			l[i] = n
		}
		return map[string]any{"provider": "hetzner", "api_token": simToken, "endpoint": ep.HetznerAPI,
			"load_balancer": l, "target": "auto", "metadata_url": ep.Metadata[hosts[0]], "timeout": 30}
	}
	run := func(module string, lbs ...string) {
		t.Helper()
		if out, raw := realRun(t, module, args(lbs...)); out["failed"] == true || out["changed"] != true {
			t.Fatalf("%s %v: %s", module, lbs, raw)
		}
	}
	// register runs f while watching when hosts[0] becomes a member of
	// each load balancer and when each calls it healthy, and reports
	// whether both adds came before the first healthy.
	register := func(what string, f func()) (atOnce bool) {
		t.Helper()
		var added, healthyAt [2]time.Time
		stop, watched := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(watched)
			for done := false; !done; {
				// One more look once f has returned: its register saw
				// the target healthy, and a poll must not miss that.
				select {
				case <-stop:
					done = true
				case <-time.After(5 * time.Millisecond):
				}
				st := s.State()
				for i := range lbs {
					for _, m := range st.Hetzner.LoadBalancers[i].Services[0].Members {
						if m.Host != hosts[0] {
							continue
						}
						if added[i].IsZero() {
							added[i] = time.Now()
						}
						if m.Health == "healthy" && healthyAt[i].IsZero() {
							healthyAt[i] = time.Now()
						}
					}
				}
			}
		}()
		start := time.Now()
		f()
		took := time.Since(start)
		close(stop)
		<-watched
		since := func(at time.Time) time.Duration { return at.Sub(start).Round(time.Millisecond) }
		t.Logf("%s: %s; added to %s at %s, %s at %s; healthy at %s and %s", what, took.Round(time.Millisecond),
			lbs[0], since(added[0]), lbs[1], since(added[1]), since(healthyAt[0]), since(healthyAt[1]))
		for i := range lbs {
			if added[i].IsZero() || healthyAt[i].IsZero() {
				t.Fatalf("%s: %s: added %v, healthy %v", what, lbs[i], added[i], healthyAt[i])
			}
		}
		first := healthyAt[0]
		if healthyAt[1].Before(first) {
			first = healthyAt[1]
		}
		return added[0].Before(first) && added[1].Before(first)
	}

	run("lb_drain", lbs...)
	if !register("one task for both", func() { run("lb_register", lbs...) }) {
		t.Errorf("one task for both load balancers added the target to one only after the other called it healthy")
	}
	run("lb_drain", lbs...)
	if register("control, one task per load balancer", func() { run("lb_register", lbs[0]); run("lb_register", lbs[1]) }) {
		t.Errorf("control: registering one load balancer after the other passed the check, which therefore cannot tell")
	}
}
