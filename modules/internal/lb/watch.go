package lb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/watch"
)

// Reader is one reading of a watched source that judges it: the problem
// ("" if none) or an error to retry. Judged makes it a watch.Signal.
type Reader interface {
	Name() string
	// Read reads once; atStart marks the first reading, of the window's
	// start.
	Read(ctx context.Context, atStart bool) (problem string, err error)
	Report() map[string]any
}

// Judged makes r a watch.Signal. A problem the first reading finds is not
// a Start error but the first Check's failure: what was wrong before the
// window counts even if it mended before the check.
func Judged(r Reader) watch.Signal { return &judged{Reader: r} }

type judged struct {
	Reader
	mu      sync.Mutex
	pending string
}

func (j *judged) Start(ctx context.Context) error {
	problem, err := j.Read(ctx, true)
	j.mu.Lock()
	j.pending = problem
	j.mu.Unlock()
	return err
}

func (j *judged) Check(ctx context.Context) (watch.Finding, error) {
	j.mu.Lock()
	problem := j.pending
	j.pending = ""
	j.mu.Unlock()
	if problem == "" {
		var err error
		if problem, err = j.Read(ctx, false); err != nil {
			return watch.Finding{}, err
		}
	}
	return watch.Finding{Failed: problem != "", Msg: problem}, nil
}

// AlarmWatcher is implemented by providers with alarms of their own (AWS:
// CloudWatch): deploy_watch's alarms option.
type AlarmWatcher interface {
	// AlarmSignal is one signal over the named alarms; its Start fails on
	// a name that does not exist.
	AlarmSignal(names []string) watch.Signal
}

// MaxAlarms is what one DescribeAlarms call takes.
const MaxAlarms = 100

// WatchSignals checks the options as drain and register do, opens the
// provider, resolves the target and looks up its pools, and returns what
// deploy_watch reads from the cloud: the target's health in each pool, and
// the alarms, if any.
func (r *Runner) WatchSignals(ctx context.Context, m *ansible.Module, a Args) ([]watch.Signal, error) {
	if err := a.check(m); err != nil {
		return nil, err
	}
	if err := checkAlarms(a); err != nil {
		return nil, err
	}
	warnInsecure(m, a)
	total := &Counter{}
	p, err := r.open(ctx, m, a, Env{HTTP: NewHTTPClient(!a.ValidateCerts, total), Total: total, Insecure: !a.ValidateCerts})
	if err != nil {
		return nil, err
	}
	pools, err := p.Pools(ctx)
	if err != nil {
		return nil, err
	}
	t, err := p.Resolve(ctx, Target{ID: a.Target, Type: a.TargetType, Port: a.TargetPort})
	if err != nil {
		return nil, err
	}
	var out []watch.Signal
	for _, pl := range pools {
		out = append(out, Judged(&healthSignal{pool: pl, target: t}))
	}
	if len(a.Alarms) > 0 {
		aw, ok := p.(AlarmWatcher)
		if !ok {
			return nil, fmt.Errorf("alarms is not supported with provider %s", p.Name())
		}
		out = append(out, aw.AlarmSignal(a.Alarms))
	}
	return out, nil
}

// checkAlarms refuses alarms with a provider without them, and names that
// are empty, repeated or too many for one read.
func checkAlarms(a Args) error {
	if len(a.Alarms) == 0 {
		return nil
	}
	if a.Provider != AWS {
		return fmt.Errorf("alarms names CloudWatch alarms, which provider %s does not have: remove alarms (the target's health in each load balancer is watched either way), or watch an HTTP probe with probe_url", a.Provider)
	}
	if len(a.Alarms) > MaxAlarms {
		return fmt.Errorf("alarms names %d alarms; CloudWatch reads at most %d at once", len(a.Alarms), MaxAlarms)
	}
	for i, n := range a.Alarms {
		switch {
		case strings.TrimSpace(n) == "":
			return fmt.Errorf("alarms holds an empty name (entry %d): give CloudWatch alarm names", i+1)
		case slices.Contains(a.Alarms[:i], n):
			return fmt.Errorf("alarms names %q twice: give each alarm once", n)
		}
	}
	return nil
}

// healthSignal is a target's health in one pool: it must stay registered
// and healthy on every port. Anything else fails at once: the load
// balancer's own checks already waited their thresholds.
type healthSignal struct {
	pool   Pool
	target Target

	mu      sync.Mutex
	first   State
	last    State
	started bool
}

var _ Reader = (*healthSignal)(nil)

// Name implements Reader: "target group web".
func (s *healthSignal) Name() string { return Label(s.pool) }

func (s *healthSignal) read(ctx context.Context) (State, error) {
	ms, err := s.pool.Members(ctx)
	if err != nil {
		return State{}, err
	}
	st := StateOf(s.target, ms)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.first, s.started = st, true
	}
	s.last = st
	return st, nil
}

// Read implements Reader: a target not healthy on every port is a problem.
func (s *healthSignal) Read(ctx context.Context, atStart bool) (string, error) {
	st, err := s.read(ctx)
	if err != nil {
		return "", err
	}
	when := ""
	if atStart {
		when = " at the start of the window"
	}
	return s.judge(st, when), nil
}

// judge words what is wrong with st, or returns "". The window's message
// names the pool before it.
func (s *healthSignal) judge(st State, when string) string {
	const rule = "a target must stay healthy in every pool through the window"
	switch {
	case !st.Registered:
		return fmt.Sprintf("target %s is not registered%s (%s)", s.target, when, rule)
	case len(st.Health) == 0:
		return fmt.Sprintf("target %s has no health reported%s (%s)", s.target, when, rule)
	case st.AllPorts(StateHealthy):
		return ""
	}
	var bad []string
	for _, p := range sortedPorts(st.Health) {
		if h := st.Health[p]; h != StateHealthy {
			d := fmt.Sprintf("%s on port %s", h, p)
			if r := st.Reasons[p]; r != "" {
				d += " (" + r + ")"
			}
			bad = append(bad, d)
		}
	}
	return fmt.Sprintf("target %s is %s%s (%s)", s.target, strings.Join(bad, ", "), when, rule)
}

// Report implements Reader: the target's state at the start and at the
// last read.
func (s *healthSignal) Report() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := map[string]any{"kind": "target_health", "pool": s.pool.Name(), "target": s.target.ID}
	if info, ok := s.pool.(PoolInfo); ok {
		r["pool_kind"], r["pool_id"] = info.Kind(), info.ID()
	}
	if s.started {
		r["before"], r["after"] = s.first, s.last
	}
	return r
}
