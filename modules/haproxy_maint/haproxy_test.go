package haproxymaint

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
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// Tests against a real HAProxy started by haproxytest.

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real HAProxy; not in -short mode")
	}
}

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
	skipShort(t)
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

// upWatcher polls HAProxy every 10 ms and records when server first shows UP.
func upWatcher(t *testing.T, h *haproxytest.HAProxy, backend, server string) (stop func() (time.Time, []string)) {
	t.Helper()
	var up time.Time
	var seen []string
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-quit:
				return
			default:
			}
			st := h.ServerStat(t, backend, server)["status"]
			if len(seen) == 0 || seen[len(seen)-1] != st {
				seen = append(seen, st)
			}
			if up.IsZero() && st == "UP" {
				up = time.Now()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() (time.Time, []string) {
		close(quit)
		<-finished
		// One last look: on a loaded machine the module can see UP and
		// return between two of the watcher's samples.
		if st := h.ServerStat(t, backend, server)["status"]; up.IsZero() && st == "UP" {
			up = time.Now()
			seen = append(seen, st)
		}
		return up, seen
	}
}

func TestReadyWaitsForHealthCheck(t *testing.T) {
	h, _, _ := twoApps(t, "check inter 500 rise 2 fall 3", haproxytest.Config{})
	h.Command(t, "set server www/web1 state maint")

	stop := upWatcher(t, h, "www", "web1")
	start := time.Now()
	res, end := runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "state": "ready", "timeout": 10})
	up, seen := stop()
	mustSucceed(t, res)
	if up.IsZero() {
		t.Fatalf("web1 never showed UP; statuses seen %v", seen)
	}
	if lag := end.Sub(up); lag > 300*time.Millisecond || lag < -50*time.Millisecond {
		t.Errorf("module returned %s after HAProxy showed UP, want within 0.3s", lag)
	}
	// rise 2, inter 500: two passing checks after the forced DOWN.
	if d := end.Sub(start); d < 400*time.Millisecond {
		t.Errorf("module returned after %s, before two checks could pass", d)
	}
	for _, st := range seen {
		if strings.HasPrefix(st, "UP ") {
			t.Errorf("web1 showed %q: UP before a fresh check passed (statuses %v)", st, seen)
		}
	}
	row := backendRow(t, res, 0)
	if row["admin_state_after"] != "ready" || row["operational_state_after"] != "up" || row["weight_after"] != 1.0 {
		t.Errorf("result: %v", row)
	}
	t.Logf("statuses %v; UP -> module end %s; total %s", seen, end.Sub(up), end.Sub(start))
}

func TestReadyNotListeningGetsNoTraffic(t *testing.T) {
	skipShort(t)
	a2 := haproxytest.StartApp(t, "web2")
	addr := haproxytest.ReserveAddr(t)
	h := haproxytest.Start(t, haproxytest.Config{
		// retries 0: a request routed to web1 fails instead of being
		// retried elsewhere, so the load sees it.
		Defaults: []string{"retries 0"},
		Backends: []haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
			{Name: "web1", Addr: addr, Params: "check inter 200 rise 2 fall 3"},
			{Name: "web2", Addr: a2.Addr, Params: "check inter 200 rise 2 fall 3"},
		}}},
	})
	h.Command(t, "set server www/web1 state maint")

	l := startLoad(h.Frontend())
	start := time.Now()
	res, _ := runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "state": "ready", "timeout": 1})
	counts := l.end()
	if res["failed"] != true {
		t.Fatalf("module succeeded with web1 not listening: %v", res)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("module gave up after %s, before its 1s timeout", d)
	}
	msg := res["msg"].(string)
	// The reason is the check's status, and its detail when HAProxy has
	// one: a check cut short on a loaded machine has none.
	if !strings.Contains(msg, "www/web1 is DOWN") || !strings.Contains(msg, "L4CON") {
		t.Errorf("msg = %q, want the DOWN status and the check's reason", msg)
	}
	st := h.ServerStat(t, "www", "web1")
	if counts["error"] > 0 || st["stot"] != "0" || st["econ"] != "0" {
		t.Errorf("traffic reached web1 while not listening: load %v, web1 stot %s econ %s", counts, st["stot"], st["econ"])
	}
	if st["status"] != "DOWN" || st["weight"] != "1" {
		t.Errorf("web1 after the timeout: status %q weight %q, want DOWN with its weight back", st["status"], st["weight"])
	}

	// Now it starts listening: the next run waits for the checks, then it
	// takes traffic.
	a1 := haproxytest.StartAppAt(t, "web1", addr)
	res, _ = runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "state": "ready", "timeout": 5})
	mustSucceed(t, res)
	if res["changed"] != false {
		t.Errorf("second run changed=%v, want false (already ready)", res["changed"])
	}
	if w := res["waited"].(float64); w <= 0 {
		t.Errorf("second run waited %v s, want > 0 (for the health check)", w)
	}
	for range 4 {
		haproxytest.Get(context.Background(), h.Frontend(), "/")
	}
	if a1.Hits() == 0 {
		t.Errorf("web1 takes no traffic after coming UP")
	}
	t.Logf("load while not listening: %v", counts)
}

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

func TestIdempotenceAndCheckMode(t *testing.T) {
	h, _, _ := twoApps(t, "check inter 200 rise 1 fall 1", haproxytest.Config{})
	drain := map[string]any{"socket": h.Socket, "server": "web1", "backend": "www", "state": "drain", "weight": "50%", "_ansible_diff": true}

	check := map[string]any{"_ansible_check_mode": true}
	for k, v := range drain {
		check[k] = v
	}
	res, _ := runModule(t, check)
	mustSucceed(t, res)
	if res["changed"] != true || h.ServerStat(t, "www", "web1")["status"] != "UP" {
		t.Errorf("check mode: changed=%v, status %q; want changed=true and nothing done", res["changed"], h.ServerStat(t, "www", "web1")["status"])
	}
	diff := res["diff"].(map[string]any)
	if b, a := diff["before"].(map[string]any)["www/web1"], diff["after"].(map[string]any)["www/web1"]; b.(map[string]any)["state"] != "ready" || a.(map[string]any)["state"] != "drain" {
		t.Errorf("check mode diff: %v", diff)
	}

	res, _ = runModule(t, drain)
	mustSucceed(t, res)
	row := backendRow(t, res, 0)
	if res["changed"] != true || row["admin_state_after"] != "drain" || row["weight_before"] != 1.0 || row["weight_after"] != 0.0 {
		// 50% of an initial weight of 1 is 0 in HAProxy's integer arithmetic.
		t.Errorf("apply: %v", res)
	}

	start := time.Now()
	res, _ = runModule(t, drain)
	mustSucceed(t, res)
	if res["changed"] != false {
		t.Errorf("re-apply changed=%v, want false: %v", res["changed"], backendRow(t, res, 0)["changes"])
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("re-apply took %s, want no waiting", d)
	}
	res, _ = runModule(t, check)
	if res["changed"] != false {
		t.Errorf("check mode after apply: changed=%v", res["changed"])
	}
}

func TestShutdownSessionsPolicies(t *testing.T) {
	h, a1, _ := twoApps(t, "", haproxytest.Config{})
	cases := []struct {
		name     string
		policy   string
		failed   bool
		cut      bool
		duration [2]time.Duration // min, max
		msg      string
	}{
		{"never fails at timeout", "never", true, false, [2]time.Duration{time.Second, 2 * time.Second},
			"not drained after 1s: www/web1 still has 1 session and 0 queued. The server stays in drain; raise timeout, or set shutdown_sessions: on_timeout"},
		{"immediately", "immediately", false, true, [2]time.Duration{0, 500 * time.Millisecond}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.Command(t, "set server www/web1 state ready")
			h.Command(t, "set server www/web2 state maint")
			reqDone := make(chan error, 1)
			go func() {
				_, code, err := haproxytest.Get(context.Background(), h.Frontend(), "/sleep?d=3s")
				if err == nil && code == 200 {
					err = errNotCut
				}
				reqDone <- err
			}()
			for a1.Active() == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			h.Command(t, "set server www/web2 state ready")
			start := time.Now()
			res, end := runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "state": "drain", "timeout": 1, "shutdown_sessions": tc.policy})
			if d := end.Sub(start); d < tc.duration[0] || d > tc.duration[1] {
				t.Errorf("took %s, want %s to %s", d, tc.duration[0], tc.duration[1])
			}
			if res["failed"] != tc.failed {
				t.Fatalf("failed=%v, want %v: %v", res["failed"], tc.failed, res)
			}
			if tc.failed {
				if msg := res["msg"].(string); !strings.Contains(msg, tc.msg) {
					t.Errorf("msg %q lacks %q", msg, tc.msg)
				}
				if row := backendRow(t, res, 0); row["admin_state_after"] != "drain" {
					t.Errorf("after a failed drain the server is %v, want still drain", row["admin_state_after"])
				}
			}
			err := <-reqDone
			if cut := err != errNotCut; cut != tc.cut {
				t.Errorf("request cut=%v (err %v), want %v", cut, err, tc.cut)
			}
		})
	}
}
