package haproxymaint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/capacity"
	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

// guarded are the targets min_healthy applies to: going to drain or
// maint from rotation (ready and UP). A server already out, or DOWN, is
// never refused, so a failed host can always be drained again.
func (s *maint) guarded() []*target {
	if s.a.MinHealthy == 0 || s.g.state == haproxy.StateReady {
		return nil
	}
	var ts []*target
	for _, t := range s.targets {
		if t.setState && inRotation(t.st, t.before.Status, t.before.Weight) {
			ts = append(ts, t)
		}
	}
	return ts
}

// inRotation reports whether a server counts as healthy for min_healthy:
// ready (not MAINT or DRAIN, its own or inherited), UP with its checks
// passed (not DOWN, NOLB or "UP 1/3"), and with a weight.
func inRotation(st haproxy.ServerState, status string, weight int) bool {
	return st.Admin.State() == haproxy.StateReady && haproxy.Stat{Status: status}.Up() && weight > 0
}

// counts reads the backends of ts and counts each one's other servers.
func (s *maint) counts(ctx context.Context, ts []*target) ([]capacity.Count, error) {
	states, err := s.c.ServersState(ctx, "")
	if err != nil {
		return nil, err
	}
	stats, err := statsByKey(ctx, s.c)
	if err != nil {
		return nil, err
	}
	var cs []capacity.Count
	for _, t := range ts {
		c := capacity.Count{Pool: "backend " + t.st.Backend, Complete: true}
		for _, st := range states {
			if st.Backend != t.st.Backend || st.Name == t.st.Name {
				continue
			}
			c.Others++
			if stat := stats[st.Key()]; inRotation(st, stat.Status, stat.Weight) {
				c.Healthy++
			}
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func (s *maint) gate(ts []*target) capacity.Gate {
	return capacity.Gate{Target: keys(ts), Min: s.a.MinHealthy, Wait: s.a.WaitForCapacity, Interval: ansible.Seconds(s.a.Interval)}
}

// judgeCapacity is check mode's min_healthy: counted, not waited for.
func (s *maint) judgeCapacity(ctx context.Context) error {
	ts := s.guarded()
	if len(ts) == 0 {
		return nil
	}
	cs, err := s.counts(ctx, ts)
	if err != nil {
		return fail(err, "")
	}
	short := s.gate(ts).Judge(cs)
	switch {
	case short == nil:
		return nil
	case short.Impossible || !s.a.WaitForCapacity:
		return shortFailure(short)
	}
	s.m.Warn("%s; would wait for capacity to come back (wait_for_capacity), up to timeout", short.Short[0].String())
	return nil
}

// enterCapacity takes the backends' locks once min_healthy allows the
// change, waiting for capacity with wait_for_capacity, and keeps them
// until releaseOnceOut.
func (s *maint) enterCapacity(ctx context.Context, maxWait time.Duration) error {
	ts := s.guarded()
	if len(ts) == 0 {
		return nil
	}
	dir, err := capacity.Dir()
	if err != nil {
		return fmt.Errorf("min_healthy needs a lock per backend on this host: %w", err)
	}
	sock, err := filepath.Abs(s.a.Socket)
	if err != nil {
		sock = s.a.Socket
	}
	var lockKeys []capacity.Key
	for _, t := range ts {
		lockKeys = append(lockKeys, capacity.NewKey("backend "+t.st.Backend, provider, sock, s.a.Worker, t.st.Backend))
	}
	owner := fmt.Sprintf("pid %d, haproxy_maint of %s", os.Getpid(), keys(ts))
	attempt := func(ctx context.Context) (*capacity.Held, []capacity.Count, error) {
		h, err := capacity.Lock(ctx, dir, owner, lockKeys...)
		if err != nil {
			return nil, nil, err
		}
		cs, err := s.counts(ctx, ts)
		if err != nil {
			h.Release()
			return nil, nil, fail(err, "")
		}
		return h, cs, nil
	}
	s.m.Progress("nothing changed yet: counting the other servers of %s (min_healthy %d)", keys(ts), s.a.MinHealthy)
	h, waited, err := s.gate(ts).Enter(ctx, maxWait, attempt)
	s.capacityWait = waited
	if err != nil {
		return shortFailure(err)
	}
	s.held = h
	if waited > 0 {
		s.m.Warn("waited %s for capacity to come back before setting %s to %s (min_healthy %d)", waited.Round(100*time.Millisecond), keys(ts), s.g.state, s.a.MinHealthy)
	}
	return nil
}

// releaseOnceOut frees the locks once `show servers state` reports the
// servers in MAINT or DRAIN: from then on, another run counts them out.
// If it cannot tell, the locks go at the end of the run.
func (s *maint) releaseOnceOut(ctx context.Context) {
	if s.held == nil {
		return
	}
	states, err := s.c.ServersState(ctx, "")
	if err != nil {
		return
	}
	out := map[string]bool{}
	for _, st := range states {
		out[st.Key()] = st.Admin.State() != haproxy.StateReady
	}
	for _, t := range s.guarded() {
		if !out[t.key()] {
			return
		}
	}
	s.unlock()
}

func (s *maint) unlock() {
	s.held.Release()
	s.held = nil
}

func shortFailure(err error) error {
	var short *capacity.ShortError
	if !errors.As(err, &short) {
		return err
	}
	return failed(&failure.Error{Provider: provider, Code: failure.MinHealthy, Resource: short.Short[0].Pool, Msg: short.Error()})
}
