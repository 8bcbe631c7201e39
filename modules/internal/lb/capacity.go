package lb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/capacity"
	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/parallel"
)

// PoolRefs is implemented by providers whose lookup of the pools already
// reads their targets (Hetzner): PoolRefs names each pool as the options
// do (with the API endpoint), so that a drain locks before the lookup and
// counts from that read. Two tasks naming one load balancer differently
// (by name and by id) take different locks.
type PoolRefs interface {
	PoolRefs() []string
}

// Identifier is implemented by pools that can name themselves uniquely
// across accounts and API endpoints (Hetzner: endpoint and id; AWS: the
// target group ARN), for the lock of min_healthy.
type Identifier interface {
	Identity() string
}

// WithLockDir sets the directory of the pools' locks (tests); by default
// it is capacity.Dir().
func WithLockDir(dir string) RunnerOption {
	return func(r *Runner) { r.lockDir = dir }
}

// countsHealthy reports whether a target in state st counts as healthy
// for the others' min_healthy: registered and healthy on every port, as
// Member.Healthy. Draining, initial, unused, unavailable, unhealthy and
// unknown do not count.
func countsHealthy(st State) bool { return st.Registered && st.AllPorts(StateHealthy) }

// guarded reports whether the run takes the pools' locks: a drain with
// min_healthy, for real.
func (s *runState) guarded() bool {
	return s.act.guardsCapacity() && s.a.MinHealthy > 0 && !s.m.CheckMode
}

func (s *runState) lockKeys() []capacity.Key {
	var keys []capacity.Key
	if r, ok := s.prov.(PoolRefs); ok {
		for i, ref := range r.PoolRefs() {
			keys = append(keys, capacity.NewKey("load balancer "+s.a.LoadBalancers[i], s.provider, ref))
		}
		return keys
	}
	for _, pr := range s.pools {
		id := pr.kind + "\x00" + pr.pool.Name()
		if i, ok := pr.pool.(Identifier); ok {
			id = i.Identity()
		}
		keys = append(keys, capacity.NewKey(pr.label(), s.provider, id))
	}
	return keys
}

// lock takes the locks of every pool, so that the count and the change
// that follows it are not interleaved with another drain of the same
// pools from this host.
func (s *runState) lock(ctx context.Context) error {
	dir := s.r.lockDir
	if dir == "" {
		var err error
		if dir, err = capacity.Dir(); err != nil {
			return fmt.Errorf("min_healthy needs a lock per pool on this host: %w", err)
		}
	}
	mode := "lb_drain"
	if s.a.Reserve {
		mode = "lb_drain reserve"
	}
	owner := fmt.Sprintf("pid %d, %s of target %s", os.Getpid(), mode, s.a.Target)
	keys := s.lockKeys()
	var what []string
	for _, k := range keys {
		what = append(what, k.What)
	}
	s.m.Progress("nothing changed yet: taking the lock of %s for min_healthy", strings.Join(what, ", "))
	h, err := capacity.Lock(ctx, dir, owner, keys...)
	if err != nil {
		return err
	}
	s.held = h
	return s.readReservations(keys)
}

// unlock releases the pools' locks, once the load balancer no longer
// counts the target as healthy anywhere, or at the end of the run.
func (s *runState) unlock() {
	s.held.Release()
	s.held = nil
}

// gate is min_healthy as the capacity package judges it.
func (s *runState) gate() capacity.Gate {
	return capacity.Gate{Target: s.target.String(), Min: s.a.MinHealthy, Wait: s.a.WaitForCapacity,
		Interval: s.interval(), Options: s.r.waitOpts}
}

// counts are the pools where the target counts as healthy, from their
// last read.
func (s *runState) counts() []capacity.Count {
	var cs []capacity.Count
	for i, pr := range s.pools {
		if st := pr.before; countsHealthy(st) {
			holders := s.reservedOthers(i, pr)
			cs = append(cs, capacity.Count{Pool: pr.label(), Healthy: st.HealthyOthers - len(holders), Others: st.Targets - 1,
				Complete: s.a.Method == MethodHealth, Reserved: holders})
		}
	}
	return cs
}

// judgeCapacity checks min_healthy on the lookup's read, taken under the
// locks: it fails when the pools can never have enough, or when they have
// not now and the run may not wait; when it may, the locks go and Apply
// waits for capacity.
func (s *runState) judgeCapacity() error {
	if !s.act.guardsCapacity() || s.a.MinHealthy == 0 {
		return nil
	}
	short := s.gate().Judge(s.counts())
	switch {
	case short == nil:
		return nil
	case short.Impossible || !s.a.WaitForCapacity:
		return s.shortFailure(short)
	case s.m.CheckMode:
		s.m.Warn("%s; would wait for capacity to come back (wait_for_capacity), up to timeout", short.Short[0].String())
		s.wouldWait = true
		return nil
	}
	s.unlock()
	s.awaitCapacity = true
	return nil
}

func (s *runState) shortFailure(err error) error {
	var short *capacity.ShortError
	if !errors.As(err, &short) {
		return err
	}
	return failure.Errorf(s.provider, failure.MinHealthy, short.Short[0].Pool, nil, "%s", short.Error())
}

// waitCapacity is the part of Apply that waits for capacity: each attempt
// locks the pools, reads them all again and plans anew, until min_healthy
// allows the drain or the deadline.
func (s *runState) waitCapacity(ctx context.Context) error {
	s.m.Progress("nothing changed yet: waiting for capacity in %s (min_healthy %d)", s.pendingLabels(), s.a.MinHealthy)
	attempt := func(ctx context.Context) (*capacity.Held, []capacity.Count, error) {
		if err := s.lock(ctx); err != nil {
			return nil, nil, err
		}
		h := s.held
		s.held = nil
		err := parallel.FirstError(eachPool(s.pools, func(_ int, pr *poolRun) error {
			ms, err := pr.pool.Members(WithCounter(ctx, &pr.counter))
			if err != nil {
				return err
			}
			st := StateOf(s.target, ms)
			pr.members, pr.before, pr.after, pr.prev = ms, st, st, st
			return nil
		}))
		if err == nil {
			err = s.act.plan(s)
		}
		if err != nil {
			h.Release()
			return nil, nil, err
		}
		return h, s.counts(), nil
	}
	start := s.now()
	maxWait := s.deadline.Sub(start)
	h, waited, err := s.gate().Enter(ctx, maxWait, attempt)
	s.capacityWait = waited
	if err != nil {
		return s.shortFailure(err)
	}
	s.held = h
	if waited > 0 {
		s.m.Warn("waited %s for capacity to come back before taking %s out (min_healthy %d)", waited.Round(100*time.Millisecond), s.target, s.a.MinHealthy)
	}
	return nil
}

// releaseOnceOut releases the locks once every pool read shows the target
// no longer counting as healthy: from then on, another drain counts it out.
func (s *runState) releaseOnceOut() {
	if s.held == nil {
		return
	}
	for _, pr := range s.pools {
		if countsHealthy(pr.after) {
			return
		}
	}
	s.dropReservation()
	s.unlock()
}
