package lb

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

const reservePlay = `
- hosts: apps
  gather_facts: false
  vars:
    hz: &hz
      provider: hetzner
      api_token: "{{ token }}"
      endpoint: "{{ hcloud_api }}"
      load_balancer: web-lb
      target: "{{ inventory_hostname }}"
      method: health
      min_healthy: 2
      timeout: 3
  tasks:
    - name: reserve
      zerodowntime.rolling.lb_drain:
        <<: *hz
        reserve: true
      register: reserved
      ignore_errors: true
    - name: drain without the health file
      zerodowntime.rolling.lb_drain: *hz
      when: reserved is succeeded
      ignore_errors: true
`

// TestReserveAcrossForks: the three hosts of one batch reserve in parallel
// forks of ansible-playbook against lbsim, min_healthy 2 on three healthy
// targets; one reserves, the two others fail at once (wait_for_capacity is
// false under the linear strategy). The reserved host's drain, its health
// file never made, times out and drops the reservation.
func TestReserveAcrossForks(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	w := startWorld(t)
	var inv strings.Builder
	inv.WriteString("[apps]\n")
	for i := range hosts {
		fmt.Fprintf(&inv, "app-%d ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n", i+1)
	}
	cache := t.TempDir()
	run := coll.Playbook(t, reservePlay, ansibletest.Inventory(inv.String()), ansibletest.Args("--forks", "3"),
		ansibletest.Env("XDG_CACHE_HOME="+cache),
		ansibletest.Vars(map[string]any{"token": hzToken, "hcloud_api": w.ep.HetznerAPI}))
	if run.ExitCode != 0 {
		t.Fatalf("ansible-playbook exit %d:\n%s\n%s", run.ExitCode, run.Stdout, run.Stderr)
	}
	var reserved []string
	for h, res := range run.Task("reserve") {
		msg, _ := res["msg"].(string)
		f, _ := res["failure"].(map[string]any)
		switch {
		case res["failed"] != true:
			reserved = append(reserved, h)
			if r, _ := res["reserved"].(map[string]any); res["changed"] != false || fmt.Sprint(r["pools"]) != "[load balancer web-lb]" {
				t.Errorf("%s: changed %v, reserved %v", h, res["changed"], r)
			}
		case f["code"] != "min_healthy" || !strings.Contains(msg, "1 about to go out (reserved by pid"):
			t.Errorf("%s: %s", h, msg)
		}
	}
	if len(reserved) != 1 {
		t.Fatalf("reserved on %v, want exactly one host of three", reserved)
	}
	res := run.Task("drain without the health file")[reserved[0]]
	if f, _ := res["failure"].(map[string]any); f["code"] != "timeout" {
		t.Errorf("drain of %s: %v", reserved[0], res["msg"])
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "zerodowntime_rolling", "locks", "*.ledger")); len(m) != 0 {
		t.Errorf("the failed drain left its reservation: %v", m)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "zerodowntime_rolling", "locks", "*.lock")); len(m) != 1 {
		t.Errorf("locks %v, want the load balancer's in XDG_CACHE_HOME", m)
	}
	if st := w.sim.State(); len(st.Hetzner.Actions) != 0 {
		t.Errorf("lbsim changed: actions %v", st.Hetzner.Actions)
	}
}
