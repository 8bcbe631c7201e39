package hetzner

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rateLimitTransport keeps a module inside the project's request budget
// (3600 an hour by default, refilled one by one): it spaces requests out
// when RateLimit-Remaining runs low, and waits and retries on 429 for as
// long as the request's context allows. hcloud-go only sees a 429 when the
// deadline leaves no room for another try.
//
// It also retries reads (GET, HEAD) answered 500 server_error or 503
// unavailable, a few times with backoff: hcloud-go retries only 502, 504,
// conflict and rate limits, so a single 500 while polling an action failed
// the whole drain. Writes are not retried here: the caller knows whether a
// repeated action is safe (see Pool.action).
type rateLimitTransport struct {
	base  http.RoundTripper
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time

	mu        sync.Mutex
	limit     int
	remaining int
	reset     time.Time
}

// lowWater is the remaining budget below which requests are spaced out, so
// that parallel hosts sharing a project do not all hit 429.
const lowWater = 10

func newRateLimitTransport(base http.RoundTripper, sleep func(context.Context, time.Duration) error) *rateLimitTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	return &rateLimitTransport{base: base, sleep: sleep, now: time.Now, remaining: -1}
}

func (t *rateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	serverRetries := 0
	for attempt := 0; ; attempt++ {
		if d := t.pause(); d > 0 {
			if err := t.fits(ctx, d); err != nil {
				return nil, err
			}
			if err := t.sleep(ctx, d); err != nil {
				return nil, err
			}
		}
		r := req
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		t.observe(resp.Header)
		if retryableRead(req, resp) && serverRetries < maxServerRetries {
			d := serverBackoff(serverRetries)
			if t.fits(ctx, d) != nil {
				return resp, nil
			}
			serverRetries++
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if err := t.sleep(ctx, d); err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode != http.StatusTooManyRequests || (req.Body != nil && req.GetBody == nil) {
			return resp, nil
		}
		d := t.backoff(attempt)
		if t.fits(ctx, d) != nil {
			return resp, nil // let hcloud-go report rate_limit_exceeded
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := t.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

// maxServerRetries bounds the retries of one read answered 500 or 503:
// with serverBackoff, about 8 s of trying, enough for a blip, short enough
// that an outage fails the module with the API's message.
const maxServerRetries = 5

// serverBackoff is the delay before retry n (from 0) of a request answered
// 500 or 503: 250 ms doubling, at most 4 s.
func serverBackoff(n int) time.Duration {
	return min(250*time.Millisecond<<min(n, 4), 4*time.Second)
}

// retryableRead reports a read answered 500 or 503.
func retryableRead(req *http.Request, resp *http.Response) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	return resp.StatusCode == http.StatusInternalServerError || resp.StatusCode == http.StatusServiceUnavailable
}

// fits reports whether sleeping d still leaves time before the deadline.
func (t *rateLimitTransport) fits(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && t.now().Add(d).After(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

func (t *rateLimitTransport) observe(h http.Header) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, err := strconv.Atoi(h.Get("RateLimit-Limit")); err == nil {
		t.limit = v
	}
	if v, err := strconv.Atoi(h.Get("RateLimit-Remaining")); err == nil {
		t.remaining = v
	}
	if v, err := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64); err == nil {
		t.reset = time.Unix(v, 0)
	}
}

// perToken estimates how long the bucket takes to refill one request.
func (t *rateLimitTransport) perToken() time.Duration {
	missing := t.limit - t.remaining
	if t.limit > 0 && missing > 0 && !t.reset.IsZero() {
		if d := t.reset.Sub(t.now()) / time.Duration(missing); d > 0 && d < time.Minute {
			return d
		}
	}
	if t.limit > 0 {
		return min(time.Hour/time.Duration(t.limit), time.Minute)
	}
	return time.Second
}

func (t *rateLimitTransport) pause() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.remaining < 0 || t.remaining > lowWater {
		return 0
	}
	// The fewer requests are left, the longer the pause: at zero, wait for
	// one to come back.
	return t.perToken() * time.Duration(lowWater-t.remaining+1) / time.Duration(lowWater+1)
}

func (t *rateLimitTransport) backoff(attempt int) time.Duration {
	t.mu.Lock()
	base := max(t.perToken(), 200*time.Millisecond)
	t.mu.Unlock()
	return min(base<<min(attempt, 6), 10*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
