// Package haproxy runs zerodowntime.rolling.haproxy_maint through real
// ansible-playbook against real HAProxy processes: missing arguments, check
// mode, apply, re-apply, not found, and an active/active pair.
package haproxy

import (
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

func result(t *testing.T, run *ansibletest.Run, task string) map[string]any {
	t.Helper()
	hosts := run.Task(task)
	if hosts == nil || hosts["localhost"] == nil {
		t.Fatalf("no result for task %q", task)
	}
	return hosts["localhost"]
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
		res := result(t, run, "drain")
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
		missing := result(t, run, "missing state")
		if missing["failed"] != true || !strings.Contains(missing["msg"].(string), "missing required arguments: state") {
			t.Errorf("missing state: %v", missing)
		}
		drain := result(t, run, "drain")
		rows, _ := drain["backends"].([]any)
		if drain["changed"] != true || len(rows) != 1 || rows[0].(map[string]any)["admin_state_after"] != "drain" {
			t.Errorf("drain: %v", drain)
		}
		if again := result(t, run, "drain again"); again["changed"] != false {
			t.Errorf("drain again: changed=%v", again["changed"])
		}
		ready := result(t, run, "ready")
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
	res := result(t, run, "unknown server")
	if res["failed"] != true || !strings.Contains(res["msg"].(string), `server "web9" not found in any backend`) {
		t.Errorf("unknown server: %v", res)
	}
	res = result(t, run, "unknown server skipped")
	if res["failed"] == true || res["changed"] != false || res["warnings"] == nil {
		t.Errorf("unknown server skipped: %v", res)
	}
	res = result(t, run, "peer names")
	if rows, _ := res["backends"].([]any); res["changed"] != true || len(rows) != 2 {
		t.Errorf("peer names: want web1 in maint in www and api, got %v", res)
	}
	res = result(t, run, "peer names back")
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
	res := result(t, run, "drain on every node")
	if items, _ := res["results"].([]any); len(items) != 2 {
		t.Errorf("want 2 loop results, got %v", res)
	}
}
