package hetzner_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
)

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
		check     func(t *testing.T, r lbtest.Result)
	}{
		{
			name:   "drain removes the target and waits for the action",
			module: "lb_drain",
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.H42, lbtest.H43), []lbtest.Exchange{
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201,
					Check: lbtest.BodyHas(`"type":"server"`, `"id":42`), Body: lbtest.HetznerAction(13, "remove_target", "running")},
				{Method: "GET", Path: "/v1/actions?id=13", Body: lbtest.HetznerActions(13, "remove_target", "success")},
				lbtest.HetznerLBGet(lbtest.H43),
			}),
			changed: true,
			check: func(t *testing.T, r lbtest.Result) {
				p := r.Pool(t, 0)
				if lbtest.Get(p, "before", "registered") != true || lbtest.Get(p, "after", "registered") != false {
					t.Errorf("before/after: %v / %v", p["before"], p["after"])
				}
				if lbtest.Get(p, "before", "health", "80") != "healthy" {
					t.Errorf("before health: %v", p["before"])
				}
				// Lookups 2; remove_target, its action, the read that
				// finds the target gone 3.
				if r.Out["api_requests"] != 5.0 || p["api_requests"] != 3.0 {
					t.Errorf("api_requests total %v, pool %v; want 5, 3", r.Out["api_requests"], p["api_requests"])
				}
				if lbtest.Get(r.Out, "target", "name") != "web-1" || lbtest.Get(r.Out, "target", "id") != "42" {
					t.Errorf("target: %v", r.Out["target"])
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
				lbtest.AnyOrder(lbtest.Together(2,
					lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", lbtest.H42, lbtest.H43)},
					lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers?name=int-lb", Body: lbtest.HetznerLBList(4712, "int-lb", lbtest.H42, lbtest.H43)},
				)...),
				{Method: "GET", Path: "/v1/servers?name=web-1", Body: lbtest.HetznerServerList(42, "web-1")},
				lbtest.AnyOrder(lbtest.Together(2,
					lbtest.Exchange{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201, Body: lbtest.HetznerAction(13, "remove_target", "success")},
					lbtest.Exchange{Method: "POST", Path: "/v1/load_balancers/4712/actions/remove_target", Status: 201, Body: lbtest.HetznerAction(14, "remove_target", "success")},
				)...),
				lbtest.AnyOrder(lbtest.Together(2, lbtest.HetznerLBGet(lbtest.H43),
					lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers/4712", Body: lbtest.HetznerLB(4712, "int-lb", lbtest.H43)},
				)...),
			},
			changed: true,
			check: func(t *testing.T, r lbtest.Result) {
				for i, name := range []string{"web-lb", "int-lb"} {
					if p := r.Pool(t, i); p["name"] != name || lbtest.Get(p, "after", "registered") != false || p["changed"] != true {
						t.Errorf("pool %d: %v", i, p)
					}
				}
			},
		},
		{
			name:      "drain of a target already removed changes nothing",
			module:    "lb_drain",
			exchanges: lbtest.HetznerLookups(lbtest.H43),
			check: func(t *testing.T, r lbtest.Result) {
				if r.Out["waited"] != 0.0 {
					t.Errorf("waited %v", r.Out["waited"])
				}
			},
		},
		{
			name:      "min_healthy refuses to drain the last healthy target",
			module:    "lb_drain",
			exchanges: lbtest.HetznerLookups(lbtest.H42, lbtest.H43Unhealthy),
			failed:    true,
			msg:       []string{"refusing to drain web-1 (42)", "min_healthy is 1", "0 other healthy targets"},
			code:      "min_healthy",
		},
		{
			name:      "min_healthy 0 allows draining the last target",
			module:    "lb_drain",
			args:      map[string]any{"min_healthy": 0},
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.H42), []lbtest.Exchange{{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201, Body: lbtest.HetznerAction(13, "remove_target", "success")}, lbtest.HetznerLBGet()}),
			changed:   true,
		},
		{
			name:      "check mode predicts without changing",
			module:    "lb_drain",
			args:      map[string]any{"_ansible_check_mode": true, "_ansible_diff": true},
			exchanges: lbtest.HetznerLookups(lbtest.H42, lbtest.H43),
			changed:   true,
			check: func(t *testing.T, r lbtest.Result) {
				if lbtest.Get(r.Out, "diff", "before", "web-lb", "registered") != true || lbtest.Get(r.Out, "diff", "after", "web-lb", "registered") != false {
					t.Errorf("diff: %v", r.Out["diff"])
				}
			},
		},
		{
			name:      "label selector targets cannot be removed",
			module:    "lb_drain",
			exchanges: lbtest.HetznerLookups(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{lbtest.H42, lbtest.H43}}),
			failed:    true,
			msg:       []string{`label_selector "role=web"`, "method: health"},
			code:      "unsupported",
		},
		{
			name:   "method health creates health_file and waits until unhealthy",
			module: "lb_drain",
			args:   map[string]any{"method": "health", "health_file": healthFile},
			setup:  func() { os.Remove(healthFile) },
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{lbtest.H42, lbtest.H43}}), []lbtest.Exchange{
				lbtest.HetznerLBGet(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{lbtest.H42, lbtest.H43}}),
				lbtest.HetznerLBGet(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{lbtest.H42Unhealthy, lbtest.H43}}),
			}),
			changed: true,
			check: func(t *testing.T, r lbtest.Result) {
				if _, err := os.Stat(healthFile); err != nil {
					t.Errorf("health_file not created: %v", err)
				}
				if lbtest.Get(r.Pool(t, 0), "after", "health", "80") != "unhealthy" {
					t.Errorf("after: %v", r.Pool(t, 0)["after"])
				}
			},
		},
		{
			// The role's way: the file is made on the app host, and
			// lb_drain, run where the credentials are, only waits.
			name:   "method health without health_file only waits until unhealthy",
			module: "lb_drain",
			args:   map[string]any{"method": "health"},
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.H42, lbtest.H43), []lbtest.Exchange{
				lbtest.HetznerLBGet(lbtest.H42, lbtest.H43),
				lbtest.HetznerLBGet(lbtest.H42Unhealthy, lbtest.H43),
			}),
			changed: true,
			check: func(t *testing.T, r lbtest.Result) {
				if _, ok := r.Out["health_file"]; ok || lbtest.Get(r.Pool(t, 0), "after", "health", "80") != "unhealthy" {
					t.Errorf("health_file %v, after %v; want no health_file, unhealthy after", r.Out["health_file"], r.Pool(t, 0)["after"])
				}
			},
		},
		{
			name:   "register adds the target and waits until healthy",
			module: "lb_register",
			args:   map[string]any{"use_private_ip": true},
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.H43), []lbtest.Exchange{
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/add_target", Status: 201,
					Check: lbtest.BodyHas(`"id":42`, `"use_private_ip":true`), Body: lbtest.HetznerAction(14, "add_target", "running")},
				{Method: "GET", Path: "/v1/actions?id=14", Body: lbtest.HetznerActions(14, "add_target", "success")},
				lbtest.HetznerLBGet(lbtest.H42Unknown, lbtest.H43), lbtest.HetznerLBGet(lbtest.H42Unhealthy, lbtest.H43), lbtest.HetznerLBGet(lbtest.H42, lbtest.H43),
			}),
			changed: true,
			check: func(t *testing.T, r lbtest.Result) {
				p := r.Pool(t, 0)
				if lbtest.Get(p, "after", "health", "80") != "healthy" || lbtest.Get(p, "before", "registered") != false {
					t.Errorf("pool: %v", p)
				}
				// Polls start at 200ms and back off by 1.25.
				lbtest.WantSleeps(200*time.Millisecond, 250*time.Millisecond)(t, r)
			},
		},
		{
			// Hetzner's 3600 requests an hour per project: late checks
			// come 3 s apart.
			name:      "register backs off to 3 s by default",
			module:    "lb_register",
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.H43), []lbtest.Exchange{added}, lbtest.Repeat(lbtest.HetznerLBGet(lbtest.H42Unknown, lbtest.H43), 16), []lbtest.Exchange{lbtest.HetznerLBGet(lbtest.H42, lbtest.H43)}),
			changed:   true,
			check:     lbtest.WantLongestSleep(3 * time.Second),
		},
		{
			name:      "interval sets the longest delay between checks",
			module:    "lb_register",
			args:      map[string]any{"interval": 0.5},
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.H43), []lbtest.Exchange{added}, lbtest.Repeat(lbtest.HetznerLBGet(lbtest.H42Unknown, lbtest.H43), 8), []lbtest.Exchange{lbtest.HetznerLBGet(lbtest.H42, lbtest.H43)}),
			changed:   true,
			check:     lbtest.WantLongestSleep(500 * time.Millisecond),
		},
		{
			name:   "an interval below the first delay spaces every check",
			module: "lb_register",
			args:   map[string]any{"interval": 0.05},
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.H43), []lbtest.Exchange{
				added,
				lbtest.HetznerLBGet(lbtest.H42Unknown, lbtest.H43), lbtest.HetznerLBGet(lbtest.H42Unknown, lbtest.H43), lbtest.HetznerLBGet(lbtest.H42, lbtest.H43),
			}),
			changed: true,
			check:   lbtest.WantSleeps(50*time.Millisecond, 50*time.Millisecond),
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
			exchanges: lbtest.HetznerLookups(lbtest.H42, lbtest.H43),
		},
		{
			name:   "register retries while the load balancer is locked",
			module: "lb_register",
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.H43), []lbtest.Exchange{
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/add_target", Status: 423, Body: lbtest.HetznerError("locked", "Load Balancer is locked")},
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/add_target", Status: 201, Body: lbtest.HetznerAction(14, "add_target", "success")},
				lbtest.HetznerLBGet(lbtest.H42, lbtest.H43),
			}),
			changed: true,
		},
		{
			name:   "register times out with the last observed health",
			module: "lb_register",
			args:   map[string]any{"timeout": 1},
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.H42Unhealthy, lbtest.H43), []lbtest.Exchange{
				// Checks at 0, 0.2, 0.45, 0.76 and 1 s (the deadline).
				lbtest.HetznerLBGet(lbtest.H42Unhealthy, lbtest.H43), lbtest.HetznerLBGet(lbtest.H42Unhealthy, lbtest.H43), lbtest.HetznerLBGet(lbtest.H42Unhealthy, lbtest.H43), lbtest.HetznerLBGet(lbtest.H42Unhealthy, lbtest.H43), lbtest.HetznerLBGet(lbtest.H42Unhealthy, lbtest.H43),
			}),
			failed: true,
			msg:    []string{"target web-1 (42) not healthy in load balancer web-lb after 1s", "unhealthy on port 80 (unexpected_http_status: HTTP 503)", "health check"},
			code:   "timeout",
		},
		{
			name:   "a 429 is waited out and retried",
			module: "lb_drain",
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.H42, lbtest.H43), []lbtest.Exchange{
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201, Body: lbtest.HetznerAction(13, "remove_target", "success")},
				{Method: "GET", Path: "/v1/load_balancers/4711", Status: 429, Header: map[string]string{"RateLimit-Limit": "3600", "RateLimit-Remaining": "0"},
					Body: lbtest.HetznerError("rate_limit_exceeded", "limit reached")},
				lbtest.HetznerLBGet(lbtest.H43),
			}),
			changed: true,
			check: func(t *testing.T, r lbtest.Result) {
				if len(r.Clock.Slept) == 0 || r.Clock.Slept[0] < 200*time.Millisecond {
					t.Errorf("no rate limit backoff: %v", r.Clock.Slept)
				}
			},
		},
		{
			name:   "a load balancer given by id is read once before acting",
			module: "lb_drain",
			args:   map[string]any{"load_balancer": "4711"},
			exchanges: []lbtest.Exchange{
				lbtest.HetznerLBGet(lbtest.H42, lbtest.H43),
				{Method: "GET", Path: "/v1/servers?name=web-1", Body: lbtest.HetznerServerList(42, "web-1")},
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201, Body: lbtest.HetznerAction(13, "remove_target", "success")},
				lbtest.HetznerLBGet(lbtest.H43),
			},
			changed: true,
		},
		{
			name:      "register in check mode predicts from the lookup",
			module:    "lb_register",
			args:      map[string]any{"_ansible_check_mode": true},
			exchanges: lbtest.HetznerLookups(lbtest.H43),
			changed:   true,
			check: func(t *testing.T, r lbtest.Result) {
				if lbtest.Get(r.Pool(t, 0), "after", "registered") != true || r.Out["api_requests"] != 2.0 {
					t.Errorf("pool %v, api_requests %v; want registered after, 2 requests", r.Pool(t, 0), r.Out["api_requests"])
				}
			},
		},
		{
			name:   "method health waits for a label selector's server to turn healthy",
			module: "lb_register",
			args:   map[string]any{"method": "health"},
			exchanges: lbtest.Concat(lbtest.HetznerLookups(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{lbtest.H42Unhealthy, lbtest.H43}}), []lbtest.Exchange{
				lbtest.HetznerLBGet(lbtest.HTarget{Selector: "role=web", Children: []lbtest.HTarget{lbtest.H42, lbtest.H43}}),
			}),
			changed: true,
		},
		{
			name:   "a wrong lbtest.HetznerToken says so and never shows the token",
			module: "lb_drain",
			exchanges: []lbtest.Exchange{
				{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Status: 401, Body: lbtest.HetznerError("unauthorized", "unable to authenticate: "+lbtest.HetznerToken)},
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
				{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", lbtest.H42)},
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
				{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", lbtest.HTarget{IP: "198.51.100.7", Health: map[int]string{80: "healthy"}}, lbtest.H43)},
				{Method: "POST", Path: "/v1/load_balancers/4711/actions/remove_target", Status: 201, Check: lbtest.BodyHas(`"ip":"198.51.100.7"`), Body: lbtest.HetznerAction(13, "remove_target", "success")},
				lbtest.HetznerLBGet(lbtest.H43),
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
			r := lbtest.RunModule(t, tc.module, lbtest.HetznerArgs(srv, tc.args))
			lbtest.CheckRun(t, r, tc.failed, tc.changed, tc.msg, tc.code)
			if tc.check != nil && !t.Failed() {
				tc.check(t, r)
			}
		})
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
		lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", lbtest.H42, lbtest.H43)},
		lbtest.Exchange{Method: "GET", Path: "/v1/servers/42", Body: lbtest.HetznerServer(42, "web-1")},
	)
	r := lbtest.RunModule(t, "lb_register", lbtest.HetznerArgs(srv, map[string]any{"target": "auto", "metadata_url": meta.URL}))
	lbtest.CheckRun(t, r, false, false, nil, "")
	if lbtest.Get(r.Out, "target", "source") != "metadata" || lbtest.Get(r.Out, "target", "name") != "web-1" {
		t.Errorf("target: %v", r.Out["target"])
	}
}

func TestHetznerMetadataUnavailable(t *testing.T) {
	srv := lbtest.New(t,
		lbtest.Exchange{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: lbtest.HetznerLBList(4711, "web-lb", lbtest.H42, lbtest.H43)},
	)
	r := lbtest.RunModule(t, "lb_drain", lbtest.HetznerArgs(srv, map[string]any{"target": "auto", "metadata_url": "http://127.0.0.1:1"}))
	lbtest.CheckRun(t, r, true, false, []string{"cannot read instance-id from the hetzner metadata service at http://127.0.0.1:1/hetzner/v1/metadata", "metadata_url"}, "metadata_unavailable")
}

func TestValidateCertsWarns(t *testing.T) {
	srv := lbtest.New(t, lbtest.HetznerLookups(lbtest.H42, lbtest.H43)...)
	r := lbtest.RunModule(t, "lb_register", lbtest.HetznerArgs(srv, map[string]any{"validate_certs": false}))
	lbtest.CheckRun(t, r, false, false, nil, "")
	w, _ := json.Marshal(r.Out["warnings"])
	if !strings.Contains(string(w), "validate_certs is false") {
		t.Errorf("warnings: %s", w)
	}
}
