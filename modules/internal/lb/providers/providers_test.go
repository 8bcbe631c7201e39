package providers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/hetzner"
	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// fakeClock makes waits instant: sleeping advances time.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	return ctx.Err()
}

type run struct {
	out   map[string]any
	raw   string
	clock *fakeClock
}

// runModule runs lb_drain or lb_register through the Ansible protocol.
func runModule(t *testing.T, module string, args map[string]any) run {
	t.Helper()
	clk := &fakeClock{t: time.Now()}
	open := providers.New(providers.Options{
		Hetzner: []hetzner.Option{
			hetzner.WithPollBackoff(hcloud.ConstantBackoff(time.Millisecond)),
			hetzner.WithRetryBackoff(hcloud.ConstantBackoff(time.Millisecond)),
			hetzner.WithSleep(clk.sleep),
		},
		AWSBackoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil }),
	})
	r := lb.NewRunner(open, lb.WithClock(clk.now), lb.WithWaitOptions(wait.WithClock(clk.sleep, clk.now), wait.WithoutJitter()))
	spec := lb.NewSpec(module, lb.DrainOptions)
	fn := r.Drain
	if module == "lb_register" {
		spec = lb.NewSpec(module, lb.RegisterOptions)
		fn = r.Register
	}
	b, _ := json.Marshal(args)
	var buf bytes.Buffer
	ansible.RunArgs(context.Background(), spec, b, &buf, fn)
	var out map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("module output is not JSON: %v\n%s", err, buf.String())
	}
	return run{out: out, raw: buf.String(), clock: clk}
}

func (r run) pool(t *testing.T, i int) map[string]any {
	t.Helper()
	pools, _ := r.out["pools"].([]any)
	if len(pools) <= i {
		t.Fatalf("no pool %d in %s", i, r.raw)
	}
	return pools[i].(map[string]any)
}

func get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

const token = "s3cr3t-hcloud-token"

func hzArgs(srv *lbtest.Server, extra map[string]any) map[string]any {
	a := map[string]any{
		"provider": "hetzner", "api_token": token, "endpoint": srv.URL + "/v1",
		"load_balancer": "web-lb", "target": "web-1", "timeout": 60,
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

var (
	h42   = lbtest.HTarget{Server: 42, Health: map[int]string{80: "healthy"}}
	h42un = lbtest.HTarget{Server: 42, Health: map[int]string{80: "unhealthy"}}
	h42uk = lbtest.HTarget{Server: 42, Health: map[int]string{80: "unknown"}}
	h43   = lbtest.HTarget{Server: 43, Health: map[int]string{80: "healthy"}}
	h43un = lbtest.HTarget{Server: 43, Health: map[int]string{80: "unhealthy"}}
)

// lookups are the requests before acting: the load balancer by name, whose
// answer carries the targets and their health (nothing reads it again
// before acting), and the server by name.
func lookups(targets ...lbtest.HTarget) []lbtest.Exchange {
	return []lbtest.Exchange{
		{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", targets...)},
		{Method: "GET", Path: "/v1/servers?name=web-1", Body: lbtest.HetznerServerList(42, "web-1")},
	}
}

func lbGet(targets ...lbtest.HTarget) lbtest.Exchange {
	return lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers/4711", Body: lbtest.HetznerLB(4711, "web-lb", targets...)}
}

func bodyHas(want ...string) func(testing.TB, *http.Request, string) {
	return func(t testing.TB, r *http.Request, body string) {
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s %s: body %s lacks %s", r.Method, r.URL.Path, body, w)
			}
		}
	}
}

func concat(parts ...[]lbtest.Exchange) []lbtest.Exchange {
	var out []lbtest.Exchange
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestHetzner(t *testing.T) {
	// An add_target action that has finished when it is answered.
	added := lbtest.Exchange{Method: "POST", Path: "/v1/load_balancers/4711/actions/add_target", Status: 201,
		Body: lbtest.HetznerAction(14, "add_target", "success")}
	healthFile := filepath.Join(t.TempDir(), "maintenance")
	tests := []struct {
		name      string
		module    string
		args      map[string]any
		setup     func()
		exchanges []lbtest.Exchange
		failed    bool
		changed   bool
		msg       []string // substrings of msg
		code      string   // failure.code
		check     func(t *testing.T, r run)
	}{
		{
			name:   "drain removes the target and waits for the action",
			module: "lb_drain",
			exchanges: concat(lookups(h42, h43), []lbtest.Exchange{
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201,
					Check: bodyHas(`"type":"server"`, `"id":42`), Body: lbtest.HetznerAction(13, "remove_target", "running")},
				{Method: "GET", Path: "/v1/actions?id=13", Body: lbtest.HetznerActions(13, "remove_target", "success")},
				lbGet(h43),
			}),
			changed: true,
			check: func(t *testing.T, r run) {
				p := r.pool(t, 0)
				if get(p, "before", "registered") != true || get(p, "after", "registered") != false {
					t.Errorf("before/after: %v / %v", p["before"], p["after"])
				}
				if get(p, "before", "health", "80") != "healthy" {
					t.Errorf("before health: %v", p["before"])
				}
				// Lookups 2; remove_target, its action, the read that
				// finds the target gone 3.
				if r.out["api_requests"] != 5.0 || p["api_requests"] != 3.0 {
					t.Errorf("api_requests total %v, pool %v; want 5, 3", r.out["api_requests"], p["api_requests"])
				}
				if get(r.out, "target", "name") != "web-1" || get(r.out, "target", "id") != "42" {
					t.Errorf("target: %v", r.out["target"])
				}
			},
		},
		{
			name:   "drain from two load balancers at once",
			module: "lb_drain",
			args:   map[string]any{"load_balancer": []any{"web-lb", "int-lb"}},
			// Each step goes to both load balancers at once: a pair
			// answers only when both requests have arrived.
			exchanges: []lbtest.Exchange{
				lbtest.AnyOrder(together(2,
					lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", h42, h43)},
					lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers?name=int-lb", Body: lbtest.HetznerLBList(4712, "int-lb", h42, h43)},
				)...),
				{Method: "GET", Path: "/v1/servers?name=web-1", Body: lbtest.HetznerServerList(42, "web-1")},
				lbtest.AnyOrder(together(2,
					lbtest.Exchange{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201, Body: lbtest.HetznerAction(13, "remove_target", "success")},
					lbtest.Exchange{Method: "POST", Path: "/v1/load_balancers/4712/actions/remove_target", Status: 201, Body: lbtest.HetznerAction(14, "remove_target", "success")},
				)...),
				lbtest.AnyOrder(together(2, lbGet(h43),
					lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers/4712", Body: lbtest.HetznerLB(4712, "int-lb", h43)},
				)...),
			},
			changed: true,
			check: func(t *testing.T, r run) {
				for i, name := range []string{"web-lb", "int-lb"} {
					if p := r.pool(t, i); p["name"] != name || get(p, "after", "registered") != false || p["changed"] != true {
						t.Errorf("pool %d: %v", i, p)
					}
				}
			},
		},
		{
			name:      "drain of a target already removed changes nothing",
			module:    "lb_drain",
			exchanges: lookups(h43),
			check: func(t *testing.T, r run) {
				if r.out["waited"] != 0.0 {
					t.Errorf("waited %v", r.out["waited"])
				}
			},
		},
		{
			name:      "min_healthy refuses to drain the last healthy target",
			module:    "lb_drain",
			exchanges: lookups(h42, h43un),
			failed:    true,
			msg:       []string{"refusing to drain web-1 (42)", "min_healthy is 1", "0 other healthy targets"},
			code:      "min_healthy",
		},
		{
			name:      "min_healthy 0 allows draining the last target",
			module:    "lb_drain",
			args:      map[string]any{"min_healthy": 0},
			exchanges: concat(lookups(h42), []lbtest.Exchange{{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201, Body: lbtest.HetznerAction(13, "remove_target", "success")}, lbGet()}),
			changed:   true,
		},
		{
			name:      "check mode predicts without changing",
			module:    "lb_drain",
			args:      map[string]any{"_ansible_check_mode": true, "_ansible_diff": true},
			exchanges: lookups(h42, h43),
			changed:   true,
			check: func(t *testing.T, r run) {
				if get(r.out, "diff", "before", "web-lb", "registered") != true || get(r.out, "diff", "after", "web-lb", "registered") != false {
					t.Errorf("diff: %v", r.out["diff"])
				}
			},
		},
		{
			name:      "label selector targets cannot be removed",
			module:    "lb_drain",
			exchanges: lookups(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{h42, h43}}),
			failed:    true,
			msg:       []string{`label_selector "role=web"`, "method: health"},
			code:      "unsupported",
		},
		{
			name:   "method health creates health_file and waits until unhealthy",
			module: "lb_drain",
			args:   map[string]any{"method": "health", "health_file": healthFile},
			setup:  func() { os.Remove(healthFile) },
			exchanges: concat(lookups(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{h42, h43}}), []lbtest.Exchange{
				lbGet(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{h42, h43}}),
				lbGet(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{h42un, h43}}),
			}),
			changed: true,
			check: func(t *testing.T, r run) {
				if _, err := os.Stat(healthFile); err != nil {
					t.Errorf("health_file not created: %v", err)
				}
				if get(r.pool(t, 0), "after", "health", "80") != "unhealthy" {
					t.Errorf("after: %v", r.pool(t, 0)["after"])
				}
			},
		},
		{
			name:   "register adds the target and waits until healthy",
			module: "lb_register",
			args:   map[string]any{"use_private_ip": true},
			exchanges: concat(lookups(h43), []lbtest.Exchange{
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/add_target", Status: 201,
					Check: bodyHas(`"id":42`, `"use_private_ip":true`), Body: lbtest.HetznerAction(14, "add_target", "running")},
				{Method: "GET", Path: "/v1/actions?id=14", Body: lbtest.HetznerActions(14, "add_target", "success")},
				lbGet(h42uk, h43), lbGet(h42un, h43), lbGet(h42, h43),
			}),
			changed: true,
			check: func(t *testing.T, r run) {
				p := r.pool(t, 0)
				if get(p, "after", "health", "80") != "healthy" || get(p, "before", "registered") != false {
					t.Errorf("pool: %v", p)
				}
				// Polls start at 200ms and back off by 1.25.
				wantSleeps(200*time.Millisecond, 250*time.Millisecond)(t, r)
			},
		},
		{
			// Hetzner's 3600 requests an hour per project: late checks
			// come 3 s apart.
			name:      "register backs off to 3 s by default",
			module:    "lb_register",
			exchanges: concat(lookups(h43), []lbtest.Exchange{added}, repeat(lbGet(h42uk, h43), 16), []lbtest.Exchange{lbGet(h42, h43)}),
			changed:   true,
			check:     wantLongestSleep(3 * time.Second),
		},
		{
			name:      "interval sets the longest delay between checks",
			module:    "lb_register",
			args:      map[string]any{"interval": 0.5},
			exchanges: concat(lookups(h43), []lbtest.Exchange{added}, repeat(lbGet(h42uk, h43), 8), []lbtest.Exchange{lbGet(h42, h43)}),
			changed:   true,
			check:     wantLongestSleep(500 * time.Millisecond),
		},
		{
			name:   "an interval below the first delay spaces every check",
			module: "lb_register",
			args:   map[string]any{"interval": 0.05},
			exchanges: concat(lookups(h43), []lbtest.Exchange{
				added,
				lbGet(h42uk, h43), lbGet(h42uk, h43), lbGet(h42, h43),
			}),
			changed: true,
			check:   wantSleeps(50*time.Millisecond, 50*time.Millisecond),
		},
		{
			name:   "a zero interval is refused",
			module: "lb_register",
			args:   map[string]any{"interval": 0},
			failed: true,
			msg:    []string{"interval must be a positive number of seconds, got 0"},
		},
		{
			name:      "register of a healthy target changes nothing",
			module:    "lb_register",
			exchanges: lookups(h42, h43),
		},
		{
			name:   "register retries while the load balancer is locked",
			module: "lb_register",
			exchanges: concat(lookups(h43), []lbtest.Exchange{
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/add_target", Status: 423, Body: lbtest.HetznerError("locked", "Load Balancer is locked")},
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/add_target", Status: 201, Body: lbtest.HetznerAction(14, "add_target", "success")},
				lbGet(h42, h43),
			}),
			changed: true,
		},
		{
			name:   "register times out with the last observed health",
			module: "lb_register",
			args:   map[string]any{"timeout": 1},
			exchanges: concat(lookups(h42un, h43), []lbtest.Exchange{
				// Checks at 0, 0.2, 0.45, 0.76 and 1 s (the deadline).
				lbGet(h42un, h43), lbGet(h42un, h43), lbGet(h42un, h43), lbGet(h42un, h43), lbGet(h42un, h43),
			}),
			failed: true,
			msg:    []string{"target web-1 (42) not healthy in load balancer web-lb after 1s", "unhealthy on port 80 (unexpected_http_status: HTTP 503)", "health check"},
			code:   "timeout",
		},
		{
			name:   "a 429 is waited out and retried",
			module: "lb_drain",
			exchanges: concat(lookups(h42, h43), []lbtest.Exchange{
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201, Body: lbtest.HetznerAction(13, "remove_target", "success")},
				{Method: "GET", Path: "/v1/load_balancers/4711", Status: 429, Header: map[string]string{"RateLimit-Limit": "3600", "RateLimit-Remaining": "0"},
					Body: lbtest.HetznerError("rate_limit_exceeded", "limit reached")},
				lbGet(h43),
			}),
			changed: true,
			check: func(t *testing.T, r run) {
				if len(r.clock.slept) == 0 || r.clock.slept[0] < 200*time.Millisecond {
					t.Errorf("no rate limit backoff: %v", r.clock.slept)
				}
			},
		},
		{
			name:   "a load balancer given by id is read once before acting",
			module: "lb_drain",
			args:   map[string]any{"load_balancer": "4711"},
			exchanges: []lbtest.Exchange{
				lbGet(h42, h43),
				{Method: "GET", Path: "/v1/servers?name=web-1", Body: lbtest.HetznerServerList(42, "web-1")},
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201, Body: lbtest.HetznerAction(13, "remove_target", "success")},
				lbGet(h43),
			},
			changed: true,
		},
		{
			name:      "register in check mode predicts from the lookup",
			module:    "lb_register",
			args:      map[string]any{"_ansible_check_mode": true},
			exchanges: lookups(h43),
			changed:   true,
			check: func(t *testing.T, r run) {
				if get(r.pool(t, 0), "after", "registered") != true || r.out["api_requests"] != 2.0 {
					t.Errorf("pool %v, api_requests %v; want registered after, 2 requests", r.pool(t, 0), r.out["api_requests"])
				}
			},
		},
		{
			name:   "method health waits for a label selector's server to turn healthy",
			module: "lb_register",
			args:   map[string]any{"method": "health"},
			exchanges: concat(lookups(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{h42un, h43}}), []lbtest.Exchange{
				lbGet(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{h42, h43}}),
			}),
			changed: true,
		},
		{
			name:   "a wrong token says so and never shows the token",
			module: "lb_drain",
			exchanges: []lbtest.Exchange{
				{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Status: 401, Body: lbtest.HetznerError("unauthorized", "unable to authenticate: "+token)},
			},
			failed: true,
			msg:    []string{"rejected api_token", "HCLOUD_TOKEN"},
			code:   "unauthorized",
		},
		{
			name:   "a missing load balancer is named",
			module: "lb_drain",
			args:   map[string]any{"load_balancer": "nope"},
			exchanges: []lbtest.Exchange{
				{Method: "GET", Path: "/v1/load_balancers?name=nope", Body: lbtest.HetznerLBList(0, "")},
			},
			failed: true,
			msg:    []string{`load balancer "nope" not found`},
			code:   "not_found",
		},
		{
			name:   "an unknown server is named",
			module: "lb_drain",
			args:   map[string]any{"target": "web-9"},
			exchanges: []lbtest.Exchange{
				{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", h42)},
				{Method: "GET", Path: "/v1/servers?name=web-9", Body: lbtest.HetznerServerList(0, "")},
			},
			failed: true,
			msg:    []string{`target server "web-9" not found`},
			code:   "target_unknown",
		},
		{
			name:   "ip targets need no server lookup",
			module: "lb_drain",
			args:   map[string]any{"target": "198.51.100.7", "target_type": "ip"},
			exchanges: []lbtest.Exchange{
				{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", lbtest.HTarget{IP: "198.51.100.7", Health: map[int]string{80: "healthy"}}, h43)},
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201, Check: bodyHas(`"ip":"198.51.100.7"`), Body: lbtest.HetznerAction(13, "remove_target", "success")},
				lbGet(h43),
			},
			changed: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			srv := lbtest.New(t, tc.exchanges...)
			r := runModule(t, tc.module, hzArgs(srv, tc.args))
			checkRun(t, r, tc.failed, tc.changed, tc.msg, tc.code)
			if tc.check != nil && !t.Failed() {
				tc.check(t, r)
			}
		})
	}
}

func checkRun(t *testing.T, r run, failed, changed bool, msg []string, code string) {
	t.Helper()
	if r.out["failed"] != failed {
		t.Fatalf("failed = %v, want %v: %s", r.out["failed"], failed, r.out["msg"])
	}
	if !failed && r.out["changed"] != changed {
		t.Errorf("changed = %v, want %v", r.out["changed"], changed)
	}
	m, _ := r.out["msg"].(string)
	for _, w := range msg {
		if !strings.Contains(m, w) {
			t.Errorf("msg %q lacks %q", m, w)
		}
	}
	if code != "" && get(r.out, "failure", "code") != code {
		t.Errorf("failure = %v, want code %s", r.out["failure"], code)
	}
	for _, s := range []string{token, awsSecret, awsSession} {
		if strings.Contains(r.raw, s) {
			t.Errorf("secret %q in output: %s", s, r.raw)
		}
	}
}

func TestHetznerAutoTarget(t *testing.T) {
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hetzner/v1/metadata/instance-id" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("42\n"))
	}))
	defer meta.Close()
	srv := lbtest.New(t,
		lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", h42, h43)},
		lbtest.Exchange{Method: "GET", Path: "/v1/servers/42", Body: lbtest.HetznerServer(42, "web-1")},
	)
	r := runModule(t, "lb_register", hzArgs(srv, map[string]any{"target": "auto", "metadata_url": meta.URL}))
	checkRun(t, r, false, false, nil, "")
	if get(r.out, "target", "source") != "metadata" || get(r.out, "target", "name") != "web-1" {
		t.Errorf("target: %v", r.out["target"])
	}
}

func TestHetznerMetadataUnavailable(t *testing.T) {
	srv := lbtest.New(t,
		lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", h42, h43)},
	)
	r := runModule(t, "lb_drain", hzArgs(srv, map[string]any{"target": "auto", "metadata_url": "http://127.0.0.1:1"}))
	checkRun(t, r, true, false, []string{"cannot read instance-id from the hetzner metadata service at http://127.0.0.1:1/hetzner/v1/metadata", "metadata_url"}, "metadata_unavailable")
}

func TestOptionChecks(t *testing.T) {
	tests := []struct {
		name string
		args map[string]any
		msg  string
	}{
		{"hetzner needs a token", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": "l"}, "provider is hetzner but all of the following are missing: api_token"},
		{"aws needs groups", map[string]any{"provider": "aws", "target": "i-1"}, "provider is aws but any of the following are missing: target_group_arns, target_group_names"},
		{"health_file needs method health", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": "l", "api_token": "tok-abcdefgh", "health_file": "/tmp/x"}, "health_file is only used with method: health"},
		{"ip target must be an IP", map[string]any{"provider": "hetzner", "target": "web-1", "target_type": "ip", "load_balancer": "l", "api_token": "tok-abcdefgh"}, `target "web-1" is not an IP address`},
		{"load_balancer not empty", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": []any{}, "api_token": "tok-abcdefgh"}, "load_balancer is empty: give the name or id of a load balancer"},
		{"load_balancer without empty names", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": "web-lb,", "api_token": "tok-abcdefgh"}, `load_balancer "web-lb," holds an empty name`},
		{"load_balancer names each once", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": []any{"a", "b", "a"}, "api_token": "tok-abcdefgh"}, `load_balancer names "a" twice`},
		{"timeout must be positive", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": "l", "api_token": "tok-abcdefgh", "timeout": 0}, "timeout must be a positive number"},
		{"timeout at most a year", map[string]any{"provider": "aws", "target": "i-1", "target_group_names": []string{"tg"}, "region": "eu-central-1", "timeout": 10000000000}, "timeout must be at most 31536000 seconds (a year), got 10000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HCLOUD_TOKEN", "")
			os.Unsetenv("HCLOUD_TOKEN")
			r := runModule(t, "lb_drain", tc.args)
			if r.out["failed"] != true || !strings.Contains(r.out["msg"].(string), tc.msg) {
				t.Errorf("got %v, want msg containing %q", r.out["msg"], tc.msg)
			}
		})
	}
}

func TestValidateCertsWarns(t *testing.T) {
	srv := lbtest.New(t, lookups(h42, h43)...)
	r := runModule(t, "lb_register", hzArgs(srv, map[string]any{"validate_certs": false}))
	checkRun(t, r, false, false, nil, "")
	w, _ := json.Marshal(r.out["warnings"])
	if !strings.Contains(string(w), "validate_certs is false") {
		t.Errorf("warnings: %s", w)
	}
}

const (
	awsSecret  = "AWSs3cr3tKEYvalue"
	awsSession = "AWSsessionTOKENvalue"
)

// repeat is n copies of e.
func repeat(e lbtest.Exchange, n int) []lbtest.Exchange {
	out := make([]lbtest.Exchange, n)
	for i := range out {
		out[i] = e
	}
	return out
}

// wantSleeps checks that the wait slept exactly these delays.
func wantSleeps(want ...time.Duration) func(t *testing.T, r run) {
	return func(t *testing.T, r run) {
		t.Helper()
		if !slices.Equal(r.clock.slept, want) {
			t.Errorf("wait sleeps %v, want %v", r.clock.slept, want)
		}
	}
}

// wantLongestSleep checks that the wait's delays grew to longest and no
// further.
func wantLongestSleep(longest time.Duration) func(t *testing.T, r run) {
	return func(t *testing.T, r run) {
		t.Helper()
		if len(r.clock.slept) == 0 || slices.Max(r.clock.slept) != longest {
			t.Errorf("wait sleeps %v, want them to grow to %s and no further", r.clock.slept, longest)
		}
	}
}
