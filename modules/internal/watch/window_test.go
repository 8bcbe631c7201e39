package watch

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/failure"
)

// fakeClock advances only when the watch sleeps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return ctx.Err()
}

// script is a signal whose readings are given in advance: reading i (Start
// is reading 0) returns steps[i], the last step repeating.
type script struct {
	name  string
	steps []step
	n     int
}

type step struct {
	fail string // Finding.Msg of a failed finding
	err  error
}

func (s *script) Name() string { return s.name }

func (s *script) next() step {
	st := s.steps[min(s.n, len(s.steps)-1)]
	s.n++
	return st
}

func (s *script) Start(context.Context) error { return s.next().err }

func (s *script) Check(context.Context) (Finding, error) {
	st := s.next()
	return Finding{Failed: st.fail != "", Msg: st.fail}, st.err
}

func (s *script) Report() map[string]any { return map[string]any{"kind": "script", "seen": s.n} }

var (
	errRead    = errors.New("socket did not answer")
	errNoAlarm = failure.Errorf("aws", failure.NotFound, "alarm web-5xx", nil, `CloudWatch alarm "web-5xx" not found`)
	errSlow    = failure.Errorf("aws", failure.Throttled, "", nil, "rate exceeded")
)

func TestRun(t *testing.T) {
	ok := step{}
	for _, c := range []struct {
		name     string
		signals  []*script
		elapsed  time.Duration
		err      string
		readings []int // per signal
	}{
		{name: "passes at the window's end",
			signals: []*script{{name: "a", steps: []step{ok}}, {name: "b", steps: []step{ok}}},
			elapsed: 10 * time.Second, readings: []int{11, 11}},
		{name: "stops at the first failed finding",
			signals: []*script{{name: "a", steps: []step{ok}}, {name: "b", steps: []step{ok, ok, ok, {fail: "12 of 40 requests failed"}}}},
			elapsed: 3 * time.Second, err: "the watch of b failed after 3.0 s of 10 s: 12 of 40 requests failed", readings: []int{4, 4}},
		{name: "a read error is tried again",
			signals: []*script{{name: "a", steps: []step{ok, {err: errRead}, {err: errRead}, ok}}},
			elapsed: 10 * time.Second, readings: []int{11}},
		{name: "a failed start is tried again",
			signals: []*script{{name: "a", steps: []step{{err: errRead}, ok, {fail: "flapped"}}}},
			elapsed: 2 * time.Second, err: "the watch of a failed after 2.0 s of 10 s: flapped"},
		{name: "errors for more than half the window fail it",
			signals: []*script{{name: "a", steps: []step{ok, ok, {err: errRead}}}},
			elapsed: 8 * time.Second,
			err:     "the watch of a failed after 8.0 s of 10 s: could not be read for 6.0 s (7 of 9 readings failed); last error: socket did not answer"},
		{name: "an error that waiting does not mend fails at once",
			signals: []*script{{name: "a", steps: []step{ok}}, {name: "b", steps: []step{{err: errNoAlarm}}}},
			elapsed: 0, err: `the watch of b failed after 0.0 s of 10 s: CloudWatch alarm "web-5xx" not found`},
		{name: "throttling is tried again",
			signals: []*script{{name: "a", steps: []step{ok, {err: errSlow}, ok}}},
			elapsed: 10 * time.Second, readings: []int{11}},
		{name: "a signal never read fails",
			signals: []*script{{name: "a", steps: []step{ok}}, {name: "b", steps: []step{{err: errRead}}}},
			elapsed: 6 * time.Second, err: "the watch of b failed after 6.0 s of 10 s: could not be read for 6.0 s (7 of 7 readings failed)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := &fakeClock{now: time.Unix(1000, 0)}
			var sigs []Signal
			for _, s := range c.signals {
				sigs = append(sigs, s)
			}
			res, err := Run(context.Background(), Window{Length: 10 * time.Second, Interval: time.Second, Sleep: clk.Sleep, Now: clk.Now}, sigs)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("err = %v", err)
			case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
				t.Fatalf("err = %v, want %q", err, c.err)
			}
			if res.Elapsed != c.elapsed {
				t.Errorf("elapsed %s, want %s", res.Elapsed, c.elapsed)
			}
			if res.Passed != (c.err == "") {
				t.Errorf("passed = %v", res.Passed)
			}
			var we *WindowError
			if c.err != "" && (!errors.As(err, &we) || res.Failed == nil || res.Failed.Name() != we.Signal) {
				t.Errorf("failed signal %v, error %#v", res.Failed, err)
			}
			var fe *failure.Error
			if errors.As(err, &fe) != (c.name == "an error that waiting does not mend fails at once") {
				t.Errorf("the failure.Error is lost or made up: %#v", err)
			}
			for i, n := range c.readings {
				if got := res.Signals[i]["readings"]; got != n {
					t.Errorf("signal %d: %v readings, want %d", i, got, n)
				}
			}
			for i, rep := range res.Signals {
				if rep["name"] != c.signals[i].name || rep["kind"] != "script" {
					t.Errorf("report %d = %v", i, rep)
				}
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clk := &fakeClock{now: time.Unix(1000, 0)}
	sleep := func(ctx context.Context, d time.Duration) error {
		cancel()
		return clk.Sleep(ctx, d)
	}
	res, err := Run(ctx, Window{Length: 10 * time.Second, Interval: time.Second, Sleep: sleep, Now: clk.Now},
		[]Signal{&script{name: "a", steps: []step{{}}}})
	if err == nil || !strings.Contains(err.Error(), "the watch stopped after 1.0 s of 10 s: context canceled") || res.Passed {
		t.Errorf("err = %v, passed %v", err, res.Passed)
	}
}

func TestRunBadWindow(t *testing.T) {
	if _, err := Run(context.Background(), Window{Interval: time.Second}, []Signal{&script{name: "a", steps: []step{{}}}}); err == nil {
		t.Error("a window of 0 passed")
	}
	if _, err := Run(context.Background(), Window{Length: time.Second, Interval: time.Second}, nil); err == nil {
		t.Error("no signals passed")
	}
}

func TestThresholds(t *testing.T) {
	th := Thresholds{MaxErrorRatio: 0.05, MaxLatencyRatio: 3, MinRequests: 20, LatencyFloor: 100 * time.Millisecond}
	for _, c := range []struct {
		name string
		f    Finding
		want string
	}{
		{"too few requests", th.Errors(5, 19, "requests", ""), ""},
		{"at the ratio", th.Errors(5, 100, "requests", ""), ""},
		{"above the ratio", th.Errors(23, 112, "requests", "23 5xx, 0 response errors, 0 connection errors"),
			"23 of 112 requests failed (20.5 %: 23 5xx, 0 response errors, 0 connection errors), above max_error_ratio 0.05"},
		{"fast, however many times slower", th.Latency("response time", 90*time.Millisecond, 3*time.Millisecond, "x"), ""},
		{"slow, within the ratio", th.Latency("response time", 300*time.Millisecond, 100*time.Millisecond, "x"), ""},
		{"slow, above the ratio", th.Latency("response time", 412*time.Millisecond, 50*time.Millisecond, "the median of the other servers"),
			"response time 412 ms is 8.2 times the median of the other servers (50 ms), above max_latency_ratio 3"},
		{"no base", th.Latency("response time", time.Second, 0, "x"), ""},
		{"no flap", th.Flaps(0, "x"), ""},
		{"a flap", th.Flaps(1, "the health check went down"), "the health check went down 1 time in the window, above max_check_flaps 0"},
	} {
		if c.f.Failed != (c.want != "") || c.f.Msg != c.want {
			t.Errorf("%s: %+v, want %q", c.name, c.f, c.want)
		}
	}
	if m := Median([]int{5, 1, 3, 2}); m != 2 {
		t.Errorf("median %d", m)
	}
	if p := Percentile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 95); p != 10 {
		t.Errorf("p95 %g", p)
	}
}
