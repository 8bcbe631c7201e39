package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/haproxy/haproxytest"
)

// Tests against a real HAProxy started by haproxytest.

// runModule runs the module on params as Ansible would and returns the
// decoded result and when it ended.
func runModule(t *testing.T, params map[string]any) (map[string]any, time.Time) {
	t.Helper()
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ansible.RunArgs(context.Background(), spec, b, &out, run)
	end := time.Now()
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("module output is not JSON: %v\n%s", err, out.String())
	}
	return res, end
}

func mustSucceed(t *testing.T, res map[string]any) {
	t.Helper()
	if res["failed"] == true {
		t.Fatalf("module failed: %v\n%v", res["msg"], res)
	}
}

func backendRow(t *testing.T, res map[string]any, i int) map[string]any {
	t.Helper()
	bs, _ := res["backends"].([]any)
	if len(bs) <= i {
		t.Fatalf("want at least %d backends in the result, got %v", i+1, res["backends"])
	}
	return bs[i].(map[string]any)
}

// twoApps starts web1 and web2 behind backend www.
func twoApps(t *testing.T, params string, cfg haproxytest.Config) (*haproxytest.HAProxy, *haproxytest.App, *haproxytest.App) {
	t.Helper()
	a1 := haproxytest.StartApp(t, "web1")
	a2 := haproxytest.StartApp(t, "web2")
	cfg.Backends = append([]haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
		{Name: "web1", Addr: a1.Addr, Params: params},
		{Name: "web2", Addr: a2.Addr, Params: params},
	}}}, cfg.Backends...)
	return haproxytest.Start(t, cfg), a1, a2
}

// load sends requests through addr until stop is closed and counts them by
// the server that answered; failures are counted under "error".
type load struct {
	mu     sync.Mutex
	counts map[string]int
	stop   chan struct{}
	done   sync.WaitGroup
	n      atomic.Int64
}

func startLoad(addr string) *load {
	l := &load{counts: map[string]int{}, stop: make(chan struct{})}
	for range 4 {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				srv, code, err := haproxytest.Get(ctx, addr, "/")
				cancel()
				key := srv
				if err != nil || code != 200 {
					key = "error"
				}
				l.mu.Lock()
				l.counts[key]++
				l.mu.Unlock()
				l.n.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) end() map[string]int {
	close(l.stop)
	l.done.Wait()
	return l.counts
}

func TestDrainWaitsForRequestInFlight(t *testing.T) {
	h, a1, _ := twoApps(t, "", haproxytest.Config{})

	// Pin the slow request to web1: web2 in maint for a moment.
	h.Command(t, "set server www/web2 state maint")
	reqDone := make(chan time.Time, 1)
	go func() {
		srv, code, err := haproxytest.Get(context.Background(), h.Frontend(), "/sleep?d=2s")
		if err != nil || code != 200 || srv != "web1" {
			t.Errorf("slow request: server %q code %d err %v", srv, code, err)
		}
		reqDone <- time.Now()
	}()
	for a1.Active() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	h.Command(t, "set server www/web2 state ready")

	type outcome struct {
		res map[string]any
		end time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		res, end := runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "state": "drain", "timeout": 10})
		done <- outcome{res, end}
	}()
	// Load starts once HAProxy shows the drain: from then on, no new request
	// may reach web1.
	for h.ServerStat(t, "www", "web1")["status"] != "DRAIN" {
		time.Sleep(2 * time.Millisecond)
	}
	hitsBefore := a1.Hits()
	l := startLoad(h.Frontend())
	o := <-done
	counts := l.end()
	res, end := o.res, o.end
	mustSucceed(t, res)
	reqEnd := <-reqDone

	if end.Before(reqEnd) {
		t.Errorf("module returned %s before the request in flight ended", reqEnd.Sub(end))
	}
	if lag := end.Sub(reqEnd); lag > 500*time.Millisecond {
		t.Errorf("module returned %s after the request ended, want < 0.5s", lag)
	}
	if got := a1.Hits() - hitsBefore; got != 0 {
		t.Errorf("drained web1 got %d new requests", got)
	}
	if counts["error"] > 0 || counts["web2"] == 0 || counts["web1"] > 0 {
		t.Errorf("traffic during the drain: %v, want all on web2", counts)
	}
	row := backendRow(t, res, 0)
	if res["changed"] != true || row["admin_state_after"] != "drain" || row["sessions_before"] != 1.0 || row["sessions_after"] != 0.0 {
		t.Errorf("result: %v", res)
	}
	if w := res["waited"].(float64); w < 1.5 {
		t.Errorf("waited %v s, want about 2", w)
	}
	t.Logf("request end -> module end: %s; traffic %v", end.Sub(reqEnd), counts)
}

func TestMaintShutdownOnTimeout(t *testing.T) {
	h, a1, _ := twoApps(t, "", haproxytest.Config{})
	h.Command(t, "set server www/web2 state maint")
	reqErr := make(chan error, 1)
	go func() {
		_, code, err := haproxytest.Get(context.Background(), h.Frontend(), "/sleep?d=5s")
		if err == nil && code == 200 {
			err = errNotCut
		}
		reqErr <- err
	}()
	for a1.Active() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	h.Command(t, "set server www/web2 state ready")

	start := time.Now()
	res, end := runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "state": "maint", "timeout": 1, "shutdown_sessions": "on_timeout"})
	mustSucceed(t, res)
	if d := end.Sub(start); d < time.Second || d > 2500*time.Millisecond {
		t.Errorf("module took %s, want about the 1s timeout", d)
	}
	select {
	case err := <-reqErr:
		if err == errNotCut {
			t.Errorf("the 5s request completed: its session was not cut")
		}
	case <-time.After(2 * time.Second):
		t.Errorf("the request in flight is still running after the module returned")
	}
	warns, _ := res["warnings"].([]any)
	if len(warns) != 1 || !strings.Contains(warns[0].(string), "shut down") {
		t.Errorf("warnings = %v, want one about shut down sessions", warns)
	}
	row := backendRow(t, res, 0)
	if row["admin_state_after"] != "maint" || row["sessions_after"] != 0.0 || row["sessions_shut_down"] != true {
		t.Errorf("result: %v", row)
	}
}

type sentinel string

func (s sentinel) Error() string { return string(s) }

const errNotCut = sentinel("request completed")
