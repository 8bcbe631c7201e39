package wait

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeClock sleeps by moving its own now forward, and records every sleep.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
	// onSleep, when set, runs before each sleep returns (to cancel a
	// context mid-wait, for instance).
	onSleep func(n int) error
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	if c.onSleep != nil {
		if err := c.onSleep(len(c.sleeps)); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) option() Option { return WithClock(c.Sleep, c.Now) }

// step is one check result.
type step struct {
	o        Outcome
	observed string
	err      error
	cost     time.Duration // how long the check itself takes
}

// script returns a check that plays steps in order, repeating the last one.
func script(c *fakeClock, steps ...step) (Check, *int) {
	n := 0
	return func(ctx context.Context) (Outcome, string, error) {
		s := steps[min(n, len(steps)-1)]
		n++
		c.now = c.now.Add(s.cost)
		return s.o, s.observed, s.err
	}, &n
}

func ms(n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, v := range n {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

var errRefused = errors.New("connection refused")

func TestWait(t *testing.T) {
	retry := func(obs string) step { return step{o: Retry, observed: obs} }
	tests := []struct {
		name     string
		min, max time.Duration
		factor   float64 // 0: the default
		maxWait  time.Duration
		at       []time.Duration // WithCheckAt, from the start
		skip     bool            // WithoutFirstCheck
		steps    []step
		// want
		sleeps   []time.Duration
		attempts int
		observed string
		elapsed  time.Duration
		err      string // substring; "" for success
		errCheck func(t *testing.T, err error)
	}{
		{
			name: "success at once, no sleep", min: 100 * time.Millisecond, max: time.Second, maxWait: time.Minute,
			steps:  []step{{o: Success, observed: "up"}},
			sleeps: ms(), attempts: 1, observed: "up",
		},
		{
			name: "retries double up to max", min: 100 * time.Millisecond, max: 500 * time.Millisecond, maxWait: time.Minute,
			steps:  []step{retry("a"), retry("b"), retry("c"), retry("d"), retry("e"), {o: Success, observed: "f"}},
			sleeps: ms(100, 200, 400, 500, 500), attempts: 6, observed: "f", elapsed: 1700 * time.Millisecond,
		},
		{
			name: "factor 1.5", min: 200 * time.Millisecond, max: time.Second, factor: 1.5, maxWait: time.Minute,
			steps:  []step{retry("a"), retry("b"), retry("c"), retry("d"), retry("e"), {o: Success, observed: "f"}},
			sleeps: ms(200, 300, 450, 675, 1000), attempts: 6, observed: "f", elapsed: 2625 * time.Millisecond,
		},
		{
			name: "factor 1 is a fixed interval", min: 50 * time.Millisecond, max: time.Second, factor: 1, maxWait: time.Minute,
			steps:  []step{retry("a"), retry("a"), {o: Success}},
			sleeps: ms(50, 50), attempts: 3, observed: "a", elapsed: 100 * time.Millisecond,
		},
		{
			name: "equal min and max is a fixed interval", min: 20 * time.Millisecond, max: 20 * time.Millisecond, maxWait: time.Minute,
			steps:  []step{retry("a"), retry("a"), retry("a"), {o: Success}},
			sleeps: ms(20, 20, 20), attempts: 4, observed: "a", elapsed: 60 * time.Millisecond,
		},
		{
			name: "a check lands on each given moment, then the schedule goes on", min: 100 * time.Millisecond, max: 500 * time.Millisecond, maxWait: time.Minute,
			at:    []time.Duration{1250 * time.Millisecond, 50 * time.Millisecond, -time.Second, 1300 * time.Millisecond},
			steps: []step{retry("a"), retry("b"), retry("c"), retry("d"), retry("e"), retry("f"), retry("g"), retry("h"), {o: Success, observed: "i"}},
			// checks at 0, 0.05, 0.15, 0.35, 0.75, 1.25, 1.3, 1.8, 2.3:
			// the moment in the past is ignored, a cut sleep is an extra
			// check that leaves the schedule's delays as they were.
			sleeps: ms(50, 100, 200, 400, 500, 50, 500, 500), attempts: 9, observed: "i", elapsed: 2300 * time.Millisecond,
		},
		{
			name: "without the first check the schedule is the same, one check fewer", min: 100 * time.Millisecond, max: 500 * time.Millisecond, maxWait: time.Minute,
			skip:  true,
			steps: []step{retry("a"), retry("b"), {o: Success, observed: "c"}},
			// checks at 0.1, 0.3, 0.7 (with the first: 0, 0.1, 0.3, 0.7)
			sleeps: ms(100, 200, 400), attempts: 3, observed: "c", elapsed: 700 * time.Millisecond,
		},
		{
			name: "without the first check a wait shorter than the first delay checks at its end", min: 400 * time.Millisecond, max: 400 * time.Millisecond, maxWait: 100 * time.Millisecond,
			skip:   true,
			steps:  []step{retry("initial")},
			sleeps: ms(100), attempts: 1, observed: "initial", elapsed: 100 * time.Millisecond,
			err: "still not done after 100ms; last observed: initial",
		},
		{
			name: "a moment past the deadline does not stretch the wait", min: 400 * time.Millisecond, max: 400 * time.Millisecond, maxWait: time.Second,
			at:     []time.Duration{5 * time.Second},
			steps:  []step{retry("down")},
			sleeps: ms(400, 400, 200), attempts: 4, observed: "down", elapsed: time.Second,
			err: "still not done after 1s",
		},
		{
			name: "empty observation keeps the previous one", min: time.Second, max: time.Second, maxWait: time.Minute,
			steps:  []step{retry("draining, 2 sessions"), {o: Success}},
			sleeps: ms(1000), attempts: 2, observed: "draining, 2 sessions", elapsed: time.Second,
		},
		{
			name: "last sleep trimmed to the deadline", min: 400 * time.Millisecond, max: 400 * time.Millisecond, maxWait: time.Second,
			steps:  []step{retry("down")},
			sleeps: ms(400, 400, 200), attempts: 4, observed: "down", elapsed: time.Second,
			err: "still not done after 1s; last observed: down",
			errCheck: func(t *testing.T, err error) {
				var te *TimeoutError
				if !errors.As(err, &te) || te.MaxWait != time.Second || te.Observed != "down" || te.LastErr != nil {
					t.Errorf("err = %#v, want *TimeoutError{1s, down, nil}", err)
				}
			},
		},
		{
			name: "slow checks count against the deadline", min: 100 * time.Millisecond, max: 100 * time.Millisecond, maxWait: time.Second,
			steps:  []step{{o: Retry, observed: "slow", cost: 300 * time.Millisecond}},
			sleeps: ms(100, 100), attempts: 3, observed: "slow", elapsed: 1100 * time.Millisecond,
			err: "still not done after 1s",
		},
		{
			name: "timeout carries the last error", min: 100 * time.Millisecond, max: 100 * time.Millisecond, maxWait: 250 * time.Millisecond,
			steps:  []step{retry("503"), {o: Retry, err: errRefused}},
			sleeps: ms(100, 100, 50), attempts: 4, observed: "503", elapsed: 250 * time.Millisecond,
			err: "still not done after 250ms; last observed: 503; last error: connection refused",
			errCheck: func(t *testing.T, err error) {
				var te *TimeoutError
				if !errors.As(err, &te) || !errors.Is(te.LastErr, errRefused) {
					t.Errorf("err = %#v, want a TimeoutError with LastErr", err)
				}
			},
		},
		{
			name: "last error is from the last check", min: 100 * time.Millisecond, max: 100 * time.Millisecond, maxWait: 150 * time.Millisecond,
			steps:  []step{{o: Retry, err: errRefused}, retry("503")},
			sleeps: ms(100, 50), attempts: 3, observed: "503", elapsed: 150 * time.Millisecond,
			err: "still not done after 150ms; last observed: 503",
			errCheck: func(t *testing.T, err error) {
				if strings.Contains(err.Error(), "refused") {
					t.Errorf("err = %v, a later clean check supersedes the error", err)
				}
			},
		},
		{
			name: "failure ends early", min: 100 * time.Millisecond, max: time.Second, maxWait: time.Minute,
			steps:  []step{retry("draining"), {o: Failure, observed: "unhealthy", err: errors.New("target failed its health check")}},
			sleeps: ms(100), attempts: 2, observed: "unhealthy", elapsed: 100 * time.Millisecond,
			err: "target failed its health check",
			errCheck: func(t *testing.T, err error) {
				var fe *FailureError
				if !errors.As(err, &fe) || fe.Observed != "unhealthy" || fe.Err == nil {
					t.Errorf("err = %#v, want *FailureError", err)
				}
			},
		},
		{
			name: "failure without error says what was observed", min: 100 * time.Millisecond, max: time.Second, maxWait: time.Minute,
			steps:  []step{{o: Failure, observed: "target deregistered"}},
			sleeps: ms(), attempts: 1, observed: "target deregistered",
			err: "target deregistered",
		},
		{
			name: "invalid: zero max wait", min: time.Second, max: time.Second, maxWait: 0,
			steps: []step{{o: Success}}, sleeps: ms(), attempts: 0,
			err: "wait: invalid configuration: maximum wait must be > 0, got 0s",
			errCheck: func(t *testing.T, err error) {
				if !errors.Is(err, ErrInvalidWait) {
					t.Errorf("err = %v, want ErrInvalidWait", err)
				}
			},
		},
		{
			name: "invalid: negative max wait", min: time.Second, max: time.Second, maxWait: -time.Second,
			steps: []step{{o: Success}}, sleeps: ms(), attempts: 0,
			err: "maximum wait must be > 0, got -1s",
		},
		{
			name: "invalid: min above max", min: 2 * time.Second, max: time.Second, maxWait: time.Minute,
			steps: []step{{o: Success}}, sleeps: ms(), attempts: 0,
			err: "wait: invalid configuration: delays must satisfy 0 < min (2s) <= max (1s)",
		},
		{
			name: "invalid: factor below 1", min: time.Second, max: time.Second, factor: 0.5, maxWait: time.Minute,
			steps: []step{{o: Success}}, sleeps: ms(), attempts: 0,
			err: "wait: invalid configuration: delay factor must be >= 1, got 0.5",
		},
		{
			name: "invalid: zero min", min: 0, max: time.Second, maxWait: time.Minute,
			steps: []step{{o: Success}}, sleeps: ms(), attempts: 0,
			err: "delays must satisfy 0 < min (0s) <= max (1s)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			check, calls := script(clk, tt.steps...)
			opts := []Option{WithDelay(tt.min, tt.max), WithoutJitter(), clk.option()}
			if tt.factor != 0 {
				opts = append(opts, WithFactor(tt.factor))
			}
			for _, d := range tt.at {
				opts = append(opts, WithCheckAt(clk.now.Add(d)))
			}
			if tt.skip {
				opts = append(opts, WithoutFirstCheck())
			}
			res, err := New(check, opts...).Wait(context.Background(), tt.maxWait)
			if tt.err == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if tt.errCheck != nil {
				tt.errCheck(t, err)
			}
			if !reflect.DeepEqual(clk.sleeps, tt.sleeps) && !(len(clk.sleeps) == 0 && len(tt.sleeps) == 0) {
				t.Errorf("sleeps = %v, want %v", clk.sleeps, tt.sleeps)
			}
			if res.Attempts != tt.attempts || *calls != tt.attempts {
				t.Errorf("attempts = %d (check ran %d times), want %d", res.Attempts, *calls, tt.attempts)
			}
			if res.Observed != tt.observed {
				t.Errorf("observed = %q, want %q", res.Observed, tt.observed)
			}
			if res.Elapsed != tt.elapsed {
				t.Errorf("elapsed = %s, want %s", res.Elapsed, tt.elapsed)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	clk := newClock()
	check, _ := script(clk, step{o: Retry, observed: "x"})
	w := New(check, WithDelay(time.Second, time.Second), clk.option())
	w.Wait(context.Background(), time.Minute)
	if len(clk.sleeps) < 40 {
		t.Fatalf("only %d sleeps", len(clk.sleeps))
	}
	distinct := map[time.Duration]bool{}
	for _, d := range clk.sleeps[:len(clk.sleeps)-1] { // the last one is trimmed
		if d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Errorf("sleep %s outside 1s ±20%%", d)
		}
		distinct[d] = true
	}
	if len(distinct) < 2 {
		t.Errorf("no jitter: sleeps %v", clk.sleeps)
	}
}

func TestErrorTexts(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "timeout bare", err: &TimeoutError{MaxWait: 1500 * time.Microsecond}, want: "still not done after 2ms"},
		{name: "timeout full", err: &TimeoutError{MaxWait: 5 * time.Minute, Observed: "draining, 3 sessions", LastErr: errRefused},
			want: "still not done after 5m0s; last observed: draining, 3 sessions; last error: connection refused"},
		{name: "failure with error", err: &FailureError{Observed: "x", Err: errRefused}, want: "connection refused"},
		{name: "failure without error", err: &FailureError{Observed: "unhealthy"}, want: "unhealthy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	if !errors.Is(&FailureError{Err: errRefused}, errRefused) {
		t.Error("FailureError does not unwrap")
	}
}
