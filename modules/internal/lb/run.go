package lb

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/capacity"
	"github.com/zerodowntime/rolling/modules/internal/parallel"
	"github.com/zerodowntime/rolling/modules/internal/step"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// Env is what a provider gets besides the options: the counted HTTP client,
// and hooks for tests.
type Env struct {
	HTTP     *http.Client // counted, TLS as validate_certs says
	Total    *Counter
	Insecure bool // validate_certs: false
}

// Opener builds the provider named in a.Provider.
type Opener func(ctx context.Context, m *ansible.Module, a Args, env Env) (Provider, error)

// Runner runs lb_drain and lb_register. The zero value is not usable; use
// NewRunner.
type Runner struct {
	open     Opener
	waitOpts []wait.Option
	now      func() time.Time
	lockDir  string
}

// RunnerOption configures a Runner.
type RunnerOption func(*Runner)

// WithWaitOptions adds options to every wait (tests inject the clock).
func WithWaitOptions(opts ...wait.Option) RunnerOption {
	return func(r *Runner) { r.waitOpts = append(r.waitOpts, opts...) }
}

// WithClock replaces time.Now for measurements.
func WithClock(now func() time.Time) RunnerOption {
	return func(r *Runner) { r.now = now }
}

// Poll delays: start fast and grow slowly (checks about 0.2, 0.45, 0.76,
// 1.15, 1.64 s after the start, ±20 % jitter on each delay) so a module
// returns soon after a state a second or two away, and back off to the
// interval option, whose default is the provider's Interval.
//
// A drain also checks at drainEndChecks after each pool's DrainTimer delay
// has run out since the deregister call: the provider ends draining then at
// the latest (AWS, with a keep-alive connection open, often not before),
// give or take its own processing.
const (
	PollMin    = 200 * time.Millisecond
	PollFactor = 1.25
)

var drainEndChecks = []time.Duration{50 * time.Millisecond, 500 * time.Millisecond, 1500 * time.Millisecond}

// Default timeouts when the timeout option is not set.
const (
	DefaultTimeout = 300 // seconds
	DrainMargin    = 60  // seconds added to the longest DrainTimer delay
)

// NewRunner returns a Runner that opens providers with open.
func NewRunner(open Opener, opts ...RunnerOption) *Runner {
	r := &Runner{open: open, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Drain takes the target out of rotation in every pool and waits until it
// carries no traffic.
func (r *Runner) Drain(ctx context.Context, m *ansible.Module, a Args) (ansible.Result, error) {
	return r.run(ctx, m, a, drainAction(a))
}

// Register puts the target into rotation in every pool and waits until it
// is healthy everywhere.
func (r *Runner) Register(ctx context.Context, m *ansible.Module, a Args) (ansible.Result, error) {
	return r.run(ctx, m, a, register{})
}

// poolRun is one pool's part of a run.
type poolRun struct {
	pool    Pool
	kind    string
	id      string
	counter Counter
	before  State
	after   State
	members []Member
	calls   []Target       // the planned register or deregister calls
	restore []Registration // lb_register's restore entries for this pool
	acted   bool
	done    bool
	waited  time.Duration
	prev    State // last observation, for "turned unhealthy"
	fails   failCount

	drainDelay time.Duration // DrainTimer's delay, when delayRead
	delayRead  bool
	actedAt    time.Time // when the (de)register call returned
}

func (p *poolRun) label() string { return Label(p.pool) }

// runState is one run of lb_drain or lb_register: a step.Step whose
// action says what drain and register each do.
type runState struct {
	r        *Runner
	m        *ansible.Module
	a        Args
	act      action
	provider string // the provider's name, for failures
	prov     Provider
	target   Target
	pools    []*poolRun
	total    *Counter
	start    time.Time
	now      func() time.Time
	waited   time.Duration
	makeFile bool // planned
	dropFile bool
	fileMade bool // done
	fileGone bool
	actStart time.Time      // waits are measured from the first change
	planned  time.Duration  // the timeout Plan chose, for check mode's msg
	deadline time.Time      // the start plus Plan's timeout
	found    []Registration // the target's own registrations at the lookup

	held          *capacity.Held // the pools' locks, while min_healthy needs them
	awaitCapacity bool           // Apply waits for capacity first
	wouldWait     bool           // check mode: a run would wait for it
	capacityWait  time.Duration
	res           reservation // reserve mode, and the drain that follows it
}

var _ step.Step = (*runState)(nil)

func (r *Runner) run(ctx context.Context, m *ansible.Module, a Args, act action) (ansible.Result, error) {
	if err := a.check(m); err != nil {
		return ansible.Result{}, err
	}
	s := &runState{r: r, m: m, a: a, act: act, provider: a.Provider, total: &Counter{}, start: r.now(), now: r.now}
	defer s.unlock()
	return step.Run(ctx, m, s, step.Limits{Timeout: a.Timeout, Start: s.start})
}

// Lookup opens the provider, finds the pools and the target, and reads
// the target's state in each pool.
func (s *runState) Lookup(ctx context.Context) error {
	a := s.a
	warnInsecure(s.m, a)
	env := Env{HTTP: NewHTTPClient(!a.ValidateCerts, s.total), Total: s.total, Insecure: !a.ValidateCerts}
	s.m.Progress("nothing changed yet: looking up the %s load balancer", a.Provider)
	p, err := s.r.open(ctx, s.m, a, env)
	if err != nil {
		return err
	}
	s.prov, s.provider = p, p.Name()
	// min_healthy is counted from the first read of the pools, made under
	// their locks: before the lookup where it reads the targets.
	_, early := p.(PoolRefs)
	if early && s.guarded() {
		if err := s.lock(ctx); err != nil {
			return err
		}
	}
	pools, err := p.Pools(ctx)
	if err != nil {
		return err
	}
	for _, pl := range pools {
		pr := &poolRun{pool: pl, kind: "load_balancer"}
		if info, ok := pl.(PoolInfo); ok {
			pr.kind, pr.id = info.Kind(), info.ID()
		}
		s.pools = append(s.pools, pr)
	}
	t, err := p.Resolve(ctx, Target{ID: a.Target, Type: a.TargetType, Port: a.TargetPort})
	if err != nil {
		return err
	}
	s.target = t
	if !early && s.guarded() {
		if err := s.lock(ctx); err != nil {
			return err
		}
	}

	err = parallel.FirstError(eachPool(s.pools, func(_ int, pr *poolRun) error {
		ms, err := pr.pool.Members(WithCounter(ctx, &pr.counter))
		if err != nil {
			return err
		}
		st := StateOf(t, ms)
		pr.members, pr.before, pr.after, pr.prev = ms, st, st, st
		return nil
	}))
	if err != nil {
		return err
	}
	s.found = s.drained()
	return s.checkKnown(ctx)
}

// warnInsecure warns that validate_certs: false exposes the credentials.
func warnInsecure(m *ansible.Module, a Args) {
	if !a.ValidateCerts {
		m.Warn("validate_certs is false: the TLS certificate of the %s API is not verified, so anyone on the network path can read the credentials and fake the load balancer's answers", a.Provider)
	}
}

// checkKnown tells an unknown target from one that is merely absent.
func (s *runState) checkKnown(ctx context.Context) error {
	if !s.act.checksKnown(s.m.CheckMode) {
		return nil
	}
	for _, pr := range s.pools {
		if pr.before.Registered {
			return nil
		}
	}
	for _, pr := range s.pools {
		if c, ok := pr.pool.(TargetChecker); ok {
			return c.CheckTarget(WithCounter(ctx, &pr.counter), s.target)
		}
	}
	return nil
}

// Plan decides the calls and the health file change, and the timeout.
func (s *runState) Plan(ctx context.Context) (time.Duration, error) {
	if s.a.Method == MethodHealth && s.a.HealthFile != "" {
		exists, err := healthFileExists(s.a.HealthFile)
		if err != nil {
			return 0, err
		}
		s.makeFile, s.dropFile = s.act.healthFile(exists)
	}
	if err := s.act.plan(s); err != nil {
		return 0, err
	}
	if err := s.judgeCapacity(); err != nil {
		return 0, err
	}
	d, err := s.timeout(ctx)
	s.planned, s.deadline = d, s.start.Add(d)
	return d, err
}

// timeout is the timeout option, or the default: a drain from DrainTimer
// pools (AWS) follows their largest delay plus a margin. A drain reads each
// pool's delay either way (once per pool): the wait checks at the moment
// it ends, and a timeout shorter than it is warned about.
func (s *runState) timeout(ctx context.Context) (time.Duration, error) {
	delay := -1
	if s.act.readsDelay() {
		err := parallel.FirstError(eachPool(s.pools, func(_ int, pr *poolRun) error {
			dt, ok := pr.pool.(DrainTimer)
			if !ok || !pr.before.Registered {
				return nil
			}
			d, err := dt.DrainDelay(WithCounter(ctx, &pr.counter))
			if err != nil {
				return err
			}
			pr.drainDelay, pr.delayRead = time.Duration(d)*time.Second, true
			return nil
		}))
		if err != nil {
			return 0, err
		}
		for _, pr := range s.pools {
			if pr.delayRead {
				delay = max(delay, int(pr.drainDelay/time.Second))
			}
		}
	}
	if s.a.Timeout > 0 {
		if delay >= s.a.Timeout {
			// The timeout runs from the task's start, the delay from the
			// deregister call: an equal timeout gives up first.
			s.m.Warn("timeout (%ds) does not exceed the deregistration delay (%ds): when a request or connection stays open, "+
				"AWS drains the target for all of the delay, and this task gives up first; raise timeout above %ds or leave it unset",
				s.a.Timeout, delay, delay)
		}
		return time.Duration(s.a.Timeout) * time.Second, nil
	}
	if delay >= 0 {
		return time.Duration(delay+DrainMargin) * time.Second, nil
	}
	return DefaultTimeout * time.Second, nil
}

// interval is the largest delay between two checks of a wait: the
// interval option, else the provider's default.
func (s *runState) interval() time.Duration {
	if s.a.Interval > 0 {
		return ansible.Seconds(s.a.Interval)
	}
	return s.prov.Interval()
}

// action is what lb_drain and lb_register each bring to the run: drain.go
// and register.go.
type action interface {
	// checksKnown reports whether the lookup tells an unknown target from
	// an absent one.
	checksKnown(checkMode bool) bool
	// healthFile says whether to create or remove health_file, from
	// whether it exists.
	healthFile(exists bool) (makeFile, dropFile bool)
	// plan marks the pools already at the goal and sets the others' calls.
	plan(s *runState) error
	// readsDelay reports whether the pools' DrainTimer delays matter.
	readsDelay() bool
	// call makes one change in a pool; took reports whether a state is
	// what the call leaves.
	call(ctx context.Context, s *runState, p Pool, t Target) error
	took(st State) bool
	// verb ("deregistering from") and summary ("deregistered t from
	// pools") word the calls.
	verb() string
	summary(t Target, pools string) string
	// goal is what the wait waits for, accept its done-check, and
	// waitOptions its options beyond the shared ones.
	goal(a Args) string
	accept(s *runState, pr *poolRun, st State) (wait.Outcome, string)
	waitOptions(s *runState) []wait.Option
	// stuck ("still in rotation") and hint word a timeout.
	stuck() string
	hint(s *runState) string
	// predict is the check-mode after-state of a pool not yet done.
	predict(a Args, before State) State
	// guardsCapacity reports whether min_healthy applies.
	guardsCapacity() bool
	// report adds the action's own keys to the result.
	report(s *runState, data map[string]any)
}

// Apply makes the planned changes.
func (s *runState) Apply(ctx context.Context) error {
	if s.awaitCapacity {
		if err := s.waitCapacity(ctx); err != nil {
			return err
		}
	}
	if _, ok := s.act.(reserve); ok {
		return s.record()
	}
	s.actStart = s.now()
	if s.makeFile {
		made, err := createHealthFile(s.a.HealthFile)
		if err != nil {
			return fmt.Errorf("%v; the target was left in rotation", err)
		}
		s.fileMade = made
	}
	if s.dropFile {
		gone, err := removeHealthFile(s.a.HealthFile)
		if err != nil {
			return fmt.Errorf("%v; the target stays out of rotation", err)
		}
		s.fileGone = gone
	}
	return s.change(ctx)
}

// eachPool runs f for every pool at once and returns each one's error:
// the pools (AWS target groups, Hetzner load balancers) are independent
// and each takes its own requests, so a run over several waits for the
// slowest answer rather than for the sum.
func eachPool(pools []*poolRun, f func(i int, pr *poolRun) error) []error {
	return parallel.Run(len(pools), func(i int) error { return f(i, pools[i]) })
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
