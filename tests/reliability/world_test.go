package reliability

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/notices"
	"github.com/zerodowntime/rolling/tests/progress"
	"github.com/zerodowntime/rolling/tests/rollout"
	"github.com/zerodowntime/rolling/tests/slots"
)

// TestMain starts every scenario at once, and each one then waits for one
// of the machine's end-to-end slots (tests/slots), shared with the other
// test binaries go test runs beside this one: at most one rollout per CPU
// runs at a time, whichever package it comes from. A scenario's deadline
// starts once it holds its slot. An explicit -parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "20")
	}
	code := m.Run()
	writeSummary()
	if demoapp.dir != "" {
		_ = os.RemoveAll(demoapp.dir)
	}
	os.Exit(code)
}

// demoapp is built once for every scenario.
var demoapp struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func buildDemoapp(t *testing.T) string {
	demoapp.once.Do(func() {
		if demoapp.dir, demoapp.err = os.MkdirTemp("", "zdt-rel-"); demoapp.err == nil {
			demoapp.bin, demoapp.err = rollout.BuildDemoapp(context.Background(), demoapp.dir)
		}
	})
	if demoapp.err != nil {
		t.Fatal(demoapp.err)
	}
	return demoapp.bin
}

// expect is the outcome a scenario must have.
type expect int

const (
	completes expect = iota // every host on v2 and in rotation
	stops                   // the rollout stops at one host, safely
	either                  // depends on timing; the scenario's check says what holds
)

func (e expect) String() string {
	switch e {
	case stops:
		return "stops safely"
	case either:
		return "either"
	}
	return "completes"
}

// scenario is one rollout under load with something going wrong.
type scenario struct {
	name  string
	fault string // in words, for the summary
	opts  rollout.Options
	// arm runs once the world is up and before the playbook: it sets
	// faults, or hooks them on the monitor to fire at a moment.
	arm func(w *world)
	// kill, if set, interrupts the first run; a second run follows at
	// once and must converge.
	kill   func(w *world) *kill
	expect expect
	// stopsAt, step and words: for expect stops, the host, step and
	// words the failure message must name.
	stopsAt string
	step    string
	words   []string
	// mayLose exempts the scenario from the zero-loss check (it shows a
	// limitation; its check says what must hold instead).
	mayLose bool
	// check adds scenario-specific assertions.
	check func(t *testing.T, w *world, r *rollout.Report)
	// long, if set, says why the scenario runs in make test-long only.
	long longReason
	// playbook, if set, is a play of the test's own (YAML) to run instead
	// of the collection's playbook.
	playbook string
}

// LongEnv set to 1 runs the scenarios of make test-long too.
const LongEnv = "ZDT_LONG"

// longReason is why a scenario is left to make test-long: make test keeps
// one scenario of each fault class and load balancer kind, within about 20
// minutes on 2 cores.
type longReason string

const (
	// timingSensitive: whether the fault lines up as planned depends on
	// scheduling on a loaded machine.
	timingSensitive longReason = "timing-sensitive on a loaded machine"
	// covered: make test runs a scenario of the same fault class (the
	// scenario's comment names it), and others of the same load balancer
	// kind.
	covered longReason = "make test runs a scenario of the same fault class"
)

// world is a running scenario and its instruments.
type world struct {
	t      *testing.T
	sc     scenario
	s      *rollout.Scenario
	api    *apiRecorder
	mon    *monitor
	run    *runner
	killed *killed
	marks  []string // things the arm hooks did, with times
	start  time.Time
	mu     sync.Mutex
}

// note records what a hook did and when.
func (w *world) note(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.marks = append(w.marks, fmt.Sprintf("+%.1fs %s", time.Since(w.start).Seconds(), fmt.Sprintf(format, args...)))
}

// setFaults replaces lbsim's faults; a bad fault is the test's own bug.
func (w *world) setFaults(f sim.Faults) {
	if err := w.s.Sim.SetFaults(f); err != nil {
		w.t.Errorf("SetFaults: %v", err)
	}
}

// every calls f every d from now until the rollout ends.
func (w *world) every(d time.Duration, f func(i int)) {
	stop := w.mon.stop
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for i := 0; ; i++ {
			f(i)
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
}

// host returns the scenario's host by name.
func (w *world) host(name string) rollout.Host {
	for _, h := range w.s.Hosts {
		if h.Name == name {
			return h
		}
	}
	w.t.Fatalf("no host %s", name)
	return rollout.Host{}
}

// down reports whether name's app does not answer directly.
func (w *world) down(name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := rollout.DirectVersion(ctx, w.host(name))
	return err != nil
}

// runScenarios runs every scenario in parallel, each on its own loopback
// net, and checks its outcome. The test functions run in parallel too, so
// that all scenarios of the package share the same few minutes.
func runScenarios(t *testing.T, scs []scenario) {
	if testing.Short() {
		t.Skip("rollouts under load with real ansible-playbook; skipped with -short")
	}
	t.Parallel()
	c := ansibletest.Install(t)
	buildDemoapp(t)
	for _, sc := range scs {
		t.Run(sc.name, func(t *testing.T) {
			if sc.long != "" && os.Getenv(LongEnv) == "" {
				t.Skipf("%s: in make test-long (%s=1)", sc.long, LongEnv)
			}
			t.Parallel()
			runOne(t, c, sc)
		})
	}
}

func runOne(t *testing.T, c *ansibletest.Collection, sc scenario) {
	slots.Hold(t)
	pace := c.MeasurePace(t)
	setup, cancelSetup := context.WithTimeout(context.Background(), time.Minute)
	defer cancelSetup()
	opts := sc.opts
	opts.Demoapp = buildDemoapp(t)
	if opts.BootDelay == 0 {
		opts.BootDelay = 2 * time.Second
	}
	if opts.Load.Clients == 0 {
		opts.Load.Clients, opts.Load.Pause = 12, 25*time.Millisecond
	}
	// Health checks stay quick but tolerate a slow answer: many scenarios
	// share two cores, and a check timing out under that load is not what
	// they test.
	change := opts.SimConfig
	opts.SimConfig = func(c *sim.Config) {
		for i := range c.Hetzner.LoadBalancers {
			for j := range c.Hetzner.LoadBalancers[i].Services {
				hc := &c.Hetzner.LoadBalancers[i].Services[j].HealthCheck
				hc.Timeout, hc.Retries = sim.Duration(3*time.Second), 3
			}
		}
		for i := range c.AWS.TargetGroups {
			hc := &c.AWS.TargetGroups[i].HealthCheck
			hc.Timeout, hc.UnhealthyThreshold = sim.Duration(3*time.Second), 3
		}
		if change != nil {
			change(c)
		}
	}
	opts.Playbook = func(context.Context, string, map[string]any) (rollout.PlaybookRun, error) {
		return rollout.PlaybookRun{}, fmt.Errorf("set after Setup")
	}
	s, err := rollout.Setup(setup, opts)
	if err != nil {
		t.Fatalf("setting up the scenario: %v", err)
	}
	defer s.Close()
	// The deadline comes from what the rollout waits for, at the pace
	// ansible-playbook runs now; a killed run is followed by a second one.
	b, runs := s.Budget(pace.Startup, pace.PerTask), 1
	if sc.kill != nil {
		runs = 2
	}
	limit := time.Duration(runs) * b.Total()
	why := fmt.Errorf("deadline %s: %d run(s) of %s", limit.Round(time.Second), runs, b)
	t.Log(why)
	ctx, cancel := context.WithTimeoutCause(context.Background(), limit, why)
	defer cancel()
	env := append(c.Environ(), progress.Environ(s.ProgressFile())...)
	w := &world{t: t, sc: sc, s: s, run: &runner{env: env, dir: s.Dir()}, start: time.Now()}
	defer w.run.close()
	if sc.playbook != "" {
		w.run.playbook = filepath.Join(s.Dir(), "playbook.yml")
		if err := os.WriteFile(w.run.playbook, []byte(sc.playbook), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The modules reach lbsim's API through a recorder that counts the
	// answers by status.
	vars := map[string]any{}
	for k, v := range sc.opts.Vars {
		vars[k] = v
	}
	if s.Sim != nil {
		ep := s.Sim.Endpoints()
		target := ep.HetznerAPI
		if opts.LB == "aws" {
			target = ep.AWSAPI
		}
		if w.api, err = startRecorder(target); err != nil {
			t.Fatal(err)
		}
		defer w.api.close()
		switch opts.LB {
		case "hetzner":
			vars["deploy_hetzner_endpoint"] = w.api.base + "/v1"
		case "aws":
			vars["deploy_aws_endpoint_url"] = w.api.base
		}
	}
	s.Opts.Vars = vars
	w.mon = startMonitor(s, 50*time.Millisecond)
	defer w.mon.close()
	if sc.arm != nil {
		sc.arm(w)
	}
	s.Opts.Playbook = func(ctx context.Context, inventory string, vars map[string]any) (rollout.PlaybookRun, error) {
		if sc.kill != nil {
			k := sc.kill(w)
			_, kd, err := w.run.run(ctx, inventory, vars, k)
			if err != nil {
				return rollout.PlaybookRun{}, err
			}
			w.killed = kd
			w.note("killed (%s, %s) after %.1fs, exit %d", k.Name, kd.Signaled, kd.After.Seconds(), kd.ExitCode)
		}
		run, _, err := w.run.run(ctx, inventory, vars, nil)
		return run, err
	}
	r, err := s.Run(ctx)
	w.mon.close()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	res := w.result(r)
	record(res)
	t.Logf("%s", res.line())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("report: %s", r.JSON())
			t.Logf("marks: %q", w.marks)
			t.Logf("stderr: %s", lastLines(r.Stderr, 30))
			if s.HAProxy != nil {
				t.Logf("haproxy log:\n%s", s.HAProxy.Log())
			}
		}
	})

	if !allVersion(r.VersionsBefore, s.Hosts, "v1") {
		t.Errorf("versions before = %v, want v1 everywhere", r.VersionsBefore)
	}
	// Whatever the fault: no user request fails, and enough of them ran
	// for that to mean something.
	if r.Failed != 0 && !sc.mayLose {
		t.Errorf("%d of %d user requests failed: %q", r.Failed, r.Requests, r.Errors)
	}
	if want := int64(300 * len(s.Hosts) / 3); r.Requests < want {
		t.Errorf("only %d user requests were sent; want at least %d for the proof to count", r.Requests, want)
	}
	// Whatever the fault, ansible-core deprecates nothing the role or the
	// plugins do.
	for _, d := range notices.Deprecations(r.Notices()) {
		t.Errorf("the rollout printed a %s", d)
	}
	noneRegisteredBroken(t, w, r)
	switch sc.expect {
	case completes:
		checkConverged(t, w, r)
	case stops:
		checkStopped(t, w, r)
	}
	if sc.kill != nil && w.killed == nil {
		t.Errorf("the first run was not killed")
	}
	if sc.check != nil {
		sc.check(t, w, r)
	}
}

// checkConverged: the playbook succeeded; every host serves v2, directly
// and through the load balancer, and is in rotation.
func checkConverged(t *testing.T, w *world, r *rollout.Report) {
	t.Helper()
	if r.ExitCode != 0 {
		t.Errorf("ansible-playbook exit %d, want 0: %s: %s", r.ExitCode, r.FailedHost, r.FailedMsg)
	}
	if !allVersion(r.DirectAfter, w.s.Hosts, "v2") {
		t.Errorf("versions asked directly after = %v, want v2 on every host", r.DirectAfter)
	}
	if !allVersion(r.VersionsAfter, w.s.Hosts, "v2") {
		t.Errorf("versions through the LB after = %v, want v2 from every host", r.VersionsAfter)
	}
	for _, h := range w.s.Hosts {
		if !r.LBAfter[h.Name].InRotation {
			t.Errorf("%s is %q in the LB at the end, want in rotation", h.Name, r.LBAfter[h.Name].State)
		}
	}
}

// checkStopped: the rollout failed at sc.stopsAt in sc.step with a message
// naming the host, the step and what was observed; the hosts before it are
// on v2 in rotation, the hosts after it were never drained and serve v1 in
// rotation.
func checkStopped(t *testing.T, w *world, r *rollout.Report) {
	t.Helper()
	sc := w.sc
	if r.ExitCode == 0 {
		t.Errorf("ansible-playbook exit 0, want the rollout to stop at %s", sc.stopsAt)
	}
	if r.FailedHost != sc.stopsAt {
		t.Errorf("failed host %q, want %s (msg %q)", r.FailedHost, sc.stopsAt, r.FailedMsg)
	}
	for _, want := range append([]string{sc.stopsAt, "the " + sc.step + " step failed"}, sc.words...) {
		if !strings.Contains(r.FailedMsg, want) {
			t.Errorf("failure message lacks %q: %q", want, r.FailedMsg)
		}
	}
	before := true
	for _, h := range w.s.Hosts {
		switch {
		case h.Name == sc.stopsAt:
			before = false
		case before:
			if r.DirectAfter[h.Name] != "v2" || !r.LBAfter[h.Name].InRotation {
				t.Errorf("%s (done before the failure) serves %q and is %q in the LB; want v2 in rotation",
					h.Name, r.DirectAfter[h.Name], r.LBAfter[h.Name].State)
			}
		default:
			if slices.Contains(r.Drained, h.Name) {
				t.Errorf("%s was drained; the rollout must stop at %s", h.Name, sc.stopsAt)
			}
			if r.DirectAfter[h.Name] != "v1" || r.VersionsAfter[h.Name] != "v1" || !r.LBAfter[h.Name].InRotation {
				t.Errorf("%s (not reached) serves %q directly, %q through the LB and is %q; want v1 in rotation",
					h.Name, r.DirectAfter[h.Name], r.VersionsAfter[h.Name], r.LBAfter[h.Name].State)
			}
		}
	}
}

// noneRegisteredBroken: at the end, every host the load balancer still
// lists (in any state) is in rotation and its app answers with a version
// that was rolled out. A host the rollout gave up on must be out of the
// load balancer, not left registered for its health to decide.
func noneRegisteredBroken(t *testing.T, w *world, r *rollout.Report) {
	t.Helper()
	for _, h := range w.s.Hosts {
		st := r.LBAfter[h.Name]
		registered := st.State != "absent" && st.State != "unused" && st.State != "maint"
		if !registered {
			continue
		}
		v := r.DirectAfter[h.Name]
		if !st.InRotation || (v != "v1" && v != "v2") {
			t.Errorf("%s is left registered while broken: the LB has it %q (in rotation %v), its app serves %q",
				h.Name, st.State, st.InRotation, v)
		}
	}
}

func allVersion(got map[string]string, hosts []rollout.Host, want string) bool {
	if len(got) != len(hosts) {
		return false
	}
	for _, h := range hosts {
		if got[h.Name] != want {
			return false
		}
	}
	return true
}

// result is one scenario's figures, for the summary and the README.
type result struct {
	Name       string                         `json:"name"`
	LB         string                         `json:"lb"`
	Fault      string                         `json:"fault"`
	Expect     string                         `json:"expect"`
	Exit       int                            `json:"exit"`
	FailedHost string                         `json:"failed_host,omitempty"`
	Msg        string                         `json:"msg,omitempty"`
	Requests   int64                          `json:"requests"`
	Lost       int64                          `json:"lost"`
	API        *apiCounts                     `json:"api,omitempty"`
	MinIn      int                            `json:"min_in_rotation"`
	MinInAt    map[string]rollout.TargetState `json:"min_in_rotation_at,omitempty"`
	Elapsed    float64                        `json:"elapsed"`
	Killed     *killed                        `json:"killed,omitempty"`
	Marks      []string                       `json:"marks,omitempty"`
}

func (w *world) result(r *rollout.Report) result {
	res := result{Name: w.sc.name, LB: w.s.Opts.LB, Fault: w.sc.fault, Expect: w.sc.expect.String(),
		Exit: r.ExitCode, FailedHost: r.FailedHost, Msg: r.FailedMsg,
		Requests: r.Requests, Lost: r.Failed, MinIn: w.mon.stats().MinIn, MinInAt: w.mon.stats().MinInAt,
		Elapsed: r.Elapsed, Killed: w.killed}
	if w.api != nil {
		c := w.api.counts()
		res.API = &c
	}
	w.mu.Lock()
	res.Marks = append([]string(nil), w.marks...)
	w.mu.Unlock()
	return res
}

func (r result) line() string {
	s := fmt.Sprintf("%s [%s, %s]: exit %d, %d requests, %d lost, min %d in rotation, %.1fs",
		r.Name, r.LB, r.Expect, r.Exit, r.Requests, r.Lost, r.MinIn, r.Elapsed)
	if r.API != nil {
		s += fmt.Sprintf("; API %d requests, %d throttled, %d 5xx %v", r.API.Requests, r.API.Throttle, r.API.Errors5x, r.API.ByStatus)
	}
	if r.Killed != nil {
		s += fmt.Sprintf("; killed with %s after %.1fs (exit %d)", r.Killed.Signaled, r.Killed.After.Seconds(), r.Killed.ExitCode)
	}
	if r.Msg != "" {
		s += fmt.Sprintf("; %s: %s", r.FailedHost, r.Msg)
	}
	return s
}

var results struct {
	mu  sync.Mutex
	all []result
}

func record(r result) {
	results.mu.Lock()
	results.all = append(results.all, r)
	results.mu.Unlock()
}

// writeSummary prints every scenario's figures, and writes them as JSON to
// $ZDT_RELIABILITY_REPORT when set (the README's table comes from there).
func writeSummary() {
	results.mu.Lock()
	defer results.mu.Unlock()
	if len(results.all) == 0 {
		return
	}
	sort.Slice(results.all, func(i, j int) bool { return results.all[i].Name < results.all[j].Name })
	if p := os.Getenv("ZDT_RELIABILITY_REPORT"); p != "" {
		b, _ := json.MarshalIndent(results.all, "", "  ")
		_ = os.WriteFile(p, append(b, '\n'), 0o644)
	}
	if testing.Verbose() {
		fmt.Println("\nreliability summary:")
		for _, r := range results.all {
			fmt.Println("  " + r.line())
		}
	}
}
