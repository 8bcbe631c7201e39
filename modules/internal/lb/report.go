package lb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/failure"
)

// Fail turns err into a module failure carrying the result so far.
func (s *runState) Fail(ctx context.Context, err error) (ansible.Result, error) {
	s.dropAfterFailure(ctx)
	res := s.result(false)
	var e *failure.Error
	if errors.As(err, &e) {
		return res, &ansible.Error{Msg: e.Msg, Data: map[string]any{"failure": e.Failure()}, Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return res, &ansible.Error{Msg: fmt.Sprintf("timed out: %v", err), Data: map[string]any{"failure": map[string]any{"provider": s.provider, "code": failure.Timeout, "resource": ""}}, Err: err}
	}
	return res, err
}

// actedSummary words what the run changed so far.
func (s *runState) actedSummary() string {
	var acted []string
	for _, pr := range s.pools {
		if pr.acted {
			acted = append(acted, pr.label())
		}
	}
	switch {
	case len(acted) > 0:
		return s.act.summary(s.target, strings.Join(acted, ", "))
	case s.fileMade:
		return "created health_file " + s.a.HealthFile
	case s.fileGone:
		return "removed health_file " + s.a.HealthFile
	}
	return "nothing changed"
}

// Predict is the check-mode result: what a run would do.
func (s *runState) Predict() ansible.Result {
	for _, pr := range s.pools {
		if pr.done {
			continue
		}
		pr.after = s.act.predict(s.a, pr.before)
		pr.acted = len(pr.calls) > 0
		// A registration on a port of its own (AWS) adds that port.
		for _, t := range pr.calls {
			if t.Port != 0 && pr.after.Registered {
				pr.after.Health[strconv.Itoa(t.Port)] = StateHealthy
			}
		}
	}
	s.fileMade, s.fileGone = s.makeFile, s.dropFile
	res := s.result(true)
	res.Msg = s.planMsg()
	return res
}

// Report is the result of a run that reached its goal.
func (s *runState) Report() ansible.Result { return s.result(false) }

func (s *runState) result(predicted bool) ansible.Result {
	changed := s.fileMade || s.fileGone
	var pools []any
	before, after := map[string]any{}, map[string]any{}
	for _, pr := range s.pools {
		pc := pr.acted || !sameState(pr.before, pr.after)
		changed = changed || pc
		entry := map[string]any{
			"kind":         pr.kind,
			"name":         pr.pool.Name(),
			"id":           pr.id,
			"before":       pr.before,
			"after":        pr.after,
			"changed":      pc,
			"waited":       ansible.RoundSeconds(pr.waited),
			"api_requests": pr.counter.Load(),
		}
		pools = append(pools, entry)
		before[pr.pool.Name()] = pr.before
		after[pr.pool.Name()] = pr.after
	}
	t := map[string]any{"id": s.target.ID, "type": s.target.Type, "name": s.target.Name, "port": nil}
	if s.target.Port != 0 {
		t["port"] = s.target.Port
	}
	if s.a.Target == Auto {
		t["source"] = "metadata"
	}
	data := map[string]any{
		"provider":     s.provider,
		"method":       s.a.Method,
		"target":       t,
		"pools":        pools,
		"waited":       ansible.RoundSeconds(s.waited),
		"elapsed":      ansible.RoundSeconds(s.now().Sub(s.start)),
		"api_requests": s.total.Load(),
	}
	if s.a.HealthFile != "" {
		data["health_file"] = s.a.HealthFile
	}
	if s.act.guardsCapacity() {
		data["capacity_wait"] = ansible.RoundSeconds(s.capacityWait)
	}
	if _, ok := s.act.(reserve); ok {
		data["reserved"] = s.res.result(s, predicted)
	}
	s.act.report(s, data)
	res := ansible.Result{Changed: changed, Data: data}
	if _, ok := s.act.(reserve); ok && !predicted {
		res.Msg = s.res.msg(s)
	}
	if len(s.pools) > 0 {
		res.Diff = &ansible.Diff{Before: before, After: after, BeforeHeader: s.target.String() + " before", AfterHeader: s.target.String() + " after"}
		if predicted {
			res.Diff.AfterHeader += " (predicted)"
		}
	}
	return res
}

func sameState(a, b State) bool {
	if a.Registered != b.Registered || a.Via != b.Via || len(a.Health) != len(b.Health) {
		return false
	}
	for k, v := range a.Health {
		if b.Health[k] != v {
			return false
		}
	}
	return true
}
