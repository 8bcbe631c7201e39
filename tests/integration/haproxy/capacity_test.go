package haproxy

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// A batch of three hosts behind one three-server backend, each taking its
// own server out with min_healthy 2: under the linear strategy exactly one
// goes out and the two others fail at once, nothing changed; under the
// free strategy the others wait for capacity and follow one at a time.
// Before haproxy_maint had min_healthy, all three went out together.
const capacityPlay = `
- hosts: apps
  gather_facts: false
  strategy: %s
  tasks:
    - name: maint
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        backend: www
        server: "{{ srv }}"
        state: maint
        min_healthy: 2
        timeout: 30
      delegate_to: localhost
      ignore_errors: true
    - name: deploy
      ansible.builtin.wait_for:
        timeout: 1
    - name: ready
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        backend: www
        server: "{{ srv }}"
        state: ready
        timeout: 10
      delegate_to: localhost
`

// maintResults are the maint task's results per host: the free strategy's
// callback document lists the task once per host that started it.
func maintResults(run *ansibletest.Run) map[string]map[string]any {
	all := map[string]map[string]any{}
	for _, hosts := range run.Tasks("maint") {
		for h, res := range hosts {
			all[h] = res
		}
	}
	return all
}

const capacityInventory = `all:
  vars: {ansible_connection: local, ansible_python_interpreter: /usr/bin/python3}
  children:
    apps:
      hosts:
        app1: {srv: web1}
        app2: {srv: web2}
        app3: {srv: web3}
`

// watchOut polls the backend and records the most servers ever out of
// rotation together.
func watchOut(h *haproxytest.HAProxy) (stop func() int) {
	var most atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			out := 0
			for i := 1; i <= 3; i++ {
				if st, err := h.ServerStatus("www", fmt.Sprintf("web%d", i)); err == nil && st != "no check" && st != "UP" {
					out++
				}
			}
			if int64(out) > most.Load() {
				most.Store(int64(out))
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() int { close(done); <-finished; return int(most.Load()) }
}

func TestMinHealthyAcrossABatch(t *testing.T) {
	coll := ansibletest.Install(t)
	var servers []haproxytest.Server
	for i := 1; i <= 3; i++ {
		a := haproxytest.StartApp(t, fmt.Sprintf("web%d", i))
		servers = append(servers, haproxytest.Server{Name: fmt.Sprintf("web%d", i), Addr: a.Addr})
	}
	h := haproxytest.Start(t, haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www", Servers: servers}}})
	opts := []ansibletest.Option{ansibletest.Inventory(capacityInventory), ansibletest.Vars(map[string]any{"sock": h.Socket}),
		ansibletest.Env("XDG_CACHE_HOME=" + t.TempDir()), ansibletest.Args("--forks", "3")}

	t.Run("linear fails fast", func(t *testing.T) {
		stop := watchOut(h)
		run := coll.Playbook(t, fmt.Sprintf(capacityPlay, "linear"), opts...)
		most := stop()
		went, refused, results := 0, 0, maintResults(run)
		if len(results) != 3 {
			t.Fatalf("maint ran on %d hosts, want 3", len(results))
		}
		for host, res := range results {
			inv, _ := res["invocation"].(map[string]any)
			args, _ := inv["module_args"].(map[string]any)
			if args["wait_for_capacity"] != false {
				t.Errorf("%s: wait_for_capacity = %v under linear, want false", host, args["wait_for_capacity"])
			}
			f, _ := res["failure"].(map[string]any)
			switch {
			case res["failed"] != true:
				went++
			case f["code"] == "min_healthy" && strings.Contains(fmt.Sprint(res["msg"]), "wait_for_capacity is false") && res["changed"] == false:
				refused++
			default:
				t.Errorf("%s: %v", host, res["msg"])
			}
		}
		if went != 1 || refused != 2 || most != 1 {
			t.Errorf("%d went out, %d refused, at most %d out together; want 1, 2, 1", went, refused, most)
		}
	})

	t.Run("free waits", func(t *testing.T) {
		stop := watchOut(h)
		run := coll.Playbook(t, fmt.Sprintf(capacityPlay, "free"), opts...)
		most := stop()
		if run.ExitCode != 0 {
			t.Fatalf("exit %d", run.ExitCode)
		}
		waited := 0
		for host, res := range maintResults(run) {
			if res["failed"] == true || res["changed"] != true {
				t.Errorf("%s: %v", host, res["msg"])
			}
			if w, _ := res["capacity_wait"].(float64); w > 0 {
				waited++
			}
		}
		if waited != 2 || most != 1 {
			t.Errorf("%d hosts waited for capacity, at most %d out together; want 2, 1", waited, most)
		}
	})
}
