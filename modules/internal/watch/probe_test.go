package watch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// app answers 500 to every nth request (0: never), each after delay.
func app(t *testing.T, every int64, delay time.Duration) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		if every > 0 && n.Add(1)%every == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func probeRun(t *testing.T, url string, length time.Duration, base *Baseline, judge bool) (*Probe, Result, error) {
	t.Helper()
	p := NewProbe(ProbeOptions{URL: url, Interval: 10 * time.Millisecond, RequestTimeout: time.Second,
		Client: &http.Client{}, Baseline: base, Judge: judge},
		Thresholds{MaxErrorRatio: 0.05, MaxLatencyRatio: 3, MinRequests: 20, LatencyFloor: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), length+10*time.Second)
	defer cancel()
	res, err := Run(ctx, Window{Length: length, Interval: 100 * time.Millisecond}, []Signal{p})
	return p, res, err
}

func TestProbe(t *testing.T) {
	t.Parallel()
	t.Run("a share of 500s fails it early", func(t *testing.T) {
		t.Parallel()
		srv := app(t, 5, 0)
		_, res, err := probeRun(t, srv.URL, 20*time.Second, nil, true)
		if err == nil || !strings.Contains(err.Error(), "the watch of probe "+srv.URL+" failed after ") ||
			!strings.Contains(err.Error(), " 5xx, 0 transport errors, 0 timeouts; last: status 500), above max_error_ratio 0.05") {
			t.Fatalf("err = %v", err)
		}
		if res.Elapsed > 5*time.Second {
			t.Errorf("took %s", res.Elapsed)
		}
	})
	t.Run("healthy passes", func(t *testing.T) {
		t.Parallel()
		srv := app(t, 0, 0)
		_, res, err := probeRun(t, srv.URL, time.Second, &Baseline{MedianMS: 1}, true)
		if err != nil || !res.Passed {
			t.Fatalf("err = %v", err)
		}
		if n := res.Signals[0]["requests"].(int); n < 20 {
			t.Errorf("%d probes in 1 s at 10 ms", n)
		}
	})
	t.Run("slow against the baseline fails", func(t *testing.T) {
		t.Parallel()
		srv := app(t, 0, 60*time.Millisecond)
		_, _, err := probeRun(t, srv.URL, 20*time.Second, &Baseline{Requests: 50, MedianMS: 5, P95MS: 8}, true)
		if err == nil || !strings.Contains(err.Error(), "the median latency ") ||
			!strings.Contains(err.Error(), " times the baseline's median (5.0 ms), above max_latency_ratio 3") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("refused connections fail it", func(t *testing.T) {
		t.Parallel()
		srv := app(t, 0, 0)
		srv.Close()
		_, _, err := probeRun(t, srv.URL, 20*time.Second, nil, true)
		if err == nil || !strings.Contains(err.Error(), " transport errors, 0 timeouts; last: dial tcp") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("baseline mode measures and never fails", func(t *testing.T) {
		t.Parallel()
		srv := app(t, 2, 15*time.Millisecond)
		p, res, err := probeRun(t, srv.URL, time.Second, nil, false)
		if err != nil || !res.Passed {
			t.Fatalf("err = %v", err)
		}
		f := p.Figures()
		if f.Requests < 10 || f.Errors < f.Requests/3 || f.MedianMS < 15 || f.P95MS < f.MedianMS {
			t.Errorf("figures %+v", f)
		}
	})
}
