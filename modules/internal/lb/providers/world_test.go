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
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// world is a running lbsim with its backends, for the end-to-end tests.
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
	return startWorldWith(t, nil)
}

// startWorldWith is startWorld with change applied to lbsim's config.
func startWorldWith(t *testing.T, change func(*sim.Config)) *world {
	t.Helper()
	r := simtest.World{
		HetznerToken: simToken, AWSKeyID: simKeyID, AWSSecret: simSecret,
		CheckInterval: 200 * time.Millisecond, CheckTimeout: 200 * time.Millisecond, Retries: 2,
		ActionDelay: 100 * time.Millisecond, DeregistrationDelay: 5 * time.Second, Change: change,
	}.Start(t, simtest.Hosts(3))
	return &world{sim: r.Sim, ep: r.Endpoints, hosts: r.Hosts, backends: r.Backends, port: r.Port}
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
		a["provider"], a["api_token"], a["endpoint"], a["load_balancer"] = "hetzner", simToken, w.ep.HetznerAPI, simtest.LBName
	} else {
		a["provider"], a["region"], a["endpoint_url"], a["target_group_names"] = "aws", simtest.Region, w.ep.AWSAPI, []any{simtest.TGName}
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
