package sim_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

func TestHetznerReadsAndHealth(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3, func(c *sim.Config) {
		// Add a label selector target that also resolves app-1..3.
		lb := &c.Hetzner.LoadBalancers[0]
		lb.Targets = append(lb.Targets, sim.Target{Type: "label_selector", LabelSelector: &sim.TargetLabelSelector{Selector: "role=web"}})
	})
	w.backends[1].SetHealthy(false)
	c := w.hcloud()
	ctx := ctxT(t, 10*time.Second)
	port := w.ep.Services[0].ListenPort

	simtest.Eventually(t, 3*time.Second, "health known", func() bool {
		lb, _, err := c.LoadBalancer.GetByID(ctx, 1)
		return err == nil && lb.Targets[0].HealthStatus[0].Status == hcloud.LoadBalancerTargetHealthStatusStatusHealthy &&
			lb.Targets[1].HealthStatus[0].Status == hcloud.LoadBalancerTargetHealthStatusStatusUnhealthy
	})
	lb, _, err := c.LoadBalancer.Get(ctx, "web-lb")
	if err != nil || lb == nil {
		t.Fatalf("Get by name: %v %v", lb, err)
	}
	if lb.ID != 1 || len(lb.Services) != 1 || lb.Services[0].ListenPort != port || lb.Services[0].DestinationPort != w.port {
		t.Fatalf("load balancer = %+v", lb)
	}
	if got := lb.Services[0].HealthCheck.HTTP.Path; got != "/healthz" {
		t.Errorf("health check path = %q", got)
	}
	tests := []struct {
		name   string
		target hcloud.LoadBalancerTarget
		want   hcloud.LoadBalancerTargetHealthStatusStatus
	}{
		{"server healthy", lb.Targets[0], "healthy"},
		{"server unhealthy", lb.Targets[1], "unhealthy"},
		{"server healthy 3", lb.Targets[2], "healthy"},
	}
	for _, tc := range tests {
		if got := tc.target.HealthStatus[0]; got.Status != tc.want || got.ListenPort != port {
			t.Errorf("%s: health = %+v, want %s on %d", tc.name, got, tc.want, port)
		}
	}
	sel := lb.Targets[3]
	if sel.Type != hcloud.LoadBalancerTargetTypeLabelSelector || len(sel.Targets) != 3 {
		t.Fatalf("label selector target = %+v", sel)
	}
	if st := sel.Targets[1]; st.Server.Server.ID != 102 || st.HealthStatus[0].Status != "unhealthy" {
		t.Errorf("label selector child 2 = %+v", st)
	}

	// The raw JSON carries detail and http_status_code for the unhealthy one.
	body := rawGet(t, w, "/load_balancers/1", http.StatusOK)
	if !strings.Contains(body, `"detail":"unexpected_http_status","http_status_code":503`) {
		t.Errorf("no detail for the unhealthy target in %s", body)
	}

	// Name filters and pagination.
	none, _, err := c.LoadBalancer.GetByName(ctx, "nope")
	if err != nil || none != nil {
		t.Errorf("GetByName(nope) = %v, %v; want nil, nil", none, err)
	}
	srv, _, err := c.Server.GetByName(ctx, "app-2")
	if err != nil || srv == nil || srv.ID != 102 || srv.PublicNet.IPv4.IP.String() != w.hosts[1] || srv.Labels["role"] != "web" {
		t.Fatalf("server app-2 = %+v, %v", srv, err)
	}
	all, err := c.Server.All(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("all servers = %d, %v", len(all), err)
	}
	var page struct {
		Servers []json.RawMessage `json:"servers"`
		Meta    struct {
			Pagination struct {
				Page, PerPage, TotalEntries int
				NextPage                    *int `json:"next_page"`
				LastPage                    int  `json:"last_page"`
			} `json:"pagination"`
		} `json:"meta"`
	}
	if err := json.Unmarshal([]byte(rawGet(t, w, "/servers?page=1&per_page=2", 200)), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Servers) != 2 || page.Meta.Pagination.NextPage == nil || *page.Meta.Pagination.NextPage != 2 || page.Meta.Pagination.LastPage != 2 {
		t.Errorf("page 1 of 2 = %+v", page)
	}
	if _, _, err := c.Server.GetByID(ctx, 999); err != nil {
		t.Errorf("missing server should be nil, nil: %v", err)
	}
}

// rawGet calls the Hetzner API without a client library.
func rawGet(t *testing.T, w *world, path string, want int) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, w.ep.HetznerAPI+path, nil)
	req.Header.Set("Authorization", "Bearer "+w.ep.HetznerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = ioCopy(&b, resp)
	if resp.StatusCode != want {
		t.Fatalf("GET %s = %d %s, want %d", path, resp.StatusCode, b.String(), want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s Content-Type = %q", path, ct)
	}
	return b.String()
}

func TestHetznerRemoveAddTarget(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, nil)
	w.waitHealthy(t)
	c := w.hcloud()
	ctx := ctxT(t, 20*time.Second)
	url := w.ep.Services[0].URL

	// A request in flight on app-1 survives remove_target.
	type res struct {
		code int
		body string
		err  error
	}
	long := make(chan res, 1)
	go func() {
		// Round robin: two requests, one per host; keep only app-1's.
		for i := 0; i < 2; i++ {
			code, body, err := simtest.Get(ctx, url+"/?sleep=1500ms")
			if strings.TrimSpace(body) == w.hosts[0] || err != nil {
				long <- res{code, body, err}
				return
			}
		}
		long <- res{err: errors.New("app-1 never answered")}
	}()
	simtest.Eventually(t, 5*time.Second, "request in flight on app-1", func() bool { return w.backends[0].Hits() > 0 })

	a, _, err := c.LoadBalancer.RemoveServerTarget(ctx, &hcloud.LoadBalancer{ID: 1}, &hcloud.Server{ID: 101})
	if err != nil {
		t.Fatalf("remove_target: %v", err)
	}
	if a.Status != hcloud.ActionStatusRunning || a.Command != "remove_target" {
		t.Errorf("new action = %+v", a)
	}
	// A second target action while the first runs: locked.
	_, _, err = c.LoadBalancer.RemoveServerTarget(ctx, &hcloud.LoadBalancer{ID: 1}, &hcloud.Server{ID: 102})
	if !hcloud.IsError(err, hcloud.ErrorCodeLocked) {
		t.Errorf("concurrent action: err = %v, want locked", err)
	}
	start := time.Now()
	if err := c.Action.WaitFor(ctx, a); err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("action took %v, want about the 200ms action delay", d)
	}
	w.sim.ResetCounts()
	for i := 0; i < 6; i++ {
		if code, body, err := simtest.Get(ctx, url+"/"); err != nil || code != 200 || strings.TrimSpace(body) != w.hosts[1] {
			t.Fatalf("after remove: %d %q %v", code, body, err)
		}
	}
	if n := w.sim.Counts().ProxiedByHost[w.hosts[0]]; n != 0 {
		t.Errorf("%d requests reached the removed target", n)
	}
	// The admin state lists the removed target as leaving while its
	// request is in flight, and no longer once it is idle.
	svc := w.sim.State().Hetzner.LoadBalancers[0].Services[0]
	if len(svc.Leaving) != 1 || svc.Leaving[0].ServerID != 101 || svc.Leaving[0].InFlight != 1 || svc.Leaving[0].InRotation {
		t.Errorf("leaving while a request is in flight = %+v, want server 101 with 1 in flight, out of rotation", svc.Leaving)
	}
	for _, m := range svc.Members {
		if m.ServerID == 101 {
			t.Errorf("removed target still a member: %+v", m)
		}
	}
	if r := <-long; r.err != nil || r.code != 200 || strings.TrimSpace(r.body) != w.hosts[0] {
		t.Errorf("in-flight request on the removed target: %d %q %v (want it completed)", r.code, r.body, r.err)
	}
	simtest.Eventually(t, 2*time.Second, "the idle removed target leaves the state", func() bool {
		return len(w.sim.State().Hetzner.LoadBalancers[0].Services[0].Leaving) == 0
	})
	lb, _, _ := c.LoadBalancer.GetByID(ctx, 1)
	if len(lb.Targets) != 1 || lb.Targets[0].Server.Server.ID != 102 {
		t.Errorf("targets after remove = %+v", lb.Targets)
	}

	// Action lookups in both forms.
	rawGet(t, w, "/actions/"+itoa(int(a.ID)), 200)
	rawGet(t, w, "/load_balancers/1/actions/"+itoa(int(a.ID)), 200)
	rawGet(t, w, "/actions/9999", 404)

	// Add it back: unknown until checked, then healthy.
	a, _, err = c.LoadBalancer.AddServerTarget(ctx, &hcloud.LoadBalancer{ID: 1}, hcloud.LoadBalancerAddServerTargetOpts{Server: &hcloud.Server{ID: 101}})
	if err != nil {
		t.Fatalf("add_target: %v", err)
	}
	if err := c.Action.WaitFor(ctx, a); err != nil {
		t.Fatalf("WaitFor add: %v", err)
	}
	lb, _, _ = c.LoadBalancer.GetByID(ctx, 1)
	if got := lb.Targets[1].HealthStatus[0].Status; got != "unknown" {
		t.Errorf("just added target health = %s, want unknown", got)
	}
	_, _, err = c.LoadBalancer.AddServerTarget(ctx, &hcloud.LoadBalancer{ID: 1}, hcloud.LoadBalancerAddServerTargetOpts{Server: &hcloud.Server{ID: 101}})
	if !hcloud.IsError(err, hcloud.ErrorCodeTargetAlreadyDefined) {
		t.Errorf("duplicate add: %v, want target_already_defined", err)
	}
	simtest.Eventually(t, 3*time.Second, "re-added target healthy", func() bool {
		return w.sim.State().HetznerHealth("web-lb", w.ep.Services[0].ListenPort, "app-1") == "healthy"
	})
}

func TestHetznerErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, func(c *sim.Config) { c.Hetzner.RateLimit = sim.RateLimit{Limit: 5, Window: sim.Duration(time.Hour)} })
	ctx := ctxT(t, 10*time.Second)

	bad := hcloud.NewClient(hcloud.WithEndpoint(w.ep.HetznerAPI), hcloud.WithToken("wrong"))
	if _, _, err := bad.LoadBalancer.GetByID(ctx, 1); !hcloud.IsError(err, hcloud.ErrorCodeUnauthorized) {
		t.Errorf("wrong token: %v, want unauthorized", err)
	}
	c := hcloud.NewClient(hcloud.WithEndpoint(w.ep.HetznerAPI), hcloud.WithToken(w.ep.HetznerToken), hcloud.WithRetryOpts(hcloud.RetryOpts{MaxRetries: 0}))
	lb, resp, err := c.LoadBalancer.GetByID(ctx, 1)
	if err != nil || lb == nil {
		t.Fatal(err)
	}
	if rl := resp.Meta.Ratelimit; rl.Limit != 5 || rl.Remaining != 4 || rl.Reset.Before(time.Now()) {
		t.Errorf("rate limit headers = %+v", rl)
	}
	_, _, err = c.LoadBalancer.RemoveServerTarget(ctx, &hcloud.LoadBalancer{ID: 1}, &hcloud.Server{ID: 999})
	if !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		t.Errorf("remove unknown server: %v", err)
	}
	_, _, err = c.LoadBalancer.RemoveIPTarget(ctx, &hcloud.LoadBalancer{ID: 1}, []byte{127, 0, 0, 99})
	if !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		t.Errorf("remove absent ip target: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, w.ep.HetznerAPI+"/load_balancers/1/actions/add_target", strings.NewReader(`{"type":"server"}`))
	req.Header.Set("Authorization", "Bearer "+w.ep.HetznerToken)
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct {
			Code    string
			Details struct{ Fields []struct{ Name string } }
		}
	}
	_ = json.NewDecoder(hr.Body).Decode(&e)
	hr.Body.Close()
	if hr.StatusCode != 400 || e.Error.Code != "invalid_input" || len(e.Error.Details.Fields) != 1 || e.Error.Details.Fields[0].Name != "server" {
		t.Errorf("add_target without server = %d %+v", hr.StatusCode, e)
	}
	// 4 of 5 requests spent (the unauthorized one does not count): the
	// 5th passes, the 6th is 429.
	if _, _, err = c.LoadBalancer.GetByID(ctx, 1); err != nil {
		t.Errorf("5th request: %v", err)
	}
	_, resp, err = c.LoadBalancer.GetByID(ctx, 1)
	if !hcloud.IsError(err, hcloud.ErrorCodeRateLimitExceeded) || resp.StatusCode != 429 || resp.Meta.Ratelimit.Remaining != 0 {
		t.Errorf("over budget: %v, want 429 rate_limit_exceeded", err)
	}
}

func TestHetznerFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, func(c *sim.Config) {
		c.Faults.Hetzner = sim.APIFaults{ThrottleNext: 2, Operations: []string{"GET /load_balancers/{id}"}}
		c.Faults.Actions = sim.ActionFaults{FailNext: 1, ErrorCode: "robot_unavailable", ErrorMessage: "try again"}
	})
	c := w.hcloud()
	ctx := ctxT(t, 10*time.Second)

	// hcloud-go retries rate_limit_exceeded: two throttled, third succeeds.
	if lb, _, err := c.LoadBalancer.GetByID(ctx, 1); err != nil || lb == nil {
		t.Fatalf("GetByID through throttling: %v", err)
	}
	if n := w.sim.Counts().API["hetzner GET /load_balancers/{id}"]; n != 3 {
		t.Errorf("GET /load_balancers/{id} count = %d, want 3 (2 throttled + 1)", n)
	}
	a, _, err := c.LoadBalancer.RemoveServerTarget(ctx, &hcloud.LoadBalancer{ID: 1}, &hcloud.Server{ID: 101})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Action.WaitFor(ctx, a)
	var ae hcloud.ActionError
	if !errors.As(err, &ae) || ae.Code != "robot_unavailable" || ae.Message != "try again" {
		t.Fatalf("WaitFor failing action: %v, want ActionError robot_unavailable", err)
	}
	if lb, _, _ := c.LoadBalancer.GetByID(ctx, 1); len(lb.Targets) != 2 {
		t.Errorf("a failed remove_target changed the targets: %+v", lb.Targets)
	}

	// Injected error codes and statuses at run time.
	cases := []struct {
		name   string
		faults sim.APIFaults
		code   hcloud.ErrorCode
	}{
		{"fail_next conflict is retried", sim.APIFaults{FailNext: 1, FailCode: "conflict"}, ""},
		{"fail_next locked is not", sim.APIFaults{FailNext: 1, FailCode: "locked"}, hcloud.ErrorCodeLocked},
		{"error_rate 503", sim.APIFaults{ErrorRate: 1, ErrorStatus: 503}, "unavailable"},
		{"error_rate 500", sim.APIFaults{ErrorRate: 1}, "server_error"},
	}
	for _, tc := range cases {
		if err := w.sim.SetFaults(sim.Faults{Hetzner: tc.faults}); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.LoadBalancer.GetByID(ctx, 1)
		if tc.code == "" && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.code != "" && !hcloud.IsError(err, tc.code) {
			t.Errorf("%s: err = %v, want %s", tc.name, err, tc.code)
		}
	}
	_ = w.sim.SetFaults(sim.Faults{Hetzner: sim.APIFaults{Latency: sim.Duration(300 * time.Millisecond)}})
	start := time.Now()
	if _, _, err := c.LoadBalancer.GetByID(ctx, 1); err != nil || time.Since(start) < 300*time.Millisecond {
		t.Errorf("latency fault: %v after %v", err, time.Since(start))
	}
}
