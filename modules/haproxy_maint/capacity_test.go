package haproxymaint

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
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

func TestInRotation(t *testing.T) {
	cases := map[string]struct {
		admin  haproxy.AdminFlags
		status string
		weight int
		want   bool
	}{
		"ready and UP":         {0, "UP", 1, true},
		"no check":             {0, "no check", 1, true},
		"UP 1/3 (checks fail)": {0, "UP 1/3", 1, false},
		"DOWN":                 {0, "DOWN", 1, false},
		"NOLB":                 {0, "NOLB", 1, false},
		"drain":                {haproxy.FDrain, "DRAIN", 0, false},
		"maint":                {haproxy.FMaint, "MAINT", 1, false},
		"inherited maint":      {haproxy.IMaint, "MAINT (via www/web0)", 1, false},
		"weight 0":             {0, "UP", 0, false},
	}
	for name, c := range cases {
		if got := inRotation(haproxy.ServerState{Admin: c.admin}, c.status, c.weight); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

// threeApps starts web1, web2 and web3 behind backend www.
func threeApps(t *testing.T) *haproxytest.HAProxy {
	t.Helper()
	skipShort(t)
	var servers []haproxytest.Server
	for i := 1; i <= 3; i++ {
		a := haproxytest.StartApp(t, fmt.Sprintf("web%d", i))
		servers = append(servers, haproxytest.Server{Name: fmt.Sprintf("web%d", i), Addr: a.Addr})
	}
	return haproxytest.Start(t, haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www", Servers: servers}}})
}

// maintAll is a maint of each of the three servers with min_healthy 2.
func maintAll(h *haproxytest.HAProxy, wait bool, timeout int) []map[string]any {
	var params []map[string]any
	for i := 1; i <= 3; i++ {
		params = append(params, map[string]any{"socket": h.Socket, "server": fmt.Sprintf("web%d", i), "backend": "www", "state": "maint",
			"min_healthy": 2, "wait_for_capacity": wait, "timeout": timeout})
	}
	return params
}

// runTogether runs the module once per params at the same time and
// returns the results (any goroutine: no t.Fatal).
func runTogether(params []map[string]any) []map[string]any {
	res := make([]map[string]any, len(params))
	var wg sync.WaitGroup
	for i, p := range params {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(p)
			var out bytes.Buffer
			ansible.RunArgs(context.Background(), spec, b, &out, run)
			if err := json.Unmarshal(out.Bytes(), &res[i]); err != nil {
				res[i] = map[string]any{"failed": true, "msg": "not JSON: " + out.String()}
			}
		}()
	}
	wg.Wait()
	return res
}

func outOfRotation(t *testing.T, h *haproxytest.HAProxy) []string {
	t.Helper()
	var out []string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("web%d", i)
		if st := h.ServerStat(t, "www", name)["status"]; st != "UP" && st != "no check" {
			out = append(out, name)
		}
	}
	return out
}

// Three maint runs started together with min_healthy 2 on a three-server
// backend: one goes out, the two others fail at once without touching
// their server. Without the min_healthy of haproxy_maint all three went.
func TestMinHealthyAcrossRunsFailsFast(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	h := threeApps(t)
	start := time.Now()
	res := runTogether(maintAll(h, false, 10))
	var okCount int
	for i, r := range res {
		f, _ := r["failure"].(map[string]any)
		switch {
		case r["failed"] != true:
			okCount++
		case f["code"] != "min_healthy" || !strings.Contains(r["msg"].(string), "backend www has 1 other healthy targets (of 2)"):
			t.Errorf("run %d: %v", i+1, r["msg"])
		case r["changed"] != false:
			t.Errorf("run %d refused but changed: %v", i+1, r)
		}
	}
	if okCount != 1 {
		t.Errorf("%d runs went ahead, want 1: %v", okCount, res)
	}
	if out := outOfRotation(t, h); len(out) != 1 {
		t.Errorf("out of rotation: %v, want exactly one", out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the refusals took %s, want them at once", d)
	}
}

// With wait_for_capacity, the others wait until the server out comes back
// and then go out one at a time.
func TestMinHealthyAcrossRunsWaits(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	h := threeApps(t)
	params := maintAll(h, true, 20)
	// Whoever is out goes back after a moment, as a host of a free
	// strategy batch registers again after its deploy; the pool never has
	// fewer than two servers in rotation.
	stop := make(chan struct{})
	watched := make(chan error, 1)
	go func() {
		var err error
		for back := 0; back < 3; {
			select {
			case <-stop:
				watched <- err
				return
			case <-time.After(20 * time.Millisecond):
			}
			out := outOfRotation(t, h)
			if len(out) > 1 && err == nil {
				err = fmt.Errorf("%v out of rotation together", out)
			}
			if len(out) == 1 {
				time.Sleep(300 * time.Millisecond)
				h.Command(t, "set server www/"+out[0]+" state ready")
				back++
			}
		}
		watched <- err
	}()
	res := runTogether(params)
	close(stop)
	if err := <-watched; err != nil {
		t.Error(err)
	}
	waitedSome := 0
	for i, r := range res {
		if r["failed"] == true {
			t.Errorf("run %d: %v", i+1, r["msg"])
			continue
		}
		if w, _ := r["capacity_wait"].(float64); w > 0 {
			waitedSome++
		}
	}
	if waitedSome < 2 {
		t.Errorf("%d runs waited for capacity, want 2: %v", waitedSome, res)
	}
}

// Check mode counts and refuses as a real run would, and says when a real
// run would wait instead; it changes nothing.
func TestMinHealthyCheckMode(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	h := threeApps(t)
	h.Command(t, "set server www/web2 state maint")
	args := map[string]any{"socket": h.Socket, "server": "web1", "backend": "www", "state": "drain", "min_healthy": 2, "_ansible_check_mode": true}
	res, _ := runModule(t, args)
	f, _ := res["failure"].(map[string]any)
	if f["code"] != "min_healthy" || res["changed"] != false || !strings.Contains(fmt.Sprint(res["msg"]), "backend www has 1 other healthy targets (of 2), 1 draining") {
		t.Errorf("check mode without waiting: %v", res)
	}
	args["wait_for_capacity"] = true
	res, _ = runModule(t, args)
	if res["failed"] == true || res["changed"] != true || !strings.Contains(fmt.Sprint(res["warnings"]), "would wait for capacity to come back") {
		t.Errorf("check mode with waiting: %v", res)
	}
	if st := h.ServerStat(t, "www", "web1")["status"]; st != "no check" {
		t.Errorf("check mode changed web1: %s", st)
	}
	// A server already out of rotation is never refused.
	args = map[string]any{"socket": h.Socket, "server": "web2", "backend": "www", "state": "drain", "min_healthy": 2}
	if res, _ := runModule(t, args); res["failed"] == true {
		t.Errorf("re-draining web2 from maint: %v", res["msg"])
	}
}
