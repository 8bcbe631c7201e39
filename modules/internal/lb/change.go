package lb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/parallel"
)

// change makes the register or deregister calls, in every pool at once;
// what is done so far is kept as the progress an interrupted run reports.
func (s *runState) change(ctx context.Context) error {
	var acting []*poolRun
	for _, pr := range s.pools {
		if len(pr.calls) > 0 {
			acting = append(acting, pr)
		}
	}
	if len(acting) == 0 {
		return nil
	}
	verb := s.act.verb()
	var mu sync.Mutex
	var doing, done []string
	for _, pr := range acting {
		doing = append(doing, pr.label())
	}
	progress := func() {
		if len(doing) == 0 {
			s.m.Progress("%s", s.actedSummary())
			return
		}
		s.m.Progress("%s %s: %s (done: %s)", verb, orNone(doing), s.target, orNone(done))
	}
	progress()
	what := make([]string, len(acting))
	errs := eachPool(acting, func(i int, pr *poolRun) error {
		for _, t := range pr.calls {
			what[i] = fmt.Sprintf("%s %s %s", verb, pr.label(), t)
			if err := s.act.call(WithCounter(ctx, &pr.counter), s, pr.pool, t); err != nil {
				return err
			}
			pr.acted, pr.actedAt = true, s.now()
		}
		mu.Lock()
		defer mu.Unlock()
		doing = slices.DeleteFunc(doing, func(l string) bool { return l == pr.label() })
		done = append(done, pr.label())
		progress()
		return nil
	})
	if parallel.FirstError(errs) == nil {
		return nil
	}
	// A call that failed or was cut short (a signal, the timeout) may have
	// been accepted all the same: a Hetzner action keeps running when its
	// wait is interrupted. Look at the pools again, so that the result and
	// the progress an interruption reports say what really changed.
	s.recheck(ctx, acting)
	doing, done = nil, nil
	for _, pr := range acting {
		if pr.acted {
			done = append(done, pr.label())
		} else {
			doing = append(doing, pr.label())
		}
	}
	progress()
	for i, err := range errs {
		if err == nil || acting[i].acted {
			continue
		}
		err = s.interrupted(err, what[i])
		if len(done) == 0 || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		// Name what was done as well as what failed.
		var e *failure.Error
		if errors.As(err, &e) {
			c := *e
			c.Msg = fmt.Sprintf("%s, but %s", s.actedSummary(), e.Msg)
			return &c
		}
		return fmt.Errorf("%s, but %w", s.actedSummary(), err)
	}
	// Every call took effect after all; the wait tells the rest, unless
	// the run was interrupted.
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// recheckTimeout bounds the look at the pools after a failed call. An
// interrupted module has 3 s to report (ansible.RunArgs).
const recheckTimeout = 1500 * time.Millisecond

// recheck reads the pools of acting again, under a bound of its own since
// ctx may be done, and counts a pool as acted where the target is now as
// its call would leave it. Every pool read gets its after-state.
func (s *runState) recheck(ctx context.Context, acting []*poolRun) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recheckTimeout)
	defer cancel()
	eachPool(acting, func(_ int, pr *poolRun) error {
		ms, err := pr.pool.Members(WithCounter(rctx, &pr.counter))
		if err != nil {
			return err
		}
		st := StateOf(s.target, ms)
		pr.members, pr.after, pr.prev = ms, st, st
		if s.act.took(st) && !pr.acted {
			pr.acted, pr.actedAt = true, s.now()
		}
		return nil
	})
}

// interrupted words an error of a register/deregister call with what was
// done before it.
func (s *runState) interrupted(err error, doing string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return failure.Errorf(s.provider, failure.Timeout, "", err, "timed out %s (%s): the %s had not answered when timeout ran out; raise timeout", doing, s.actedSummary(), s.prov.API())
	}
	return err
}
