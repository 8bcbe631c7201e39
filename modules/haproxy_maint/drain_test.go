package haproxymaint

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

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
