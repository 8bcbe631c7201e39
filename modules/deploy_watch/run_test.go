package deploywatch

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible/ansibletest"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

func runModule(t *testing.T, params map[string]any) map[string]any {
	t.Helper()
	res, _ := ansibletest.Call(t, context.Background(), spec, params, run)
	return res
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args map[string]any
		msg  string
	}{
		{"window 0", map[string]any{"provider": "none", "probe_url": "http://x/", "window": 0}, "window must be a positive number of seconds, got 0"},
		{"negative ratio", map[string]any{"provider": "none", "probe_url": "http://x/", "max_error_ratio": -0.1}, "max_error_ratio must be a number of 0 or more, got -0.1"},
		{"min_requests 0", map[string]any{"provider": "none", "probe_url": "http://x/", "min_requests": 0}, "min_requests must be at least 1, got 0"},
		{"probe_url not http", map[string]any{"provider": "none", "probe_url": "ftp://x/"}, `probe_url "ftp://x/" is not an absolute http:// or https:// URL`},
		{"none without probe", map[string]any{"provider": "none"}, "provider is none but all of the following are missing: probe_url"},
		{"haproxy without server", map[string]any{"provider": "haproxy"}, "provider is haproxy but all of the following are missing: server"},
		{"alarms without aws", map[string]any{"provider": "haproxy", "server": "web1", "alarms": []string{"a"}}, "alarms are CloudWatch alarms, read with provider aws only"},
		{"baseline without probe", map[string]any{"provider": "haproxy", "server": "web1", "baseline": true}, "baseline: true probes probe_url, which is not set"},
		{"interval 0", map[string]any{"provider": "none", "probe_url": "http://x/", "interval": 0}, "interval must be a positive number of seconds, got 0"},
		{"pools with haproxy are ignored, with a word", map[string]any{"provider": "haproxy", "server": "web1", "socket": "/nonexistent/s", "target_group_names": []string{"web"}}, "/nonexistent/s"},
		{"probe option without probe", map[string]any{"provider": "haproxy", "server": "web1", "probe_url_password": "s3cret"}, "probe_url_password is an option of the probe, and probe_url is not set"},
		{"bad baseline", map[string]any{"provider": "none", "probe_url": "http://x/", "probe_baseline": map[string]any{"median": 3}}, `probe_baseline has no key "median"`},
		{"baseline not a number", map[string]any{"provider": "none", "probe_url": "http://x/", "probe_baseline": map[string]any{"median_ms": "fast"}}, `probe_baseline.median_ms must be a number: "fast" is not a number`},
		{"baseline without median", map[string]any{"provider": "none", "probe_url": "http://x/", "probe_baseline": map[string]any{"requests": 3}}, "probe_baseline.median_ms must be a positive number"},
		{"bad server name", map[string]any{"provider": "haproxy", "server": "web 1"}, "server: "},
		{"no socket", map[string]any{"provider": "haproxy", "server": "web1", "socket": "/nonexistent/admin.sock"}, "/nonexistent/admin.sock"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := runModule(t, c.args)
			if res["failed"] != true || !strings.Contains(res["msg"].(string), c.msg) {
				t.Errorf("result %v, want msg with %q", res, c.msg)
			}
			if strings.Contains(res["msg"].(string), "s3cret") {
				t.Errorf("the password is in msg")
			}
		})
	}
}

// counting answers 500 to every nth request (0: never).
func counting(t *testing.T, every int64) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		if c := n.Add(1); every > 0 && c%every == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestProbeOnly(t *testing.T) {
	t.Parallel()
	good, _ := counting(t, 0)
	bad, _ := counting(t, 4)
	t.Run("baseline then a pass", func(t *testing.T) {
		t.Parallel()
		res := runModule(t, map[string]any{"provider": "none", "probe_url": good.URL, "baseline": true, "window": 1, "probe_interval": 0.02})
		base, _ := res["baseline"].(map[string]any)
		if res["failed"] == true || base == nil || base["requests"].(float64) < 10 || base["errors"].(float64) != 0 {
			t.Fatalf("baseline run: %v", res)
		}
		res = runModule(t, map[string]any{"provider": "none", "probe_url": good.URL, "probe_baseline": base, "window": 1, "probe_interval": 0.02,
			// The test server answers in well under the floor.
			"latency_floor": 0.05})
		w, _ := res["watch"].(map[string]any)
		if res["failed"] == true || w["passed"] != true || res["changed"] != false {
			t.Fatalf("watch run: %v", res)
		}
	})
	t.Run("500s fail it", func(t *testing.T) {
		t.Parallel()
		res := runModule(t, map[string]any{"provider": "none", "probe_url": bad.URL, "window": 30, "probe_interval": 0.02, "interval": 0.2})
		msg, _ := res["msg"].(string)
		if res["failed"] != true || !strings.HasPrefix(msg, "the watch of probe "+bad.URL+" failed after ") ||
			!strings.Contains(msg, "above max_error_ratio 0.05") {
			t.Fatalf("result %v", res)
		}
		w, _ := res["watch"].(map[string]any)
		if w["passed"] != false || w["elapsed"].(float64) > 10 || len(w["signals"].([]any)) != 1 {
			t.Errorf("watch %v", w)
		}
	})
	t.Run("a probe_url that answers 404 is named", func(t *testing.T) {
		t.Parallel()
		nf := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(nf.Close)
		res := runModule(t, map[string]any{"provider": "none", "probe_url": nf.URL, "baseline": true, "window": 1, "probe_interval": 0.05})
		if w := fmt.Sprint(res["warnings"]); !strings.Contains(w, "probe "+nf.URL+": ") || !strings.Contains(w, " probes were answered with a 4xx status; check probe_url and its credentials") {
			t.Errorf("warnings %s", w)
		}
	})
	t.Run("check mode waits for nothing", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		res := runModule(t, map[string]any{"provider": "none", "probe_url": bad.URL, "window": 30, "_ansible_check_mode": true})
		if res["failed"] == true || res["msg"] != "check mode: would watch probe "+bad.URL+" for 30s, reading every 1s; nothing was watched" {
			t.Fatalf("result %v", res)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("check mode took %s", time.Since(start))
		}
	})
}

// TestHAProxy runs the module against a real HAProxy with traffic.
func TestHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real HAProxy; not in -short mode")
	}
	t.Parallel()
	good, _ := counting(t, 0)
	bad, _ := counting(t, 5)
	h := haproxytest.Start(t, haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
		{Name: "web1", Addr: strings.TrimPrefix(good.URL, "http://")},
		{Name: "web2", Addr: strings.TrimPrefix(bad.URL, "http://")},
	}}}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			if resp, err := http.Get("http://" + h.Addr("www") + "/"); err == nil {
				resp.Body.Close()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	base := map[string]any{"provider": "haproxy", "socket": h.Socket, "backend": "www", "interval": 0.2}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	t.Run("bad server fails early", func(t *testing.T) {
		res := runModule(t, with("server", "web2", "window", 30))
		msg, _ := res["msg"].(string)
		if res["failed"] != true || !strings.HasPrefix(msg, "the watch of haproxy backend www, server web2 failed after ") ||
			!strings.Contains(msg, " 5xx, 0 response errors, 0 connection errors), above max_error_ratio 0.05") {
			t.Fatalf("result %v", res)
		}
		t.Log(msg)
	})
	t.Run("good server passes", func(t *testing.T) {
		res := runModule(t, with("server", "web1", "window", 2))
		w, _ := res["watch"].(map[string]any)
		if res["failed"] == true || w["passed"] != true {
			t.Fatalf("result %v", res)
		}
		sig := w["signals"].([]any)[0].(map[string]any)
		if sig["kind"] != "haproxy" || sig["requests"].(float64) < 20 || sig["failed"].(float64) != 0 {
			t.Errorf("signal %v", sig)
		}
	})
	t.Run("unknown server", func(t *testing.T) {
		res := runModule(t, with("server", "web9"))
		if res["failed"] != true || !strings.Contains(res["msg"].(string), `server "web9" not found in backend "www"`) {
			t.Fatalf("result %v", res)
		}
	})
	t.Run("check mode finds the server", func(t *testing.T) {
		res := runModule(t, with("server", "web2", "_ansible_check_mode", true))
		if res["failed"] == true || res["msg"] != "check mode: would watch haproxy backend www, server web2 for 30s, reading every 0.2s; nothing was watched" {
			t.Fatalf("result %v", res)
		}
	})
}
