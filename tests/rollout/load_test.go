package rollout

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/demoapp/app"
)

func TestLoadCountsOKFailedAndVersions(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := "127.0.0.11:8081"
		if n.Add(1)%2 == 0 {
			host = "127.0.0.12:8081"
		}
		w.Header().Set("X-App-Host", host)
		w.Header().Set("X-App-Version", "v1")
		if r.URL.Path == "/slow" {
			time.Sleep(50 * time.Millisecond)
		}
		if r.URL.Query().Get("fail") != "" || n.Load()%50 == 0 {
			http.Error(w, "boom", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("v1\n"))
	}))
	defer srv.Close()

	l := StartLoad(context.Background(), LoadOptions{
		URL: srv.URL, Clients: 10, Pause: time.Millisecond,
		SlowMin: 10 * time.Millisecond, SlowMax: 20 * time.Millisecond,
		HostNames: map[string]string{"127.0.0.11:8081": "app-1", "127.0.0.12:8081": "app-2"},
		MaxErrors: 3,
	})
	// Until there is enough to count: 100 requests, some slow, some failed.
	waitFor(t, l, "100 requests, some slow and 3 failed", func(st LoadStats) bool {
		return st.Requests >= 100 && st.Slow > 0 && st.Failed >= 3
	})
	st := l.Stop()
	if st.Slow == 0 || st.Slow >= st.Requests/2 {
		t.Errorf("slow = %d of %d, want a small share (1 client in 10)", st.Slow, st.Requests)
	}
	if st.Failed == 0 {
		t.Errorf("failed = 0, want the server's 503s counted")
	}
	if len(st.Errors) != 3 || !strings.Contains(st.Errors[0], "status 503") {
		t.Errorf("errors = %q, want 3 entries naming status 503", st.Errors)
	}
	if st.ByHost["app-1"]["v1"] == 0 || st.ByHost["app-2"]["v1"] == 0 {
		t.Errorf("by host = %v, want both hosts named and serving v1", st.ByHost)
	}
	if got := st.ByVersion["v1"] + st.Failed; got != st.Requests {
		t.Errorf("ok v1 %d + failed %d != requests %d", st.ByVersion["v1"], st.Failed, st.Requests)
	}
	// Stop is idempotent and nothing runs after it.
	again := l.Stop()
	if again.Requests != st.Requests {
		t.Errorf("requests changed after Stop: %d then %d", st.Requests, again.Requests)
	}
}

func TestLoadTransportErrorsAreFailures(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	l := StartLoad(context.Background(), LoadOptions{URL: url, Clients: 2, SlowEvery: -1, Pause: 5 * time.Millisecond})
	waitFor(t, l, "a request", func(st LoadStats) bool { return st.Requests > 0 })
	st := l.Stop()
	if st.Requests == 0 || st.Failed != st.Requests {
		t.Fatalf("failed %d of %d, want every request failed", st.Failed, st.Requests)
	}
	if !strings.Contains(st.Errors[0], "connection refused") {
		t.Errorf("errors[0] = %q, want the transport error kept", st.Errors[0])
	}
}

func TestLoadStopLetsSlowRequestsFinish(t *testing.T) {
	var done, inFlight atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		time.Sleep(200 * time.Millisecond)
		done.Add(1)
		w.Header().Set("X-App-Version", "v1")
	}))
	defer srv.Close()
	l := StartLoad(context.Background(), LoadOptions{URL: srv.URL, Clients: 4, SlowEvery: 1,
		SlowMin: 200 * time.Millisecond, SlowMax: 200 * time.Millisecond})
	waitFor(t, l, "4 requests in flight", func(LoadStats) bool { return inFlight.Load() == 4 })
	st := l.Stop()
	if st.Failed != 0 || st.Requests != 4 || st.Slow != 4 {
		t.Fatalf("requests %d (slow %d), failed %d: want the 4 in flight finished, none failed (errors %q)",
			st.Requests, st.Slow, st.Failed, st.Errors)
	}
}

// With more front ends, every client spreads its requests over all of
// them (slow clients too), and a failure names the front end.
func TestLoadSpreadsOverFrontEnds(t *testing.T) {
	var hits [2]atomic.Int64
	var slowHits [2]atomic.Int64
	var srvs [2]*httptest.Server
	for i := range srvs {
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			if r.URL.Path == "/slow" {
				slowHits[i].Add(1)
			}
			if i == 1 && r.URL.Path != "/slow" {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}))
		defer srvs[i].Close()
	}
	l := StartLoad(context.Background(), LoadOptions{URL: srvs[0].URL, MoreURLs: []string{srvs[1].URL}, Clients: 2, SlowEvery: 2,
		SlowMin: 5 * time.Millisecond, SlowMax: 5 * time.Millisecond, Pause: 2 * time.Millisecond})
	waitFor(t, l, "5 requests (2 slow) to each front end, a 503 counted", func(st LoadStats) bool {
		return hits[0].Load() >= 5 && hits[1].Load() >= 5 && slowHits[0].Load() >= 2 && slowHits[1].Load() >= 2 && st.Failed > 0
	})
	st := l.Stop()
	for i := range srvs {
		if hits[i].Load() < 5 || slowHits[i].Load() < 2 {
			t.Errorf("front end %d got %d requests (%d slow); want each front end a share of fast and slow ones", i, hits[i].Load(), slowHits[i].Load())
		}
	}
	if st.Failed == 0 || !strings.Contains(st.Errors[0], strings.TrimPrefix(srvs[1].URL, "http://")+"/: status 503") {
		t.Errorf("errors %q (failed %d): want the 503s of the second front end, named", st.Errors, st.Failed)
	}
}

// waitFor polls l until ok holds, for 30 s at most: the counts a test needs
// come by themselves, however slow the machine is today.
func waitFor(t *testing.T, l *Load, what string, ok func(LoadStats) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(l.Snapshot()); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			st := l.Stop()
			t.Fatalf("waiting for %s: not there after 30s: %+v", what, st)
		}
	}
}

// TestLoadSeesABadRelease: behind a demoapp release broken with -broken
// errors, exactly a fifth of the requests fail, each one counted for the
// host and version that sent it.
func TestLoadSeesABadRelease(t *testing.T) {
	bad := &app.App{Version: "v2", Host: "127.0.0.12:8081", Broken: app.BrokenErrors, ErrorShare: app.DefaultErrorShare}
	srv := httptest.NewServer(bad.Handler())
	defer srv.Close()
	l := StartLoad(context.Background(), LoadOptions{
		URL: srv.URL, Clients: 4, Pause: time.Millisecond, SlowMin: time.Millisecond, SlowMax: 2 * time.Millisecond,
		HostNames: map[string]string{"127.0.0.12:8081": "app-2"},
	})
	waitFor(t, l, "100 requests", func(st LoadStats) bool { return st.Requests >= 100 })
	st := l.Stop()
	if want := st.Requests / 5; st.Failed != want || st.FailedByHost["app-2"]["v2"] != want {
		t.Errorf("%d requests: %d failed, %v by host; want exactly %d, all from app-2 v2", st.Requests, st.Failed, st.FailedByHost, want)
	}
	if span := st.FailedSpan["app-2"]; span[0] <= 0 || span[1] < span[0] {
		t.Errorf("failed span %v, want first <= last, after the start", span)
	}
}
