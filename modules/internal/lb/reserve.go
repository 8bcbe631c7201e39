package lb

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/capacity"
)

// reserve is lb_drain's reserve mode, for method health when the health
// file is made elsewhere (on the app host, by the role): it counts
// min_healthy under the pools' locks as a drain does and, where the count
// allows it, records the target in each pool's ledger instead of taking it
// out. The counts of other drains leave it out from then on, so the hosts
// of a batch cannot all make their files on one count. The drain that
// follows (method health, no health_file) drops the entry once the load
// balancer no longer counts the target healthy, or when it fails.
type reserve struct{ drain }

func drainAction(a Args) action {
	if a.Reserve {
		return reserve{}
	}
	return drain{}
}

// checkReserve refuses reserve where lb_drain takes the target out itself.
func checkReserve(a Args) error {
	if a.Reserve && (a.Provider != Hetzner || a.Method != MethodHealth || a.HealthFile != "") {
		return fmt.Errorf("reserve is only for provider hetzner with method: health and no health_file, where the health file is made on the app host after this count; " +
			"otherwise lb_drain takes the target out itself under the count: remove reserve")
	}
	return nil
}

// plan changes nothing on the load balancer and waits for nothing.
func (reserve) plan(s *runState) error {
	for _, pr := range s.pools {
		pr.calls, pr.done = nil, true
	}
	return nil
}

// reservation is the ledger side of a run: the live entries read under
// the pools' locks, and this run's own.
type reservation struct {
	keys    []capacity.Key           // the pools' keys, in their order
	live    [][]capacity.Reservation // per key, read under its lock
	expires time.Time                // of the entry recorded (reserve)
	pools   []string                 // where it was recorded
	dropped bool
}

// identity names the target in the ledgers: its id, or its address.
func (s *runState) identity() string { return s.target.ID }

func (s *runState) readReservations(keys []capacity.Key) error {
	s.res.keys, s.res.live = keys, make([][]capacity.Reservation, len(keys))
	for i, k := range keys {
		rs, err := s.held.Reservations(k, s.now())
		if err != nil {
			return err
		}
		s.res.live[i] = rs
	}
	return nil
}

// reservedOthers are the holders of the live reservations of other
// targets that pool i counts as healthy: they are about to go out.
func (s *runState) reservedOthers(i int, pr *poolRun) []string {
	if i >= len(s.res.live) || len(s.res.live[i]) == 0 {
		return nil
	}
	holders := map[string]string{}
	for _, r := range s.res.live[i] {
		if r.Target != s.identity() {
			holders[r.Target] = r.Holder
		}
	}
	var out []string
	for _, m := range pr.members {
		if h, ok := holders[m.Target.ID]; ok && !s.target.Matches(m.Target) && m.Healthy() {
			out = append(out, h)
			delete(holders, m.Target.ID) // once, whatever its ports or selectors
		}
	}
	return out
}

// record writes the target's reservation into every pool's ledger, under
// the locks the count took, then releases them: nothing is waited for.
func (s *runState) record() error {
	defer s.unlock()
	if s.held == nil {
		return nil // min_healthy 0: nothing to keep
	}
	s.res.expires = s.now().Add(s.planned)
	r := capacity.Reservation{Target: s.identity(), Expires: s.res.expires,
		Holder: fmt.Sprintf("pid %d, lb_drain reserve of target %s until %s", os.Getpid(), s.target, s.res.expires.UTC().Format(time.RFC3339))}
	for i, k := range s.res.keys {
		if err := s.held.Reserve(k, r, s.now()); err != nil {
			return err
		}
		s.res.pools = append(s.res.pools, s.pools[i].label())
	}
	return nil
}

// dropsReservation reports whether this run ends a reservation: a drain
// by a health file made elsewhere, counted under the locks.
func (s *runState) dropsReservation() bool {
	_, r := s.act.(reserve)
	return !r && s.a.Method == MethodHealth && s.a.HealthFile == "" && s.guarded() && !s.res.dropped
}

// dropReservation removes the target's entries under the held locks.
func (s *runState) dropReservation() {
	if !s.dropsReservation() || s.held == nil {
		return
	}
	s.res.dropped = true
	for _, k := range s.res.keys {
		if _, err := s.held.Unreserve(k, s.identity(), s.now()); err != nil {
			s.m.Warn("could not drop the reservation of %s: %v; it lapses at its expiry", s.target, err)
		}
	}
}

// dropAfterFailure drops the reservation of a failed drain, taking the
// locks again (briefly) when the run no longer holds them.
func (s *runState) dropAfterFailure(ctx context.Context) {
	if !s.dropsReservation() || len(s.res.keys) == 0 {
		return
	}
	if s.held == nil {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recheckTimeout)
		defer cancel()
		if err := s.lock(lctx); err != nil {
			s.m.Warn("could not drop the reservation of %s: %v; it lapses at its expiry", s.target, err)
			return
		}
	}
	s.dropReservation()
	s.unlock()
}

// result is the reserved field: the pools and the expiry.
func (r reservation) result(s *runState, predicted bool) map[string]any {
	pools, expires := r.pools, r.expires
	if predicted {
		pools, expires = nil, s.now().Add(s.planned)
		for _, pr := range s.pools {
			pools = append(pools, pr.label())
		}
	}
	out := map[string]any{"pools": orEmpty(pools), "expires": nil}
	if !expires.IsZero() {
		out["expires"] = expires.UTC().Format(time.RFC3339)
	}
	return out
}

func (r reservation) msg(s *runState) string {
	if len(r.pools) == 0 {
		return fmt.Sprintf("min_healthy is 0: nothing reserved for %s", s.target)
	}
	return fmt.Sprintf("reserved %s %s in %s until %s (min_healthy %d); nothing changed on the load balancer",
		s.target.Type, s.target, strings.Join(r.pools, ", "), r.expires.UTC().Format(time.RFC3339), s.a.MinHealthy)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// reservePlanMsg is check mode's msg in reserve mode.
func (s *runState) reservePlanMsg() string {
	var pools []string
	for _, pr := range s.pools {
		label := pr.label()
		if countsHealthy(pr.before) {
			label += fmt.Sprintf(" (%d of its %d other targets healthy)", pr.before.HealthyOthers, max(pr.before.Targets-1, 0))
		}
		pools = append(pools, label)
	}
	msg := fmt.Sprintf("check mode: would reserve %s %s in %s for %ds, changing nothing on the load balancer",
		s.target.Type, s.target, orNone(pools), int(s.planned/time.Second))
	if s.wouldWait {
		return msg + fmt.Sprintf("; min_healthy %d does not allow it now: a run would first wait for capacity (wait_for_capacity)", s.a.MinHealthy)
	}
	return msg + fmt.Sprintf("; min_healthy %d allows it", s.a.MinHealthy)
}

// report adds the reservation, and no restore list: a reserve takes
// nothing away.
func (reserve) report(s *runState, data map[string]any) {}
