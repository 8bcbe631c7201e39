package providers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

const (
	simToken  = "lbsim-test-token-0123456789abcdef"
	simKeyID  = "AKIALBSIMTEST0001"
	simSecret = "lbsimTestSecretAccessKey000000001"
	simTGARN  = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web-tg/0123456789abcdef"
)

type world struct {
	sim      *sim.Sim
	ep       sim.Endpoints
	hosts    []string
	backends []*simtest.Backend
	port     int
}

// startWorld starts lbsim with one Hetzner load balancer and one AWS target
// group in front of three fake backends, and waits until all are healthy.
func startWorld(t *testing.T) *world {
	t.Helper()
	hosts := simtest.Hosts(3)
	bs, port := simtest.Backends(t, hosts...)
	delay := sim.Duration(5 * time.Second)
	cfg := &sim.Config{
		Hetzner: sim.Hetzner{
			Token:       simToken,
			ActionDelay: sim.Duration(100 * time.Millisecond),
			LoadBalancers: []sim.LoadBalancer{{
				ID: 1, Name: "web-lb",
				Services: []sim.Service{{Protocol: "http", DestinationPort: port, HealthCheck: sim.HealthCheck{
					Protocol: "http", Port: port, Interval: sim.Duration(200 * time.Millisecond), Timeout: sim.Duration(200 * time.Millisecond),
					Retries: 2, HTTP: &sim.HealthCheckHTTP{Path: "/healthz"},
				}}},
			}},
		},
		AWS: sim.AWS{
			Region: "eu-central-1", AccessKeyID: simKeyID, SecretAccessKey: simSecret,
			TargetGroups: []sim.TargetGroup{{
				ARN: simTGARN, Name: "web-tg", Port: port,
				HealthCheck: sim.AWSHealthCheck{Path: "/healthz", Interval: sim.Duration(200 * time.Millisecond), Timeout: sim.Duration(200 * time.Millisecond),
					HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200"},
				DeregistrationDelay: &delay,
			}},
			Listeners: []sim.Listener{{TargetGroup: "web-tg"}},
		},
	}
	simtest.AddTargets(cfg, hosts)
	s := simtest.Start(t, cfg)
	w := &world{sim: s, ep: s.Endpoints(), hosts: hosts, backends: bs, port: port}
	simtest.WaitHealthy(t, s, 10*time.Second)
	return w
}

func (w *world) healthyCount(kind string) int {
	st := w.sim.State()
	n := 0
	if kind == "hetzner" {
		for _, m := range st.Hetzner.LoadBalancers[0].Services[0].Members {
			if m.Health == "healthy" {
				n++
			}
		}
		return n
	}
	for _, t := range st.AWS.TargetGroups[0].Targets {
		if t.State == "healthy" {
			n++
		}
	}
	return n
}

// watch polls lbsim's state every 5ms from now on and returns a function
// that tells when cond first held.
func (w *world) watch(t *testing.T, cond func(sim.State) bool) func() time.Time {
	var mu sync.Mutex
	var at time.Time
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if cond(w.sim.State()) {
				mu.Lock()
				at = time.Now()
				mu.Unlock()
				return
			}
		}
	}()
	t.Cleanup(func() { close(done) })
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return at
	}
}

// gone and healthy are the states the modules wait for, as lbsim sees them.
func gone(kind, host string) func(sim.State) bool {
	return func(st sim.State) bool {
		if kind == "hetzner" {
			for _, m := range st.Hetzner.LoadBalancers[0].Services[0].Members {
				if m.Host == host && m.InRotation {
					return false
				}
			}
			return true
		}
		for _, tg := range st.AWS.TargetGroups[0].Targets {
			if tg.Host == host {
				return false
			}
		}
		return true
	}
}

func healthy(kind, host string) func(sim.State) bool {
	return func(st sim.State) bool {
		if kind == "hetzner" {
			for _, m := range st.Hetzner.LoadBalancers[0].Services[0].Members {
				if m.Host == host && m.Health == "healthy" {
					return true
				}
			}
			return false
		}
		for _, tg := range st.AWS.TargetGroups[0].Targets {
			if tg.Host == host && tg.State == "healthy" {
				return true
			}
		}
		return false
	}
}

func lag(reached func() time.Time, returned time.Time) string {
	if reached().IsZero() {
		return "state never seen"
	}
	return fmt.Sprintf("%dms", returned.Sub(reached()).Milliseconds())
}

func (w *world) url(kind string) string {
	if kind == "hetzner" {
		return w.ep.Services[0].URL
	}
	return w.ep.Listeners[0].URL
}

func (w *world) args(kind string, host int, extra map[string]any) map[string]any {
	a := map[string]any{"target": "auto", "metadata_url": w.ep.Metadata[w.hosts[host]], "timeout": 30}
	if kind == "hetzner" {
		a["provider"], a["api_token"], a["endpoint"], a["load_balancer"] = "hetzner", simToken, w.ep.HetznerAPI, "web-lb"
	} else {
		a["provider"], a["region"], a["endpoint_url"], a["target_group_names"] = "aws", "eu-central-1", w.ep.AWSAPI, []any{"web-tg"}
		a["access_key"], a["secret_key"] = simKeyID, simSecret
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

// realRun runs a module with real time against lbsim.
func realRun(t *testing.T, module string, args map[string]any) (map[string]any, string) {
	t.Helper()
	r := lb.NewRunner(providers.Open)
	spec, fn := lb.NewSpec(module, lb.DrainOptions), r.Drain
	if module == "lb_register" {
		spec, fn = lb.NewSpec(module, lb.RegisterOptions), r.Register
	}
	b, _ := json.Marshal(args)
	var buf bytes.Buffer
	ansible.RunArgs(context.Background(), spec, b, &buf, fn)
	var out map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("output: %v\n%s", err, buf.String())
	}
	for _, s := range []string{simToken, simSecret} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("secret in output: %s", buf.String())
		}
	}
	return out, buf.String()
}

// apiSince is the requests to kind's API ("hetzner" or "aws") per
// operation since the counts in before.
func (w *world) apiSince(before map[string]int64, kind string) map[string]int64 {
	out := map[string]int64{}
	for op, n := range w.sim.Counts().API {
		if d := n - before[op]; d != 0 && strings.HasPrefix(op, kind+" ") {
			out[strings.TrimPrefix(op, kind+" ")] = d
		}
	}
	return out
}

// checkCalls compares a run's requests per operation with want: exactly,
// except for the polls, whose number depends on timing (want is their
// minimum). A redundant request shows up as a count one too high.
func checkCalls(t *testing.T, what string, got, want map[string]int64, polls ...string) {
	t.Helper()
	ops := map[string]bool{}
	for op := range got {
		ops[op] = true
	}
	for op := range want {
		ops[op] = true
	}
	for op := range ops {
		polled := false
		for _, p := range polls {
			polled = polled || p == op
		}
		if got[op] != want[op] && (!polled || got[op] < want[op]) {
			t.Errorf("%s: %s requested %d times, want %d (all requests: %v)", what, op, got[op], want[op], got)
		}
	}
}

// apiWant is what each run of TestLbsimDrainAndRegister asks of the
// provider's API, target: auto and timeout given. Polls are at their
// minimum; see checkCalls.
var apiWant = map[string]map[string]map[string]int64{
	"hetzner": {
		// The lookup by name answers with the targets and their health,
		// so nothing is read again before acting. The target is gone when
		// remove_target's action has finished: one read confirms it.
		"drain": {"GET /load_balancers": 1, "GET /servers/{id}": 1,
			"POST /load_balancers/{id}/actions/remove_target": 1, "GET /actions": 1, "GET /load_balancers/{id}": 1},
		"drain again": {"GET /load_balancers": 1, "GET /servers/{id}": 1},
		"register": {"GET /load_balancers": 1, "GET /servers/{id}": 1,
			"POST /load_balancers/{id}/actions/add_target": 1, "GET /actions": 1, "GET /load_balancers/{id}": 1},
		"register again": {"GET /load_balancers": 1, "GET /servers/{id}": 1},
	},
	"aws": {
		// DescribeTargetGroups has no health: one DescribeTargetHealth
		// before acting, then the polls. An idempotent drain names the
		// target once more to tell an unknown one from one not registered.
		// A drain reads the group's deregistration delay (the wait checks
		// when it runs out).
		"drain":          {"DescribeTargetGroups": 1, "DescribeTargetGroupAttributes": 1, "DeregisterTargets": 1, "DescribeTargetHealth": 2},
		"drain again":    {"DescribeTargetGroups": 1, "DescribeTargetHealth": 2},
		"register":       {"DescribeTargetGroups": 1, "RegisterTargets": 1, "DescribeTargetHealth": 2},
		"register again": {"DescribeTargetGroups": 1, "DescribeTargetHealth": 1},
	},
}

// apiPolls are the operations whose count depends on timing: action polls
// (Hetzner) and waits for health (both) or for the draining to end (AWS).
var apiPolls = map[string]map[string][]string{
	"hetzner": {"drain": {"GET /actions"}, "register": {"GET /actions", "GET /load_balancers/{id}"}},
	"aws":     {"drain": {"DescribeTargetHealth"}, "register": {"DescribeTargetHealth"}},
}

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
	hosts := simtest.Hosts(2)
	_, port := simtest.Backends(t, hosts...)
	cfg := &sim.Config{Hetzner: sim.Hetzner{Token: simToken, ActionDelay: sim.Duration(300 * time.Millisecond)}}
	lbs := []string{"web-lb", "int-lb"}
	for i, name := range lbs {
		cfg.Hetzner.LoadBalancers = append(cfg.Hetzner.LoadBalancers, sim.LoadBalancer{
			ID: int64(i + 1), Name: name,
			Services: []sim.Service{{Protocol: "http", DestinationPort: port, HealthCheck: sim.HealthCheck{
				Protocol: "http", Port: port, Interval: sim.Duration(time.Second), Timeout: sim.Duration(500 * time.Millisecond),
				Retries: 2, HTTP: &sim.HealthCheckHTTP{Path: "/healthz"},
			}}},
		})
	}
	simtest.AddTargets(cfg, hosts)
	s := simtest.Start(t, cfg)
	simtest.WaitHealthy(t, s, 10*time.Second)
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
