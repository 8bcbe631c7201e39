package sim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

func TestAdminEndpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, nil)
	call := func(method, path, body string, want int) string {
		t.Helper()
		req, _ := http.NewRequest(method, w.ep.Admin+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return string(b)
	}
	var st sim.State
	if err := json.Unmarshal([]byte(call("GET", "/state", "", 200)), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Hetzner.LoadBalancers) != 1 || len(st.AWS.TargetGroups) != 1 || st.AWS.TargetGroups[0].Targets[0].ID != instanceID(0) {
		t.Errorf("state = %+v", st)
	}
	rawGet(t, w, "/load_balancers/1", 200)
	var c sim.Counts
	_ = json.Unmarshal([]byte(call("GET", "/counts", "", 200)), &c)
	if c.API["hetzner GET /load_balancers/{id}"] != 1 {
		t.Errorf("counts = %+v", c)
	}
	call("POST", "/counts/reset", "", 200)
	c = sim.Counts{}
	_ = json.Unmarshal([]byte(call("GET", "/counts", "", 200)), &c)
	if len(c.API) != 0 {
		t.Errorf("counts after reset = %+v", c)
	}

	cases := []struct {
		name, method, body string
		want               int
		check              func(sim.Faults) bool
	}{
		{"put", "PUT", `{"hetzner":{"throttle_next":3},"aws":{"latency":"250ms"}}`, 200,
			func(f sim.Faults) bool { return f.Hetzner.ThrottleNext == 3 && f.AWS.Latency.D().Milliseconds() == 250 }},
		{"patch keeps the rest", "PATCH", `{"metadata":{"down":true}}`, 200,
			func(f sim.Faults) bool { return f.Hetzner.ThrottleNext == 3 && f.Metadata.Down }},
		{"invalid rate", "PUT", `{"aws":{"error_rate":2}}`, 400, nil},
		{"unknown key", "PUT", `{"hetzner":{"bogus":1}}`, 400, nil},
		{"bad health mode", "PUT", `{"health":[{"target":"app-1","mode":"sometimes"}]}`, 400, nil},
		{"delete", "DELETE", ``, 200, func(f sim.Faults) bool { return f.Hetzner.ThrottleNext == 0 && !f.Metadata.Down }},
	}
	for _, tc := range cases {
		body := call(tc.method, "/faults", tc.body, tc.want)
		if tc.check == nil {
			if !strings.Contains(body, "error") {
				t.Errorf("%s: no error message in %s", tc.name, body)
			}
			continue
		}
		var f sim.Faults
		_ = json.Unmarshal([]byte(body), &f)
		if !tc.check(f) || !tc.check(w.sim.Faults()) {
			t.Errorf("%s: faults = %s", tc.name, body)
		}
	}
	call("GET", "/nope", "", 404)
	var ep sim.Endpoints
	_ = json.Unmarshal([]byte(call("GET", "/endpoints", "", 200)), &ep)
	if ep.HetznerAPI != w.ep.HetznerAPI {
		t.Errorf("endpoints = %+v", ep)
	}
}

func TestAdminClientAndApps(t *testing.T) {
	t.Parallel()
	// A port that is free on a fresh host: taken on another host first.
	_, port := simtest.Backends(t, simtest.Hosts(1)...)
	cfg := &sim.Config{Apps: []sim.App{{Name: "demo", Address: simtest.Hosts(1)[0], Port: port}}}
	s := simtest.Start(t, cfg)
	ctx := ctxT(t, 5*time.Second)
	ac := sim.NewAdminClient(s.Endpoints().Admin)
	if err := ac.SetFaults(ctx, sim.Faults{AWS: sim.APIFaults{ThrottleNext: 1}}); err != nil {
		t.Fatal(err)
	}
	if f, err := ac.Faults(ctx); err != nil || f.AWS.ThrottleNext != 1 {
		t.Errorf("faults = %+v, %v", f, err)
	}
	if err := ac.SetFaults(ctx, sim.Faults{AWS: sim.APIFaults{ErrorRate: 7}}); err == nil || !strings.Contains(err.Error(), "error_rate") {
		t.Errorf("invalid faults: %v", err)
	}
	app := s.Endpoints().Apps[0].URL
	if code, body, _ := simtest.Get(ctx, app+"/"); code != 200 || body != "demo\n" {
		t.Errorf("app / = %d %q", code, body)
	}
	if err := ac.SetAppHealthy(ctx, "demo", false); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := simtest.Get(ctx, app+"/healthz"); code != 503 {
		t.Errorf("unhealthy app /healthz = %d", code)
	}
	if err := ac.SetAppHealthy(ctx, "nope", false); err == nil {
		t.Error("unknown app accepted")
	}
	st, err := ac.State(ctx)
	if err != nil || len(st.Apps) != 1 || st.Apps[0].Healthy || st.Apps[0].Served != 1 {
		t.Errorf("state apps = %+v, %v", st.Apps, err)
	}
	if err := ac.ResetCounts(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := ac.Counts(ctx); err != nil || len(n.API) != 0 {
		t.Errorf("counts = %+v, %v", n, err)
	}
}
