// Package haproxy runs zerodowntime.rolling.haproxy_maint through real
// ansible-playbook against real HAProxy processes: missing arguments, check
// mode, apply, re-apply, not found, and an active/active pair.
package haproxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

func startPair(t *testing.T) (*haproxytest.HAProxy, *haproxytest.HAProxy) {
	t.Helper()
	a1 := haproxytest.StartApp(t, "web1")
	a2 := haproxytest.StartApp(t, "web2")
	cfg := haproxytest.Config{Backends: []haproxytest.Backend{
		{Name: "www", Servers: []haproxytest.Server{
			{Name: "web1", Addr: a1.Addr, Params: "check inter 200 rise 2 fall 2"},
			{Name: "web2", Addr: a2.Addr, Params: "check inter 200 rise 2 fall 2"},
		}},
		{Name: "api", Servers: []haproxytest.Server{{Name: "web1", Addr: a1.Addr}}},
	}}
	return haproxytest.Start(t, cfg), haproxytest.Start(t, cfg)
}

const lifecycle = `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: missing state
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        server: web1
      ignore_errors: true

    - name: drain
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        server: web1
        backend: www
        state: drain
        weight: "{{ weight | default(omit) }}"
      register: drain

    - name: drain again
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        server: web1
        backend: www
        state: drain

    - name: ready
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        server: web1
        backend: www
        state: ready
        timeout: 10
`

func TestLifecycle(t *testing.T) {
	coll := ansibletest.Install(t)
	h, _ := startPair(t)

	t.Run("check mode", func(t *testing.T) {
		run := coll.Playbook(t, lifecycle, ansibletest.Vars(map[string]any{"sock": h.Socket}), ansibletest.Check(), ansibletest.Diff())
		res := run.Localhost(t, "drain")
		if res["changed"] != true || res["failed"] == true {
			t.Errorf("check mode drain: %v", res)
		}
		if st := h.ServerStat(t, "www", "web1")["status"]; st != "UP" {
			t.Errorf("check mode changed HAProxy: web1 is %s", st)
		}
		diff, _ := res["diff"].(map[string]any)
		after, _ := diff["after"].(map[string]any)
		if w, _ := after["www/web1"].(map[string]any); w["state"] != "drain" {
			t.Errorf("diff = %v", res["diff"])
		}
	})

	t.Run("apply", func(t *testing.T) {
		run := coll.Playbook(t, lifecycle, ansibletest.Vars(map[string]any{"sock": h.Socket}), ansibletest.Diff())
		if run.ExitCode != 0 {
			t.Fatalf("exit %d", run.ExitCode)
		}
		missing := run.Localhost(t, "missing state")
		if missing["failed"] != true || !strings.Contains(missing["msg"].(string), "missing required arguments: state") {
			t.Errorf("missing state: %v", missing)
		}
		drain := run.Localhost(t, "drain")
		rows, _ := drain["backends"].([]any)
		if drain["changed"] != true || len(rows) != 1 || rows[0].(map[string]any)["admin_state_after"] != "drain" {
			t.Errorf("drain: %v", drain)
		}
		if again := run.Localhost(t, "drain again"); again["changed"] != false {
			t.Errorf("drain again: changed=%v", again["changed"])
		}
		ready := run.Localhost(t, "ready")
		rows, _ = ready["backends"].([]any)
		if ready["changed"] != true || rows[0].(map[string]any)["status_after"] != "UP" {
			t.Errorf("ready: %v", ready)
		}
		if st := h.ServerStat(t, "api", "web1")["status"]; st != "no check" {
			t.Errorf("api/web1 is %s: an explicit backend must leave the others alone", st)
		}
	})
}

func TestNotFoundAndPeerNames(t *testing.T) {
	coll := ansibletest.Install(t)
	h, _ := startPair(t)
	run := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: unknown server
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        server: web9
        state: drain
      ignore_errors: true
    - name: unknown server skipped
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        server: web9
        state: drain
        fail_on_not_found: false
    - name: peer names
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        host: web1
        state: disabled
    - name: peer names back
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        host: web1
        state: enabled
`, ansibletest.Vars(map[string]any{"sock": h.Socket}))
	res := run.Localhost(t, "unknown server")
	if res["failed"] != true || !strings.Contains(res["msg"].(string), `server "web9" not found in any backend`) {
		t.Errorf("unknown server: %v", res)
	}
	res = run.Localhost(t, "unknown server skipped")
	if res["failed"] == true || res["changed"] != false || res["warnings"] == nil {
		t.Errorf("unknown server skipped: %v", res)
	}
	res = run.Localhost(t, "peer names")
	if rows, _ := res["backends"].([]any); res["changed"] != true || len(rows) != 2 {
		t.Errorf("peer names: want web1 in maint in www and api, got %v", res)
	}
	res = run.Localhost(t, "peer names back")
	if res["failed"] == true || h.ServerStat(t, "www", "web1")["status"] != "UP" {
		t.Errorf("peer names back: %v, web1 %s", res, h.ServerStat(t, "www", "web1")["status"])
	}
}

// TestActiveActive drains on both HAProxy nodes with a loop, as the EXAMPLES
// show with delegate_to (here both nodes are local, so the loop is over
// their sockets).
func TestActiveActive(t *testing.T) {
	coll := ansibletest.Install(t)
	h1, h2 := startPair(t)
	run := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: drain on every node
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ item }}"
        server: web1
        backend: www
        state: drain
      delegate_to: localhost
      loop: "{{ sockets }}"
`, ansibletest.Vars(map[string]any{"sockets": []string{h1.Socket, h2.Socket}}))
	if run.ExitCode != 0 {
		t.Fatalf("exit %d", run.ExitCode)
	}
	for i, h := range []*haproxytest.HAProxy{h1, h2} {
		if st := h.ServerStat(t, "www", "web1")["status"]; st != "DRAIN" {
			t.Errorf("node %d: web1 is %s, want DRAIN", i+1, st)
		}
	}
	res := run.Localhost(t, "drain on every node")
	if items, _ := res["results"].([]any); len(items) != 2 {
		t.Errorf("want 2 loop results, got %v", res)
	}
}

// TestInjectedBackendRefused gives the module, as roles/deploy does, a
// backend from a host variable that carries a second runtime API command.
// Each task fails naming backend, and the server the extra command aims
// at, api/web1, stays as it was; the master does not reload.
func TestInjectedBackendRefused(t *testing.T) {
	coll := ansibletest.Install(t)
	a1 := haproxytest.StartApp(t, "web1")
	h := haproxytest.Start(t, haproxytest.Config{MasterWorker: true, Backends: []haproxytest.Backend{
		{Name: "www", Servers: []haproxytest.Server{{Name: "web1", Addr: a1.Addr}}},
		{Name: "api", Servers: []haproxytest.Server{{Name: "web1", Addr: a1.Addr}}},
	}})
	backends := map[string]string{
		"semicolon": "www;set server api/web1 state maint",
		"newline":   "www\nset server api/web1 state maint",
		"master":    "www\nreload",
	}
	inv, err := json.Marshal(map[string]any{"all": map[string]any{"hosts": map[string]any{"localhost": map[string]any{
		"ansible_connection":         "local",
		"ansible_python_interpreter": "/usr/bin/python3",
		"backend_semicolon":          backends["semicolon"],
		"backend_newline":            backends["newline"],
		"backend_master":             backends["master"],
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	run := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: injected backend
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ item.socket }}"
        server: web1
        backend: "{{ hostvars[inventory_hostname]['backend_' ~ item.name] }}"
        state: drain
      loop:
        - {name: semicolon, socket: "{{ sock }}"}
        - {name: newline, socket: "{{ sock }}"}
        - {name: master, socket: "{{ master_sock }}"}
      loop_control:
        label: "{{ item.name }}"
      ignore_errors: true
`, ansibletest.Inventory(string(inv)), ansibletest.Vars(map[string]any{"sock": h.Socket, "master_sock": h.MasterSocket}))
	items, _ := run.Localhost(t, "injected backend")["results"].([]any)
	if len(items) != len(backends) {
		t.Fatalf("want %d loop results, got %d", len(backends), len(items))
	}
	for _, it := range items {
		res := it.(map[string]any)
		name := res["item"].(map[string]any)["name"].(string)
		want := fmt.Sprintf("backend: %q is not a HAProxy backend name", backends[name])
		if msg, _ := res["msg"].(string); res["failed"] != true || !strings.Contains(msg, want) {
			t.Errorf("%s: want a failure with %q, got %v", name, want, res)
		}
	}
	for _, bs := range [][2]string{{"api", "web1"}, {"www", "web1"}} {
		if st := h.ServerStat(t, bs[0], bs[1])["status"]; st != "no check" {
			t.Errorf("%s/%s is %s, want it untouched (no check)", bs[0], bs[1], st)
		}
	}
	if n := h.MasterReloads(t); n != 0 {
		t.Errorf("the master reloaded %d times", n)
	}
}
