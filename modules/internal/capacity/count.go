package capacity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// Count is one pool seen without the target to take out.
type Count struct {
	Pool    string // how messages name it: "load balancer web-lb"
	Healthy int    // other targets that count as healthy
	Others  int    // other targets in any state
	// Complete says that Others counts every target that could come
	// back: true where a target out of rotation stays listed (HAProxy,
	// a health-check drain), false where a drain removes it from the
	// pool (an earlier drain of the batch is then not counted).
	Complete bool
	// Reserved are the holders of the healthy targets reserved to go out,
	// not counted in Healthy.
	Reserved []string
}

// ShortError says that taking Target out would leave a pool with fewer
// than Min healthy targets, with what the user can change.
type ShortError struct {
	Target     string
	Min        int
	Short      []Count // the pools that are short
	Impossible bool    // a complete pool has fewer than Min other targets at all
	Waited     time.Duration
	Waits      bool // wait_for_capacity was true
}

func (e *ShortError) Error() string {
	var parts []string
	fewest := -1 // the fewest other targets of a short pool
	for _, c := range e.Short {
		parts = append(parts, c.String())
		if fewest < 0 || c.Others < fewest {
			fewest = c.Others
		}
	}
	msg := fmt.Sprintf("refusing to drain %s: min_healthy is %d but %s", e.Target, e.Min, strings.Join(parts, ", "))
	switch {
	case e.Impossible:
		return msg + fmt.Sprintf("; the pool can never keep %d other targets healthy while %s is out: lower min_healthy to %d or less, or add targets; nothing was changed",
			e.Min, e.Target, fewest)
	case e.Waits:
		msg += fmt.Sprintf("; capacity did not come back within %s (timeout)", e.Waited.Round(time.Second))
	default:
		msg += ", and wait_for_capacity is false (its default under the linear strategy, where no host of the batch comes back before this task ends; under strategy free, as in the collection's playbook, a host waits for an earlier one of its batch)"
	}
	return msg + fmt.Sprintf("; nothing was changed. Bring the other targets back to health, take at most %d host(s) out at once (a smaller serial: the pool's targets minus min_healthy), or lower min_healthy", max(fewest+1-e.Min, 1))
}

func (c Count) String() string {
	s := fmt.Sprintf("%s has %d other healthy targets (of %d), %d draining, unhealthy or not yet healthy", c.Pool, c.Healthy, c.Others, c.Others-c.Healthy-len(c.Reserved))
	if len(c.Reserved) > 0 {
		s += fmt.Sprintf(", %d about to go out (reserved by %s)", len(c.Reserved), strings.Join(c.Reserved, "; "))
	}
	return s
}

// Attempt locks the pools, reads and counts them; it returns the locks
// it took.
type Attempt func(ctx context.Context) (*Held, []Count, error)

// Gate decides whether a target may go out of rotation.
type Gate struct {
	Target   string // as messages name it
	Min      int    // min_healthy
	Wait     bool   // wait_for_capacity
	Interval time.Duration
	Options  []wait.Option // beyond the delays: tests inject the clock
}

// Judge returns the ShortError that counts give, or nil when the target
// may go out.
func (g Gate) Judge(counts []Count) *ShortError {
	e := &ShortError{Target: g.Target, Min: g.Min, Waits: g.Wait}
	for _, c := range counts {
		if c.Healthy < g.Min {
			e.Short = append(e.Short, c)
			e.Impossible = e.Impossible || (c.Complete && c.Others < g.Min)
		}
	}
	if len(e.Short) == 0 {
		return nil
	}
	return e
}

// Enter runs attempt until its counts let the target go out, and returns
// the locks it holds then and how long it waited. A short count releases
// the locks; without Wait, or when the pool can never have enough, it
// fails at once, else it counts again, at most Interval apart, for up to
// maxWait.
func (g Gate) Enter(ctx context.Context, maxWait time.Duration, attempt Attempt) (*Held, time.Duration, error) {
	var held *Held
	var last *ShortError
	check := func(ctx context.Context) (wait.Outcome, string, error) {
		h, counts, err := attempt(ctx)
		if err != nil {
			return wait.Failure, "", err
		}
		short := g.Judge(counts)
		if short == nil {
			held = h
			return wait.Success, "", nil
		}
		h.Release()
		last = short
		if short.Impossible || !g.Wait {
			return wait.Failure, "", short
		}
		var parts []string
		for _, c := range short.Short {
			parts = append(parts, c.String())
		}
		return wait.Retry, strings.Join(parts, ", "), nil
	}
	opts := append([]wait.Option{wait.WithDelay(min(200*time.Millisecond, g.Interval), g.Interval), wait.WithFactor(1.25)}, g.Options...)
	res, err := wait.New(check, opts...).Wait(ctx, max(maxWait, time.Millisecond))
	waited := res.Elapsed
	if res.Attempts <= 1 {
		waited = 0 // the count itself is no wait
	}
	var fe *wait.FailureError
	var te *wait.TimeoutError
	switch {
	case err == nil:
		return held, waited, nil
	case errors.As(err, &fe):
		return nil, waited, fe.Err
	case errors.As(err, &te) && last != nil:
		last.Waited = waited
		return nil, waited, last
	}
	return nil, waited, err
}
