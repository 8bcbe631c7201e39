package haproxy_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// watch polls web1's status on every node every 10 ms until stop is called,
// and returns when each node's status first matched cond (zero if never).
func watch(nodes []*haproxytest.HAProxy, cond func(status string) bool) (stop func() []time.Time) {
	ctx, cancel := context.WithCancel(context.Background())
	at := make([]time.Time, len(nodes))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for i, n := range nodes {
				if st, err := n.ServerStatus("www", "web1"); err == nil && at[i].IsZero() && cond(st) {
					at[i] = time.Now()
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() []time.Time {
		cancel()
		wg.Wait()
		return at
	}
}

// rolePlay runs one of the deploy role's task files on app1, with the two
// HAProxy nodes lb1 and lb2 (each with its own socket, set as its host
// variable) in deploy_haproxy_hosts.
func rolePlay(t *testing.T, coll *ansibletest.Collection, nodes []*haproxytest.HAProxy, tasksFrom string) (*ansibletest.Run, time.Duration) {
	t.Helper()
	inv := fmt.Sprintf(`all:
  vars: {ansible_connection: local, ansible_python_interpreter: /usr/bin/python3}
  hosts:
    app1: {}
    lb1: {deploy_haproxy_socket: %q}
    lb2: {deploy_haproxy_socket: %q}
`, nodes[0].Socket, nodes[1].Socket)
	play := fmt.Sprintf(`
- hosts: app1
  gather_facts: false
  tasks:
    - name: %s
      ansible.builtin.include_role:
        name: zerodowntime.rolling.deploy
        tasks_from: %s
`, tasksFrom, tasksFrom)
	vars := map[string]any{
		"deploy_lb": "haproxy", "deploy_haproxy_hosts": []string{"lb1", "lb2"},
		"deploy_haproxy_server": "web1", "deploy_haproxy_backend": "www",
		"deploy_drain_timeout": 30, "deploy_register_timeout": 30,
	}
	start := time.Now()
	run := coll.Playbook(t, play, ansibletest.Inventory(inv), ansibletest.Vars(vars))
	took := time.Since(start)
	if run.ExitCode != 0 {
		t.Fatalf("%s: exit %d\n%s", tasksFrom, run.ExitCode, run.Stdout)
	}
	return run, took
}

// TestRoleDrainsAndRegistersOnEveryNodeAtOnce: behind an HAProxy pair the
// role takes the server out of both nodes before it waits on either, and
// puts it back on both before it waits for either's health checks. A role
// that loops over the nodes one after the other fails both checks: the
// second node keeps sending new requests until the first has drained, and
// its health checks start only once the first's have passed.
func TestRoleDrainsAndRegistersOnEveryNodeAtOnce(t *testing.T) {
	coll := ansibletest.Install(t)
	app := haproxytest.StartApp(t, "web1")
	// Slow health checks, as HAProxy's defaults are (inter 2s): a register
	// waits seconds on each node.
	cfg := haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
		{Name: "web1", Addr: app.Addr, Params: "check inter 1s rise 3 fall 2"}}}}}
	nodes := []*haproxytest.HAProxy{haproxytest.Start(t, cfg), haproxytest.Start(t, cfg)}

	// Drain with a 4 s request in flight on lb1: long enough that lb2 takes
	// web1 out well before it ends even when ansible-playbook is slow to
	// start (a second or more on a busy machine).
	requestEnded := make(chan time.Time, 1)
	go func() {
		resp, err := http.Get("http://" + nodes[0].Addr("www") + "/sleep?d=4s")
		if err == nil {
			resp.Body.Close()
		}
		requestEnded <- time.Now()
	}()
	for deadline := time.Now().Add(5 * time.Second); app.Active() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached web1")
		}
	}
	stop := watch(nodes, func(st string) bool { return st == "MAINT" })
	start := time.Now()
	_, drainTook := rolePlay(t, coll, nodes, "drain")
	ended := <-requestEnded
	inMaint := stop()
	for i, at := range inMaint {
		if at.IsZero() {
			t.Fatalf("web1 never went into maintenance on lb%d", i+1)
		}
	}
	t.Logf("drain: %s; web1 in maintenance on lb1 after %s, on lb2 after %s; the request on lb1 ended after %s",
		drainTook.Round(time.Millisecond), inMaint[0].Sub(start).Round(time.Millisecond),
		inMaint[1].Sub(start).Round(time.Millisecond), ended.Sub(start).Round(time.Millisecond))
	if !inMaint[1].Before(ended.Add(-time.Second)) {
		t.Errorf("lb2 took web1 out %s after the drain started, when lb1's request had ended (%s): the nodes were drained one after the other",
			inMaint[1].Sub(start).Round(time.Millisecond), ended.Sub(start).Round(time.Millisecond))
	}

	// Register: web1 comes out of maintenance on both nodes before either
	// calls it UP (three checks a second apart).
	left := watch(nodes, func(st string) bool { return st != "MAINT" })
	up := watch(nodes, func(st string) bool { return st == "UP" })
	start = time.Now()
	_, registerTook := rolePlay(t, coll, nodes, "register")
	leftAt, upAt := left(), up()
	for i := range nodes {
		if upAt[i].IsZero() || leftAt[i].IsZero() {
			t.Fatalf("web1 not back on lb%d: left maintenance %v, UP %v", i+1, leftAt[i], upAt[i])
		}
	}
	first := upAt[0]
	if upAt[1].Before(first) {
		first = upAt[1]
	}
	t.Logf("register: %s; web1 out of maintenance on lb1 after %s, lb2 after %s; UP on lb1 after %s, lb2 after %s",
		registerTook.Round(time.Millisecond),
		leftAt[0].Sub(start).Round(time.Millisecond), leftAt[1].Sub(start).Round(time.Millisecond),
		upAt[0].Sub(start).Round(time.Millisecond), upAt[1].Sub(start).Round(time.Millisecond))
	for i := range nodes {
		if !leftAt[i].Before(first) {
			t.Errorf("lb%d put web1 back %s after the register started, after a node had already called it UP (%s): the nodes were registered one after the other",
				i+1, leftAt[i].Sub(start).Round(time.Millisecond), first.Sub(start).Round(time.Millisecond))
		}
	}
	for i, n := range nodes {
		if st := n.ServerStat(t, "www", "web1")["status"]; !strings.HasPrefix(st, "UP") {
			t.Errorf("lb%d: web1 is %s after the register", i+1, st)
		}
	}
}
