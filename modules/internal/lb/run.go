package lb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/parallel"
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
// interval option, whose default is the provider's DefaultInterval.
//
// A drain also checks at drainEndChecks after each AWS group's
// deregistration delay has run out since the deregister call: AWS ends
// draining then at the latest (with a keep-alive connection open it often
// does not end before), give or take its own processing.
const (
	PollMin    = 200 * time.Millisecond
	PollFactor = 1.25
)

// DefaultInterval is the largest delay between two checks of a wait when
// the interval option is not given, per provider. On AWS a health check
// comes every 5 s or more and a target turns healthy some seconds to minutes
// after it is registered, so the spacing of the late checks decides how
// soon a register ends: 1 s, as community.aws.elb_target polls, one
// DescribeTargetHealth a second per target group, well inside ELBv2's
// budget (Describe calls refill at 10 a second per account and region).
// Hetzner allows 3600 requests an hour per project, shared with every
// other tool using it, so waits there back off to 3 s.
var DefaultInterval = map[string]time.Duration{
	AWS:     time.Second,
	Hetzner: 3 * time.Second,
}

var drainEndChecks = []time.Duration{50 * time.Millisecond, 500 * time.Millisecond, 1500 * time.Millisecond}

// Default timeouts when the timeout option is not set.
const (
	DefaultTimeout = 300               // seconds
	DrainMargin    = 60                // seconds added to AWS deregistration_delay
	setupTimeout   = 120 * time.Second // lookups before the timeout is known
)

// NewRunner returns a Runner that opens providers with open.
func NewRunner(open Opener, opts ...RunnerOption) *Runner {
	r := &Runner{open: open, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r
}

type op int

const (
	opDrain op = iota
	opRegister
)

// Drain takes the target out of rotation in every pool and waits until it
// carries no traffic.
func (r *Runner) Drain(ctx context.Context, m *ansible.Module, a Args) (ansible.Result, error) {
	return r.run(ctx, m, a, opDrain)
}

// Register puts the target into rotation in every pool and waits until it
// is healthy everywhere.
func (r *Runner) Register(ctx context.Context, m *ansible.Module, a Args) (ansible.Result, error) {
	return r.run(ctx, m, a, opRegister)
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
	acted   bool
	done    bool
	waited  time.Duration
	prev    State // last observation, for "turned unhealthy"

	drainDelay time.Duration // AWS deregistration_delay, when delayRead
	delayRead  bool
	actedAt    time.Time // when the (de)register call returned
}

func (p *poolRun) label() string { return strings.ReplaceAll(p.kind, "_", " ") + " " + p.pool.Name() }

type runState struct {
	m        *ansible.Module
	a        Args
	op       op
	provider string
	target   Target
	pools    []*poolRun
	total    *Counter
	start    time.Time
	now      func() time.Time
	waited   time.Duration
	fileMade bool
	fileGone bool
	actStart time.Time // waits are measured from the first change
}

func (r *Runner) run(ctx context.Context, m *ansible.Module, a Args, o op) (ansible.Result, error) {
	if err := a.check(m); err != nil {
		return ansible.Result{}, err
	}
	s := &runState{m: m, a: a, op: o, provider: a.Provider, total: &Counter{}, start: r.now(), now: r.now}
	if !a.ValidateCerts {
		m.Warn("validate_certs is false: the TLS certificate of the %s API is not verified, so anyone on the network path can read the credentials and fake the load balancer's answers", a.Provider)
	}
	env := Env{HTTP: NewHTTPClient(!a.ValidateCerts, s.total), Total: s.total, Insecure: !a.ValidateCerts}

	// Lookups run under a provisional deadline until the pools tell the
	// default timeout.
	setup := setupTimeout
	if a.Timeout > 0 {
		setup = time.Duration(a.Timeout) * time.Second
	}
	setupCtx, cancel := context.WithTimeout(ctx, setup)
	defer cancel()

	m.Progress("nothing changed yet: looking up the %s load balancer", a.Provider)
	p, err := r.open(setupCtx, m, a, env)
	if err != nil {
		return s.fail(ctx, err)
	}
	s.provider = p.Name()
	pools, err := p.Pools(setupCtx)
	if err != nil {
		return s.fail(ctx, err)
	}
	for _, pl := range pools {
		pr := &poolRun{pool: pl, kind: "load_balancer"}
		if info, ok := pl.(PoolInfo); ok {
			pr.kind, pr.id = info.Kind(), info.ID()
		}
		s.pools = append(s.pools, pr)
	}

	t, err := r.resolveTarget(setupCtx, a, pools)
	if err != nil {
		return s.fail(ctx, err)
	}
	if t, err = p.Resolve(setupCtx, t); err != nil {
		return s.fail(ctx, err)
	}
	s.target = t

	// Observe before acting.
	err = parallel.FirstError(eachPool(s.pools, func(_ int, pr *poolRun) error {
		ms, err := pr.pool.Members(WithCounter(setupCtx, &pr.counter))
		if err != nil {
			return err
		}
		st := StateOf(t, ms)
		pr.members, pr.before, pr.after, pr.prev = ms, st, st, st
		return nil
	}))
	if err != nil {
		return s.fail(ctx, err)
	}
	if err := s.checkKnown(setupCtx); err != nil {
		return s.fail(ctx, err)
	}

	plan, err := s.plan()
	if err != nil {
		return s.fail(ctx, err)
	}
	timeout, err := s.timeout(setupCtx)
	if err != nil {
		return s.fail(ctx, err)
	}
	deadline := s.start.Add(timeout)
	runCtx, cancelRun := context.WithDeadline(ctx, deadline)
	defer cancelRun()

	if m.CheckMode {
		return s.predict(plan), nil
	}
	s.actStart = s.now()
	if err := s.act(runCtx, plan); err != nil {
		return s.fail(ctx, err)
	}
	if err := s.wait(runCtx, deadline, timeout, r.waitOpts); err != nil {
		return s.fail(ctx, err)
	}
	return s.result(false), nil
}

// resolveTarget turns the target option into a Target, asking the metadata
// service for target: auto.
func (r *Runner) resolveTarget(ctx context.Context, a Args, pools []Pool) (Target, error) {
	t := Target{ID: a.Target, Type: a.TargetType, Port: a.TargetPort}
	if a.Provider == AWS {
		t.Type = TypeInstance
		if groupType(pools) == TypeIP {
			t.Type = TypeIP
		} else if _, err := netip.ParseAddr(a.Target); err == nil {
			t.Type = TypeIP
		}
	}
	if a.Target != Auto {
		return t, nil
	}
	var err error
	switch a.Provider {
	case Hetzner:
		t.ID, err = HetznerServerID(ctx, a.MetadataURL)
	case AWS:
		path := "instance-id"
		if t.Type == TypeIP {
			path = "local-ipv4"
		}
		t.ID, err = AWSMetadata(ctx, a.MetadataURL, path)
	}
	return t, err
}

func groupType(pools []Pool) string {
	for _, p := range pools {
		if tt, ok := p.(TargetTyper); ok && tt.TargetType() == TypeIP {
			return TypeIP
		}
	}
	return TypeInstance
}

// checkKnown tells an unknown target from one that is merely absent. A
// registration finds out by itself, unless in check mode.
func (s *runState) checkKnown(ctx context.Context) error {
	if s.op == opRegister && !s.m.CheckMode {
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

// timeout is the timeout option, or the default: AWS drains follow the
// largest deregistration_delay of the groups plus a margin. A drain reads
// each group's delay either way (once per group): the wait checks at the
// moment it ends, and a timeout shorter than it is warned about.
func (s *runState) timeout(ctx context.Context) (time.Duration, error) {
	delay := -1
	if s.op == opDrain {
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
	return DefaultInterval[s.provider]
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

// planned is what a run is going to do in each pool.
type planned struct {
	calls     map[*poolRun][]Target // register / deregister calls
	makeFile  bool
	dropFile  bool
	needsWait bool
}

func (s *runState) plan() (planned, error) {
	p := planned{calls: map[*poolRun][]Target{}}
	health := s.a.Method == MethodHealth
	if health && s.a.HealthFile != "" {
		exists, err := healthFileExists(s.a.HealthFile)
		if err != nil {
			return p, err
		}
		p.makeFile = s.op == opDrain && !exists
		p.dropFile = s.op == opRegister && exists
	}
	var refuse []string
	for _, pr := range s.pools {
		st := pr.before
		switch s.op {
		case opDrain:
			if s.drained(pr, st) {
				pr.done = true
				continue
			}
			p.needsWait = true
			if via := selectorOf(s.target, pr.members); !health && via != "" {
				return p, failure.Errorf(s.provider, failure.Unsupported, pr.label(), nil,
					"target %s is in %s through its %s, and targets from a label selector cannot be removed on their own: drain it with method: health (and health_file), or change the server's labels",
					s.target, pr.label(), via)
			}
			if s.inRotation(st) && st.HealthyOthers < s.a.MinHealthy {
				refuse = append(refuse, fmt.Sprintf("%s has %d other healthy targets (of %d)", pr.label(), st.HealthyOthers, st.Targets-1))
			}
			if !health {
				for _, mem := range pr.members {
					if s.target.Matches(mem.Target) && mem.Via == "" && !allStates(mem, StateDraining) {
						p.calls[pr] = append(p.calls[pr], mem.Target)
					}
				}
			}
		case opRegister:
			if st.Registered && st.AllPorts(StateHealthy) {
				pr.done = true
				continue
			}
			p.needsWait = true
			if health {
				if !st.Registered {
					return p, failure.Errorf(s.provider, failure.TargetUnknown, pr.label(), nil,
						"target %s is not a target of %s; method: health only waits for the health checks: add the target with method: remove, or add it to the load balancer first",
						s.target, pr.label())
				}
				continue
			}
			if !st.Registered || st.AllPorts(StateDraining) {
				t := s.target
				t.Port = s.a.TargetPort
				p.calls[pr] = append(p.calls[pr], t)
			}
		}
	}
	if len(refuse) > 0 {
		return p, failure.Errorf(s.provider, failure.MinHealthy, s.pools[0].label(), nil,
			"refusing to drain %s: min_healthy is %d but %s; bring another target up first, or lower min_healthy",
			s.target, s.a.MinHealthy, strings.Join(refuse, ", "))
	}
	return p, nil
}

// drained is the drain acceptor: AWS and method remove want the target
// gone (or unused, as the SDK's TargetDeregistered waiter); method health
// wants it unhealthy on every service.
func (s *runState) drained(pr *poolRun, st State) bool {
	if !st.Registered {
		return true
	}
	if s.a.Method == MethodHealth {
		return st.AllPorts(StateUnhealthy)
	}
	return s.provider == AWS && st.AllPorts(StateUnused)
}

// inRotation reports whether the target takes traffic, for min_healthy.
func (s *runState) inRotation(st State) bool {
	return st.Registered && !st.AllPorts(StateDraining) && !st.AllPorts(StateUnused) && !st.AllPorts(StateUnhealthy)
}

func selectorOf(t Target, members []Member) string {
	for _, m := range members {
		if m.Via != "" && t.Matches(m.Target) {
			return m.Via
		}
	}
	return ""
}

func allStates(m Member, state string) bool {
	if len(m.Health) == 0 {
		return false
	}
	for _, h := range m.Health {
		if h.State != state {
			return false
		}
	}
	return true
}

// act makes the planned changes.
func (s *runState) act(ctx context.Context, p planned) error {
	if p.makeFile {
		made, err := createHealthFile(s.a.HealthFile)
		if err != nil {
			return fmt.Errorf("%v; the target was left in rotation", err)
		}
		s.fileMade = made
	}
	if p.dropFile {
		gone, err := removeHealthFile(s.a.HealthFile)
		if err != nil {
			return fmt.Errorf("%v; the target stays out of rotation", err)
		}
		s.fileGone = gone
	}
	return s.change(ctx, p.calls)
}

// The health file is created and removed by root in a directory the app's
// user may own, so a symbolic link there is refused, never followed: a
// dangling link would make the module create the file it names (say
// /etc/nologin), and reading through a link would judge the wrong file.

// healthFileExists tells whether health_file is there as a regular file.
func healthFileExists(path string) (bool, error) {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("health_file: cannot inspect %s: %v", path, err)
	case st.Mode()&fs.ModeSymlink != 0:
		dest, _ := os.Readlink(path)
		return false, fmt.Errorf("health_file: %s is a symbolic link (to %s), which is neither followed nor removed: "+
			"delete the link, or give the path of the file the application's health check looks for", path, dest)
	case !st.Mode().IsRegular():
		return false, fmt.Errorf("health_file: %s is %s, not a regular file; give the path of the file the application's health check looks for",
			path, ansible.FileKind(st.Mode()))
	}
	return true, nil
}

// createHealthFile creates health_file where nothing is; made is false when
// a regular file appeared there meanwhile.
func createHealthFile(path string) (made bool, err error) {
	// O_EXCL fails on any existing name, a dangling link included, and
	// O_NOFOLLOW says so for a link however the kernel reads O_EXCL.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ELOOP) {
		_, err := healthFileExists(path)
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("health_file: cannot create %s: %v", path, err)
	}
	_, err = f.WriteString("drained by zerodowntime.rolling.lb_drain\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // ours, just made: no half-written file stays
		return false, fmt.Errorf("health_file: cannot write %s: %v", path, err)
	}
	return true, nil
}

// removeHealthFile removes health_file if it is a regular file. Should a
// link replace it between the check and the removal, unlink removes the
// link itself, never the file it names.
func removeHealthFile(path string) (gone bool, err error) {
	exists, err := healthFileExists(path)
	if err != nil || !exists {
		return false, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("health_file: cannot remove %s: %v", path, err)
	}
	return true, nil
}

// change makes the register or deregister calls, in every pool at once;
// what is done so far is kept as the progress an interrupted run reports.
func (s *runState) change(ctx context.Context, calls map[*poolRun][]Target) error {
	var acting []*poolRun
	for _, pr := range s.pools {
		if len(calls[pr]) > 0 {
			acting = append(acting, pr)
		}
	}
	if len(acting) == 0 {
		return nil
	}
	verb := "deregistering from"
	if s.op == opRegister {
		verb = "registering in"
	}
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
		for _, t := range calls[pr] {
			what[i] = fmt.Sprintf("%s %s %s", verb, pr.label(), t)
			pctx := WithCounter(ctx, &pr.counter)
			var err error
			if s.op == opDrain {
				err = pr.pool.Deregister(pctx, t)
			} else {
				err = pr.pool.Register(pctx, t, RegisterOpts{UsePrivateIP: s.a.UsePrivateIP})
			}
			if err != nil {
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
		took := !st.Registered || st.AllPorts(StateDraining)
		if s.op == opRegister {
			took = st.Registered && !st.AllPorts(StateDraining)
		}
		if took && !pr.acted {
			pr.acted, pr.actedAt = true, s.now()
		}
		return nil
	})
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

// wait polls every pool not yet done until each reaches the goal.
func (s *runState) wait(ctx context.Context, deadline time.Time, timeout time.Duration, opts []wait.Option) error {
	waitStart := s.actStart
	pending := 0
	for _, pr := range s.pools {
		if !pr.done {
			pending++
		}
	}
	if pending == 0 {
		return nil
	}
	goal := "no longer registered"
	if s.a.Method == MethodHealth && s.op == opDrain {
		goal = "unhealthy on every service"
	}
	if s.op == opRegister {
		goal = "healthy"
	}
	s.m.Progress("%s; waiting until %s is %s", s.actedSummary(), s.target, goal)

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
			outcome, why := s.accept(pr, st)
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
	if s.op == opRegister && s.provider == AWS {
		// The groups were read a moment ago, and RegisterTargets returns
		// at once: the target stays initial until it passes a health
		// check, so a check now would only spend a request. (Hetzner's
		// register waits for its action, during which the load balancer
		// may already have checked the target.)
		waitOpts = append(waitOpts, wait.WithoutFirstCheck())
	}
	w := wait.New(check, append(waitOpts, opts...)...)
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
		return failure.Errorf(s.provider, failure.Timeout, s.pendingLabels(), err, "%s", s.timeoutMsg(timeout, res.Observed))
	case errors.As(err, &fe) && fe.Err != nil:
		return fe.Err
	}
	return err
}

// accept is the per-provider acceptor of one observation.
func (s *runState) accept(pr *poolRun, st State) (wait.Outcome, string) {
	if s.op == opDrain {
		if s.drained(pr, st) {
			return wait.Success, ""
		}
		return wait.Retry, ""
	}
	if st.Registered && st.AllPorts(StateHealthy) {
		return wait.Success, ""
	}
	if st.Registered && len(st.Health) == 0 && s.provider == Hetzner {
		s.m.Warn("load balancer %s reports no health for %s (it has no services?); not waiting for health", pr.pool.Name(), s.target)
		return wait.Success, ""
	}
	if s.provider != AWS {
		// Hetzner marks a new target unhealthy until enough checks passed,
		// so unhealthy is no verdict there.
		return wait.Retry, ""
	}
	for port, state := range st.Health {
		reason := st.Reasons[port]
		turned := pr.prev.Health[port] != state
		switch {
		case state == StateUnhealthy && turned:
			return wait.Failure, fmt.Sprintf("target %s turned unhealthy in %s on port %s (%s); the load balancer's health check fails: check the application and the group's health check settings",
				s.target, pr.label(), port, orUnknown(reason))
		case state == StateUnused && !strings.HasPrefix(reason, "Target.NotRegistered"):
			return wait.Failure, fmt.Sprintf("target %s is registered in %s but unused on port %s (%s); it will not become healthy until that is fixed",
				s.target, pr.label(), port, orUnknown(reason))
		}
	}
	return wait.Retry, ""
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

func (s *runState) actedSummary() string {
	var acted []string
	for _, pr := range s.pools {
		if pr.acted {
			acted = append(acted, pr.label())
		}
	}
	switch {
	case len(acted) > 0 && s.op == opDrain:
		return "deregistered " + s.target.String() + " from " + strings.Join(acted, ", ")
	case len(acted) > 0:
		return "registered " + s.target.String() + " in " + strings.Join(acted, ", ")
	case s.fileMade:
		return "created health_file " + s.a.HealthFile
	case s.fileGone:
		return "removed health_file " + s.a.HealthFile
	}
	return "nothing changed"
}

func (s *runState) timeoutMsg(timeout time.Duration, observed string) string {
	var hint string
	switch {
	case s.op == opDrain && s.provider == AWS:
		var delay time.Duration
		read := false
		for _, pr := range s.pools {
			if pr.delayRead && !pr.done {
				delay, read = max(delay, pr.drainDelay), true
			}
		}
		hint = "raise timeout above the group's deregistration_delay"
		if read {
			hint += fmt.Sprintf(" (%ds)", int(delay/time.Second))
		}
		hint += ", or lower the delay if long requests need not finish"
	case s.op == opDrain && s.a.Method == MethodHealth:
		hint = "the health checks still pass: make sure the application fails its health check (health_file), and raise timeout above the checks' interval × retries"
	case s.op == opDrain:
		hint = "the load balancer still lists the target; raise timeout or check the load balancer's actions"
	default:
		hint = "the target does not pass the load balancer's health check: check the application and the health check's port and path, or raise timeout"
	}
	goal := "still in rotation"
	if s.op == opRegister {
		goal = "not healthy"
	}
	return fmt.Sprintf("target %s %s in %s after %s (%s); last observed: %s; %s",
		s.target, goal, s.pendingLabels(), timeout, s.actedSummary(), orUnknown(observed), hint)
}

// interrupted words an error of a register/deregister call with what was
// done before it.
func (s *runState) interrupted(err error, doing string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return failure.Errorf(s.provider, failure.Timeout, "", err, "timed out %s (%s): the %s had not answered when timeout ran out; raise timeout", doing, s.actedSummary(), apiName[s.provider])
	}
	return err
}

// apiName names each provider's API in messages.
var apiName = map[string]string{AWS: "ELBv2 API", Hetzner: "Hetzner Cloud API"}

// fail turns err into a module failure carrying the result so far.
func (s *runState) fail(ctx context.Context, err error) (ansible.Result, error) {
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

// predict is the check-mode result: what a run would do.
func (s *runState) predict(p planned) ansible.Result {
	for _, pr := range s.pools {
		if pr.done {
			continue
		}
		after := pr.before
		after.Health = map[string]string{}
		after.Reasons = nil
		switch {
		case s.op == opDrain && s.a.Method == MethodHealth:
			for port := range pr.before.Health {
				after.Health[port] = StateUnhealthy
			}
		case s.op == opDrain:
			after.Registered, after.Via = false, ""
		default:
			after.Registered = true
			for port := range pr.before.Health {
				after.Health[port] = StateHealthy
			}
		}
		pr.after = after
		pr.acted = len(p.calls[pr]) > 0
	}
	s.fileMade, s.fileGone = p.makeFile, p.dropFile
	return s.result(true)
}

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
	res := ansible.Result{Changed: changed, Data: data}
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
