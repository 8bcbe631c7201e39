package capacity

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// virtualClock makes a wait's sleeps instant.
func virtualClock() wait.Option {
	now := time.Unix(0, 0)
	return wait.WithClock(func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }, func() time.Time { return now })
}

func TestGateEnter(t *testing.T) {
	pool := func(healthy, others int) []Count {
		return []Count{{Pool: "load balancer web", Healthy: healthy, Others: others, Complete: true}}
	}
	cases := map[string]struct {
		wait     bool
		counts   [][]Count // one per attempt, the last one repeated
		attempts int
		want     string // error text; "" for success
		waited   bool
	}{
		"enough": {counts: [][]Count{pool(2, 3)}, attempts: 1},
		"short, no wait": {counts: [][]Count{pool(1, 3)}, attempts: 1,
			want: "refusing to drain web1: min_healthy is 2 but load balancer web has 1 other healthy targets (of 3), 2 draining, unhealthy or not yet healthy, and wait_for_capacity is false (its default under the linear strategy, where no host of the batch comes back before this task ends; under strategy free, as in the collection's playbook, a host waits for an earlier one of its batch); nothing was changed. Bring the other targets back to health, take at most 2 host(s) out at once (a smaller serial: the pool's targets minus min_healthy), or lower min_healthy"},
		"a pool that may have lost targets to a drain waits": {wait: true, counts: [][]Count{{{Pool: "load balancer web", Healthy: 1, Others: 1}}},
			waited: true, want: "capacity did not come back within 10s"},
		"impossible, even waiting": {wait: true, counts: [][]Count{pool(1, 1)}, attempts: 1,
			want: "the pool can never keep 2 other targets healthy while web1 is out: lower min_healthy to 1 or less, or add targets; nothing was changed"},
		"capacity comes back": {wait: true, counts: [][]Count{pool(1, 3), pool(1, 3), pool(2, 3)}, attempts: 3, waited: true},
		"capacity never comes back": {wait: true, counts: [][]Count{pool(0, 3)}, waited: true,
			want: "load balancer web has 0 other healthy targets (of 3), 3 draining, unhealthy or not yet healthy; capacity did not come back within 10s (timeout); nothing was changed. Bring the other targets back to health, take at most 2 host(s) out at once"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			n, locked := 0, 0
			attempt := func(context.Context) (*Held, []Count, error) {
				counts := c.counts[min(n, len(c.counts)-1)]
				n++
				locked++
				return &Held{}, counts, nil
			}
			g := Gate{Target: "web1", Min: 2, Wait: c.wait, Interval: time.Second, Options: []wait.Option{virtualClock(), wait.WithoutJitter()}}
			h, waited, err := g.Enter(context.Background(), 10*time.Second, attempt)
			if c.want == "" {
				if err != nil || h == nil {
					t.Fatalf("err = %v, held %v", err, h)
				}
			} else {
				var se *ShortError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v\nwant %q", err, c.want)
				}
			}
			if c.attempts > 0 && n != c.attempts {
				t.Errorf("%d attempts, want %d", n, c.attempts)
			}
			if (waited > 0) != c.waited {
				t.Errorf("waited %s", waited)
			}
		})
	}
}

func TestGateEnterPassesAttemptErrors(t *testing.T) {
	boom := errors.New("lock: boom")
	g := Gate{Target: "web1", Min: 1, Wait: true, Interval: time.Second, Options: []wait.Option{virtualClock()}}
	_, _, err := g.Enter(context.Background(), time.Minute, func(context.Context) (*Held, []Count, error) { return nil, nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}
