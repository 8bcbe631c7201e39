package haproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/watch"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// Tests of the watch signal against a real HAProxy, with real traffic sent
// through it to real backends.

// flaky is a backend that answers 500 to every nth request (0: never), and
// 503 to health checks while sick is set.
type flaky struct {
	addr string
	n    atomic.Int64
	sick atomic.Bool
}

func startFlaky(t *testing.T, every int64) *flaky {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{addr: l.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			if f.sick.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		if n := f.n.Add(1); every > 0 && n%every == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return f
}

// traffic sends GETs through addr from two clients until the test ends, a
// connection each, so that tcp mode balances them too.
func traffic(t *testing.T, addr string) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
				if resp, err := c.Do(req); err == nil {
					resp.Body.Close()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
}

// watchWorld starts HAProxy with backend www: web1 and web2 healthy, and
// bad answering 500 to every badEvery-th request, each checked every 100 ms.
func watchWorld(t *testing.T, badEvery int64) (*haproxytest.HAProxy, *flaky) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real HAProxy; not in -short mode")
	}
	web1, web2, bad := startFlaky(t, 0), startFlaky(t, 0), startFlaky(t, badEvery)
	params := "check inter 100 rise 1 fall 1"
	h := haproxytest.Start(t, haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www",
		Lines: []string{"option httpchk GET /health"},
		Servers: []haproxytest.Server{
			{Name: "web1", Addr: web1.addr, Params: params},
			{Name: "web2", Addr: web2.addr, Params: params},
			{Name: "bad", Addr: bad.addr, Params: params},
		}}}})
	traffic(t, h.Addr("www"))
	return h, bad
}

func runWatch(t *testing.T, h *haproxytest.HAProxy, server string, length time.Duration) (watch.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), length+20*time.Second)
	defer cancel()
	c, err := Dial(ctx, h.Socket)
	if err != nil {
		t.Fatal(err)
	}
	th := watch.Thresholds{MaxErrorRatio: 0.05, MaxLatencyRatio: 3, MinRequests: 20, LatencyFloor: 100 * time.Millisecond}
	sig, err := NewWatchSignal(c, "www", server, th)
	if err != nil {
		t.Fatal(err)
	}
	return watch.Run(ctx, watch.Window{Length: length, Interval: 200 * time.Millisecond}, []watch.Signal{sig})
}

func TestWatchFailsEarlyOn5xx(t *testing.T) {
	t.Parallel()
	h, _ := watchWorld(t, 4) // 25 % of bad's answers are 500
	res, err := runWatch(t, h, "bad", 30*time.Second)
	var we *WindowError
	if !errors.As(err, &we) {
		t.Fatalf("err = %v, want the window to fail", err)
	}
	if !strings.HasPrefix(err.Error(), "the watch of haproxy backend www, server bad failed after ") ||
		!strings.Contains(err.Error(), "requests failed (") || !strings.Contains(err.Error(), " 5xx, 0 response errors, 0 connection errors), above max_error_ratio 0.05") {
		t.Errorf("msg = %v", err)
	}
	if res.Elapsed > 10*time.Second {
		t.Errorf("the watch took %s of 30 s: it did not stop early", res.Elapsed)
	}
	rep := res.Signals[0]
	if rep["hrsp_5xx"].(int) == 0 || rep["requests"].(int) < 20 || rep["kind"] != "haproxy" {
		t.Errorf("report = %v", rep)
	}
	t.Logf("%v; report %v", err, rep)
}

// WindowError is watch.WindowError, for errors.As above.
type WindowError = watch.WindowError

func TestWatchPassesAHealthyServer(t *testing.T) {
	t.Parallel()
	h, _ := watchWorld(t, 4)
	res, err := runWatch(t, h, "web1", 3*time.Second)
	if err != nil || !res.Passed {
		t.Fatalf("err = %v, passed %v", err, res.Passed)
	}
	rep := res.Signals[0]
	if rep["requests"].(int) < 20 || rep["failed"].(int) != 0 || rep["status"] != "UP" {
		t.Errorf("report = %v", rep)
	}
	if got := fmt.Sprint(rep["others"]); got != "[bad web2]" {
		t.Errorf("others = %s, want the backend's other UP servers", got)
	}
}

func TestWatchFailsOnACheckFlap(t *testing.T) {
	t.Parallel()
	h, bad := watchWorld(t, 0) // bad answers requests well, but...
	go func() {
		time.Sleep(time.Second)
		bad.sick.Store(true) // ...fails its health checks for a moment
		time.Sleep(300 * time.Millisecond)
		bad.sick.Store(false)
	}()
	res, err := runWatch(t, h, "bad", 20*time.Second)
	if err == nil || !(strings.Contains(err.Error(), "the server went DOWN during the window, last health check L7STS/503") ||
		strings.Contains(err.Error(), "health checks took the server down 1 time in the window, above max_check_flaps 0")) {
		t.Fatalf("err = %v", err)
	}
	if res.Elapsed > 10*time.Second {
		t.Errorf("the watch took %s: it did not stop at the flap", res.Elapsed)
	}
}

func TestWatchAServerLeftOut(t *testing.T) {
	t.Parallel()
	h, _ := watchWorld(t, 0)
	h.Command(t, "set server www/bad state maint")
	_, err := runWatch(t, h, "bad", 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "s of 20 s: the server was MAINT when the window began: put it back into rotation before the watch") {
		t.Fatalf("err = %v", err)
	}
}

func TestWatchNames(t *testing.T) {
	if _, err := NewWatchSignal(nil, "www", "bad server", watch.Thresholds{}); err == nil {
		t.Error("a server name with a space passed")
	}
}

func TestWatchFailsASlowServer(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a real HAProxy; not in -short mode")
	}
	delayed := func(d time.Duration) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(d) })}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		return l.Addr().String()
	}
	h := haproxytest.Start(t, haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
		{Name: "web1", Addr: delayed(20 * time.Millisecond)},
		{Name: "web2", Addr: delayed(20 * time.Millisecond)},
		{Name: "slow", Addr: delayed(400 * time.Millisecond)},
	}}}})
	// Enough clients that the slow server's turn does not hold them all.
	for range 4 {
		traffic(t, h.Addr("www"))
	}
	res, err := runWatch(t, h, "slow", 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "its response time over the window ") ||
		!strings.Contains(err.Error(), "times the median rtime of the other servers web1, web2 (") {
		t.Fatalf("err = %v, report %v", err, res.Signals)
	}
	t.Logf("%v", err)
}

// TestWindowRespTime: figures read from HAProxy 2.6 while a server that
// had answered in 22 ms for 1330 requests answered in 200 ms (see the
// test above): rtime crawled to 69 and 141, the window's mean is 200.
func TestWindowRespTime(t *testing.T) {
	at := func(req, rtime int) Stat { return Stat{Requests: req, RespTime: rtime} }
	for _, c := range []struct {
		first, last Stat
		min, max    time.Duration
	}{
		{at(1330, 22), at(1509, 69), 170 * time.Millisecond, 230 * time.Millisecond},
		{at(1330, 22), at(1910, 141), 180 * time.Millisecond, 220 * time.Millisecond},
		{at(1330, 22), at(1400, 22), 21 * time.Millisecond, 23 * time.Millisecond},
		{at(0, 0), at(40, 402), 402 * time.Millisecond, 402 * time.Millisecond},    // young: rtime as it is
		{at(1330, 22), at(1330, 22), 22 * time.Millisecond, 22 * time.Millisecond}, // no request yet
	} {
		if got := windowRespTime(c.first, c.last); got < c.min || got > c.max {
			t.Errorf("%+v -> %+v: %s, want %s..%s", c.first, c.last, got, c.min, c.max)
		}
	}
}

// TestWatchTCP: in tcp mode the requests are sessions (stot), and a server
// that refuses connections fails the watch on econ.
func TestWatchTCP(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a real HAProxy; not in -short mode")
	}
	good := startFlaky(t, 0)
	h := haproxytest.Start(t, haproxytest.Config{Mode: "tcp", Defaults: []string{"retries 0"}, Backends: []haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
		{Name: "web1", Addr: good.addr},
		{Name: "gone", Addr: haproxytest.ReserveAddr(t)},
	}}}})
	traffic(t, h.Addr("www"))
	res, err := runWatch(t, h, "gone", 30*time.Second)
	// A session still connecting counts in stot before its econ.
	if err == nil || !strings.Contains(err.Error(), " sessions failed (") || !strings.Contains(err.Error(), "%: 0 5xx, 0 response errors, ") ||
		!strings.Contains(err.Error(), " connection errors), above max_error_ratio 0.05") || res.Signals[0]["econ"].(int) == 0 {
		t.Fatalf("err = %v, report %v", err, res.Signals)
	}
	t.Log(err)
}
