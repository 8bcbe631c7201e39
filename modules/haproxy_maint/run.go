package haproxymaint

import (
	"context"
	"errors"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/capacity"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
	"github.com/zerodowntime/rolling/modules/internal/step"
)

// shutdownGrace is how long the on_timeout shutdown may take after the
// wait has timed out.
const shutdownGrace = 5 * time.Second

// run checks the options and runs the task on step's sequence, the one
// lb's modules follow.
func run(ctx context.Context, m *ansible.Module, a args) (ansible.Result, error) {
	g, err := checkArgs(m, a)
	if err != nil {
		return ansible.Result{}, err
	}
	s := &maint{m: m, a: a, g: g, start: time.Now()}
	defer s.unlock()
	return step.Run(ctx, m, s, step.Limits{Timeout: a.Timeout, Start: s.start, Grace: shutdownGrace})
}

// maint is one run of the module: a step.Step.
type maint struct {
	m        *ansible.Module
	a        args
	g        goal
	start    time.Time
	c        *haproxy.Client
	targets  []*target
	notFound error // the server or backend is not there
	changed  bool
	waited   time.Duration

	held         *capacity.Held // the backends' locks, for min_healthy
	capacityWait time.Duration
}

var _ step.Step = (*maint)(nil)

// Lookup connects to the runtime API, finds the servers and reads their
// state before the task.
func (s *maint) Lookup(ctx context.Context) error {
	c, err := connect(ctx, s.a)
	if err != nil {
		return fail(err, "")
	}
	s.c = c
	targets, err := lookUp(ctx, c, s.a.Backend, s.a.Server)
	if errors.Is(err, haproxy.ErrNoServer) || errors.Is(err, haproxy.ErrNoBackend) {
		s.notFound = err
		return err
	}
	if err != nil {
		return fail(err, s.a.Server)
	}
	if err := snapshotBefore(ctx, c, targets); err != nil {
		return fail(err, "")
	}
	s.targets = targets
	return nil
}

// Plan decides what to change on each server. The wait's timeout counts
// from the wait, so the time already spent is added to it; without a wait
// the deadline only bounds the commands.
func (s *maint) Plan(ctx context.Context) (time.Duration, error) {
	for _, t := range s.targets {
		plan(s.m, t, s.g.state, s.g.weight, s.a)
		s.changed = s.changed || len(t.changes) > 0
	}
	// For real, Apply counts under the backends' locks.
	if s.m.CheckMode {
		if err := s.judgeCapacity(ctx); err != nil {
			s.changed = false
			return 0, err
		}
	}
	if !s.a.Wait {
		return ansible.MaxSeconds * time.Second, nil
	}
	return time.Since(s.start) + time.Duration(s.a.Timeout)*time.Second, nil
}

// Predict is the result check mode reports.
func (s *maint) Predict() ansible.Result {
	for _, t := range s.targets {
		t.after = predict(t, s.g.state)
	}
	res := s.result(0)
	res.Msg = s.planMsg()
	return res
}

// Apply sends each server's commands.
func (s *maint) Apply(ctx context.Context) error {
	if err := s.enterCapacity(ctx, time.Duration(s.a.Timeout)*time.Second); err != nil {
		s.changed = false
		return fail(err, keys(s.targets))
	}
	for _, t := range s.targets {
		if err := apply(ctx, s.m, s.c, t, s.g.state); err != nil {
			return fail(err, t.key())
		}
	}
	s.releaseOnceOut(ctx)
	return nil
}

// Wait polls until every server is drained or UP, with wait: true.
func (s *maint) Wait(ctx context.Context, deadline time.Time) error {
	if !s.a.Wait {
		return nil
	}
	var err error
	s.waited, err = waitFor(ctx, s.m, s.c, s.targets, s.g.state, s.a, max(time.Until(deadline), time.Millisecond))
	return err
}

// Report reads the servers' state after the task and reports it.
func (s *maint) Report() ansible.Result {
	refresh(context.Background(), s.c, s.targets, s.g.state)
	return s.result(s.waited)
}

// Fail skips a server or backend that is not there when
// fail_on_not_found is false; otherwise it fails, with the state reached
// so far once the lookup is done.
func (s *maint) Fail(ctx context.Context, err error) (ansible.Result, error) {
	if s.notFound != nil {
		if !s.a.FailOnNotFound {
			s.m.Warn("%s; skipped because fail_on_not_found is false", s.notFound)
			return ansible.Result{Data: skippedData(s.c, s.g.state)}, nil
		}
		return ansible.Result{}, fail(err, s.a.Server)
	}
	if s.targets == nil {
		return ansible.Result{}, err
	}
	refresh(ctx, s.c, s.targets, s.g.state)
	return s.result(s.waited), err
}

func (s *maint) result(waited time.Duration) ansible.Result {
	res := report(ansible.Result{Changed: s.changed}, s.targets, s.g.state, s.c, waited)
	res.Data["capacity_wait"] = ansible.RoundSeconds(s.capacityWait)
	return res
}

// connect opens the runtime API and checks that it can set a server's state.
func connect(ctx context.Context, a args) (*haproxy.Client, error) {
	mode := haproxy.MasterAuto
	if a.MasterSocket != nil {
		mode = haproxy.MasterOff
		if *a.MasterSocket {
			mode = haproxy.MasterOn
		}
	}
	c, err := haproxy.Dial(ctx, a.Socket, haproxy.WithMaster(mode), haproxy.WithWorker(a.Worker))
	if err != nil {
		return nil, err
	}
	if err := c.Require(1, 6, "`set server <backend>/<server> state`"); err != nil {
		return nil, err
	}
	return c, nil
}
