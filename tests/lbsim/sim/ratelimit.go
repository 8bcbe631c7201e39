package sim

import (
	"math"
	"sync"
	"time"
)

// bucket is Hetzner's rate limit: limit requests, refilled evenly over a
// window (3600/hour = one per second), bursts up to limit allowed.
type bucket struct {
	mu     sync.Mutex
	limit  float64
	rate   float64 // tokens per second
	tokens float64
	last   time.Time
}

func newBucket(limit int, window time.Duration) *bucket {
	return &bucket{limit: float64(limit), rate: float64(limit) / window.Seconds(), tokens: float64(limit), last: time.Now()}
}

// take spends one request if the budget allows; it returns the values of
// the RateLimit-Limit, -Remaining and -Reset headers.
func (b *bucket) take(now time.Time) (ok bool, limit, remaining int, reset int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = math.Min(b.limit, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		ok = true
	}
	full := now.Add(time.Duration((b.limit - b.tokens) / b.rate * float64(time.Second)))
	return ok, int(b.limit), int(math.Floor(b.tokens)), int64(math.Ceil(float64(full.UnixNano()) / 1e9))
}
