package haproxymaint

import (
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

func TestAutoDetectBackends(t *testing.T) {
	a3 := haproxytest.StartApp(t, "api1")
	h, _, _ := twoApps(t, "", haproxytest.Config{Backends: []haproxytest.Backend{
		{Name: "api", Servers: []haproxytest.Server{{Name: "web1", Addr: a3.Addr}, {Name: "api2", Addr: a3.Addr}}},
		{Name: "static", Servers: []haproxytest.Server{{Name: "s1", Addr: a3.Addr}}},
	}})
	res, _ := runModule(t, map[string]any{"socket": h.Socket, "host": "web1", "state": "disabled"})
	mustSucceed(t, res)
	var got []string
	for i := range res["backends"].([]any) {
		row := backendRow(t, res, i)
		got = append(got, row["backend"].(string)+"/"+row["server"].(string)+"="+row["admin_state_after"].(string))
	}
	if strings.Join(got, ",") != "www/web1=maint,api/web1=maint" {
		t.Errorf("backends = %v, want web1 in www and api put in maint", got)
	}
	if st := h.ServerStat(t, "api", "api2")["status"]; st != "no check" {
		t.Errorf("api/api2 status %q: other servers must not change", st)
	}
	if res["state"] != "maint" {
		t.Errorf("state = %v, want maint (disabled is an alias)", res["state"])
	}

	res, _ = runModule(t, map[string]any{"socket": h.Socket, "host": "web1", "state": "enabled"})
	mustSucceed(t, res)
	if st := h.ServerStat(t, "api", "web1")["status"]; st != "no check" {
		t.Errorf("api/web1 status %q after enabled, want no check", st)
	}
}

func TestNotFound(t *testing.T) {
	h, _, _ := twoApps(t, "", haproxytest.Config{})
	cases := []struct {
		name     string
		params   map[string]any
		failed   bool
		code     string
		contains string
	}{
		{"server in no backend", map[string]any{"server": "web9"}, true, "server_not_found", `server "web9" not found in any backend of HAProxy`},
		{"server not in backend", map[string]any{"server": "web9", "backend": "www"}, true, "server_not_found", `server "web9" not found in backend "www" (its servers: web1, web2)`},
		{"unknown backend", map[string]any{"server": "web1", "backend": "nope"}, true, "backend_not_found", `backend "nope" not found in HAProxy`},
		{"skip with warning", map[string]any{"server": "web9", "fail_on_not_found": false}, false, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := map[string]any{"socket": h.Socket, "state": "drain"}
			for k, v := range tc.params {
				p[k] = v
			}
			res, _ := runModule(t, p)
			if res["failed"] != tc.failed {
				t.Fatalf("failed = %v, want %v: %v", res["failed"], tc.failed, res)
			}
			if !tc.failed {
				if w, _ := res["warnings"].([]any); len(w) != 1 || res["changed"] != false {
					t.Errorf("want changed=false and one warning, got %v", res)
				}
				return
			}
			if msg := res["msg"].(string); !strings.Contains(msg, tc.contains) {
				t.Errorf("msg = %q, want it to contain %q", msg, tc.contains)
			}
			if code := res["failure"].(map[string]any)["code"]; code != tc.code {
				t.Errorf("failure code = %v, want %s", code, tc.code)
			}
		})
	}
}

func TestOperatorLevelSocket(t *testing.T) {
	h, _, _ := twoApps(t, "", haproxytest.Config{SocketLevel: "operator"})
	res, _ := runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "state": "drain"})
	if res["failed"] != true {
		t.Fatalf("drain through an operator socket succeeded: %v", res)
	}
	msg := res["msg"].(string)
	if !strings.Contains(msg, "Permission denied") || !strings.Contains(msg, "level admin") {
		t.Errorf("msg = %q, want HAProxy's answer and the `level admin` advice", msg)
	}
	if code := res["failure"].(map[string]any)["code"]; code != "permission_denied" {
		t.Errorf("failure code = %v", code)
	}
	// Reading works at operator level: check mode reports without failing.
	res, _ = runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "state": "drain", "_ansible_check_mode": true})
	mustSucceed(t, res)
}

func TestMasterSocket(t *testing.T) {
	h, _, _ := twoApps(t, "", haproxytest.Config{MasterWorker: true})
	for _, tc := range []struct {
		name   string
		master any
	}{{"detected", nil}, {"declared", true}} {
		t.Run(tc.name, func(t *testing.T) {
			p := map[string]any{"socket": h.MasterSocket, "server": "web1", "state": "drain"}
			if tc.master != nil {
				p["master_socket"] = tc.master
			}
			res, _ := runModule(t, p)
			mustSucceed(t, res)
			if st := h.ServerStat(t, "www", "web1")["status"]; st != "DRAIN" {
				t.Errorf("status %q after drain through the master socket", st)
			}
			p["state"] = "ready"
			res, _ = runModule(t, p)
			mustSucceed(t, res)

			// Errors come back although the master CLI has no severity output.
			p["server"] = "web9"
			p["backend"] = "www"
			res, _ = runModule(t, p)
			if res["failed"] != true || !strings.Contains(res["msg"].(string), "not found") {
				t.Errorf("unknown server through the master socket: %v", res)
			}
		})
	}
	res, _ := runModule(t, map[string]any{"socket": h.MasterSocket, "server": "web1", "state": "drain", "master_socket": false})
	if res["failed"] != true || !strings.Contains(res["msg"].(string), "master CLI socket") {
		t.Errorf("master_socket: false on a master socket: %v", res)
	}
}
