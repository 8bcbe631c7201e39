package haproxy_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
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

// watchNode polls web1's status on node every 10 ms and calls then once,
// the first time cond holds, until the returned stop is called.
func watchNode(node *haproxytest.HAProxy, cond func(status string) bool, then func()) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if st, err := node.ServerStatus("www", "web1"); err == nil && cond(st) {
				then()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() { cancel(); <-done }
}

// rolePlay runs one of the deploy role's step loops on app1 (out: the
// checks and the drain; back: the verify of app and the register), with the
// two HAProxy nodes lb1 and lb2 (each with its own socket, set as its host
// variable) in deploy_haproxy_hosts.
func rolePlay(t *testing.T, coll *ansibletest.Collection, nodes []*haproxytest.HAProxy, app *haproxytest.App, tasksFrom string) (*ansibletest.Run, time.Duration) {
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
		// web1 is the backend's only server.
		"deploy_min_healthy": 0,
		// The checks want a deploy step; this play runs none.
		"deploy_tasks_file": "unused.yml", "deploy_verify_url": "http://" + app.Addr + "/",
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
	// Slow health checks, HAProxy's default interval (inter 2s): a register
	// waits 4-6 s on each node, longer than the role takes to reach the
	// next node even on a busy machine.
	cfg := haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
		{Name: "web1", Addr: app.Addr, Params: "check inter 2s rise 3 fall 2"}}}}}
	nodes := []*haproxytest.HAProxy{haproxytest.Start(t, cfg), haproxytest.Start(t, cfg)}

	// Drain with a request in flight on lb1 that lasts until lb2 has taken
	// web1 out, or 20 s at most (inside the drain timeout). A role that
	// drains the nodes one after the other waits on lb1 for that request
	// before it touches lb2, so lb2 goes into maintenance only after the
	// request ended on its own. The request's end comes from what the role
	// does, not from a guess at how soon ansible-playbook starts.
	const hold = 20 * time.Second
	requestEnded := make(chan time.Time, 1)
	var over atomic.Bool
	go func() {
		resp, err := http.Get("http://" + nodes[0].Addr("www") + "/hold?d=" + hold.String())
		if err == nil {
			resp.Body.Close()
		}
		over.Store(true)
		requestEnded <- time.Now()
	}()
	for deadline := time.Now().Add(5 * time.Second); app.Active() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached web1")
		}
	}
	releasedEarly := make(chan bool, 1)
	stop := watch(nodes, func(st string) bool { return st == "MAINT" })
	stopRelease := watchNode(nodes[1], func(st string) bool { return st == "MAINT" }, func() {
		early := !over.Load()
		app.Release()
		releasedEarly <- early
	})
	start := time.Now()
	_, drainTook := rolePlay(t, coll, nodes, app, "out")
	ended := <-requestEnded
	stopRelease()
	inMaint := stop()
	for i, at := range inMaint {
		if at.IsZero() {
			t.Fatalf("web1 never went into maintenance on lb%d", i+1)
		}
	}
	t.Logf("drain: %s; web1 in maintenance on lb1 after %s, on lb2 after %s; the request on lb1 ended after %s",
		drainTook.Round(time.Millisecond), inMaint[0].Sub(start).Round(time.Millisecond),
		inMaint[1].Sub(start).Round(time.Millisecond), ended.Sub(start).Round(time.Millisecond))
	early := false
	select {
	case early = <-releasedEarly:
	default: // lb2's poller had not seen it yet: it was late
	}
	if !early {
		t.Errorf("lb2 took web1 out %s after the drain started, only after lb1's request had ended after %s: the nodes were drained one after the other",
			inMaint[1].Sub(start).Round(time.Millisecond), ended.Sub(start).Round(time.Millisecond))
	}

	// Register: web1 comes out of maintenance on both nodes before either
	// calls it UP (three checks two seconds apart).
	left := watch(nodes, func(st string) bool { return st != "MAINT" })
	up := watch(nodes, func(st string) bool { return st == "UP" })
	start = time.Now()
	_, registerTook := rolePlay(t, coll, nodes, app, "back")
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
