package haproxymaint

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

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
