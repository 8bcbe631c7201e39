package wait

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestContextCancelled(t *testing.T) {
	cause := errors.New("interrupted by a signal")
	tests := []struct {
		name       string
		cancelAt   int // cancel during this sleep (1-based); 0: before the wait
		sleepErr   bool
		wantErr    []error
		wantMsg    string
		attempts   int
		wantSleeps int
	}{
		{name: "cancelled before the wait: one check, no sleep", cancelAt: 0, wantErr: []error{cause}, wantMsg: "interrupted by a signal (last observed: draining)", attempts: 1},
		{name: "cancelled during the second sleep", cancelAt: 2, wantErr: []error{cause}, wantMsg: "interrupted by a signal (last observed: draining)", attempts: 2, wantSleeps: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if tt.cancelAt == 0 {
				cancel(cause)
			}
			clk.onSleep = func(n int) error {
				if n == tt.cancelAt {
					cancel(cause)
				}
				return nil
			}
			check, _ := script(clk, step{o: Retry, observed: "draining"})
			res, err := New(check, WithDelay(time.Second, time.Second), WithoutJitter(), clk.option()).Wait(ctx, time.Hour)
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want it to wrap %v", err, want)
				}
			}
			if err == nil || err.Error() != tt.wantMsg {
				t.Errorf("err = %v, want %q", err, tt.wantMsg)
			}
			if res.Attempts != tt.attempts || len(clk.sleeps) != tt.wantSleeps {
				t.Errorf("attempts %d, sleeps %v; want %d attempts, %d sleeps", res.Attempts, clk.sleeps, tt.attempts, tt.wantSleeps)
			}
		})
	}
}

func TestContextCancelledNothingObserved(t *testing.T) {
	clk := newClock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check, _ := script(clk, step{o: Retry})
	_, err := New(check, WithoutJitter(), clk.option()).Wait(ctx, time.Hour)
	if !errors.Is(err, context.Canceled) || err.Error() != "context canceled" {
		t.Errorf("err = %v, want a bare context.Canceled", err)
	}
}

// TestRealClock is the one test that sleeps: a wait notices a state change
// within about one delay.
func TestRealClock(t *testing.T) {
	var ready atomic.Bool
	time.AfterFunc(30*time.Millisecond, func() { ready.Store(true) })
	start := time.Now()
	var changed time.Time
	check := func(context.Context) (Outcome, string, error) {
		if ready.Load() {
			if changed.IsZero() {
				changed = time.Now()
			}
			return Success, "ready", nil
		}
		return Retry, "starting", nil
	}
	res, err := New(check, WithDelay(20*time.Millisecond, 20*time.Millisecond)).Wait(context.Background(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if lag := time.Since(start) - 30*time.Millisecond; lag > 50*time.Millisecond {
		t.Errorf("returned %s after the state changed; want within 50ms (%d attempts)", lag, res.Attempts)
	}
}

func TestRealSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(10*time.Millisecond, func() { cancel(fmt.Errorf("stop")) })
	start := time.Now()
	err := Sleep(ctx, time.Minute)
	if err == nil || err.Error() != "stop" || time.Since(start) > time.Second {
		t.Errorf("Sleep = %v after %s", err, time.Since(start))
	}
}
