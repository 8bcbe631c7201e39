package lb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// Wait polls every pool not yet done until each reaches the goal.
func (s *runState) Wait(ctx context.Context, deadline time.Time) error {
	waitStart := s.actStart
	pending := 0
	for _, pr := range s.pools {
		if !pr.done {
			pending++
		}
	}
	if pending == 0 {
		s.releaseOnceOut()
		return nil
	}
	s.m.Progress("%s; waiting until %s is %s", s.actedSummary(), s.target, s.act.goal(s.a))

	check := func(ctx context.Context) (wait.Outcome, string, error) {
		var pending []*poolRun
		for _, pr := range s.pools {
			if !pr.done {
				pending = append(pending, pr)
			}
		}
		// Every pending pool is read at once; the answers are then taken
		// in the pools' order.
		read := make([][]Member, len(pending))
		errs := eachPool(pending, func(i int, pr *poolRun) error {
			var err error
			read[i], err = pr.pool.Members(WithCounter(ctx, &pr.counter))
			return err
		})
		var observed []string
		for i, pr := range pending {
			ms, err := read[i], errs[i]
			if err != nil {
				if ctx.Err() != nil {
					// The deadline cut this read short (the waiter's
					// last check lands on it): keep the last real
					// observation for the timeout message.
					return wait.Retry, "", nil
				}
				if failure.IsCode(err, failure.Unauthorized, failure.NotFound) {
					return wait.Failure, "", err
				}
				observed = append(observed, fmt.Sprintf("%s: %v", pr.label(), err))
				continue
			}
			st := StateOf(s.target, ms)
			pr.members, pr.after = ms, st
			s.releaseOnceOut()
			outcome, why := s.act.accept(s, pr, st)
			pr.prev = st
			switch outcome {
			case wait.Success:
				pr.done = true
				pr.waited = s.now().Sub(waitStart)
			case wait.Failure:
				return wait.Failure, why, failure.Errorf(s.provider, failure.Unhealthy, pr.label(), nil, "%s", why)
			default:
				observed = append(observed, fmt.Sprintf("%s: %s", pr.label(), st.Describe()))
			}
		}
		if len(observed) == 0 {
			return wait.Success, "", nil
		}
		return wait.Retry, strings.Join(observed, "; "), nil
	}
	interval := s.interval()
	waitOpts := []wait.Option{wait.WithDelay(min(PollMin, interval), interval), wait.WithFactor(PollFactor),
		wait.WithCheckAt(s.drainEnds()...)}
	waitOpts = append(waitOpts, s.act.waitOptions(s)...)
	w := wait.New(check, append(waitOpts, s.r.waitOpts...)...)
	maxWait := deadline.Sub(s.now())
	if maxWait <= 0 {
		maxWait = time.Millisecond
	}
	res, err := w.Wait(ctx, maxWait)
	s.waited = s.now().Sub(waitStart)
	if err == nil {
		return nil
	}
	var te *wait.TimeoutError
	var fe *wait.FailureError
	switch {
	case errors.As(err, &te), errors.Is(err, context.DeadlineExceeded):
		return failure.Errorf(s.provider, failure.Timeout, s.pendingLabels(), err, "%s", s.timeoutMsg(deadline.Sub(s.start), res.Observed))
	case errors.As(err, &fe) && fe.Err != nil:
		return fe.Err
	}
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

func (s *runState) pendingLabels() string {
	var l []string
	for _, pr := range s.pools {
		if !pr.done {
			l = append(l, pr.label())
		}
	}
	return strings.Join(l, ", ")
}

func (s *runState) timeoutMsg(timeout time.Duration, observed string) string {
	return fmt.Sprintf("target %s %s in %s after %s (%s); last observed: %s; %s",
		s.target, s.act.stuck(), s.pendingLabels(), timeout, s.actedSummary(), orUnknown(observed), s.act.hint(s))
}

// drainEnds are the moments just after the pools' deregistration delays
// run out, when their draining ends at the latest: the wait checks then
// rather than up to the interval later.
func (s *runState) drainEnds() []time.Time {
	var at []time.Time
	for _, pr := range s.pools {
		if pr.drainDelay > 0 && !pr.actedAt.IsZero() {
			for _, d := range drainEndChecks {
				at = append(at, pr.actedAt.Add(pr.drainDelay+d))
			}
		}
	}
	return at
}
