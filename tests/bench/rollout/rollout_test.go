// Package rollout times whole rolling deploys with tests/rollout's harness
// (demoapp hosts behind a load balancer, continuous load with 1-2 s
// requests): zerodowntime.rolling.deploy vs a seed-style playbook (the peer
// modules and uri until loops with delay: 5, as public write-ups do it:
// seed.yml for HAProxy, seed_hetzner.yml and seed_aws.yml for the clouds on
// lbsim) vs the floor, for 3 and 10 hosts and two app profiles, and counts
// the bytes each app host receives over a real SSH connection during a
// rollout.
//
// The profiles differ in the user's start step (see profiles). In (a) the
// start blocks until the app has booted, so a verify loop finds the new
// version at its first try; in (b) the start returns at once, as
// systemctl restart of a Type=simple unit does, and the app becomes ready
// later, which is when a verify loop's delay costs time.
//
// The floor of one host is what the load balancer and the app cost without
// any tooling: the time its in-flight requests took to end once the load
// balancer stopped sending it new ones (observed on the load balancer every
// 25 ms), the app's boot delay (the configured one: the app's cost whether
// the start step waits for it or the verify does), and the load balancer's
// own detection time (health-check interval x threshold, plus the add and
// remove actions' own time on Hetzner). Overhead per host =
// (ansible-playbook's wall time - the sum of the hosts' floors) / hosts; it
// includes ansible-playbook's start-up, measured separately below.
package rollout

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/benchkit"
	"github.com/zerodowntime/rolling/tests/bench/sshd"
	"github.com/zerodowntime/rolling/tests/rollout"
	"gopkg.in/yaml.v3"
)

// profile is how the app and the user's start step behave.
type profile struct {
	key    string
	desc   string
	boot   time.Duration // demoapp -start-delay
	noWait bool          // the start returns at once (demoapp -daemon-wait=false)
}

// profiles are run in this order, each with both playbooks and the same
// HAProxy settings. (a) is the harness's default; (b) is how the public
// write-ups deploy: systemctl restart of a Type=simple unit returns before
// the app is ready.
var profiles = []profile{
	{key: "a", desc: "start waits for boot, 3 s boot", boot: 3 * time.Second},
	{key: "b", desc: "systemd Type=simple: start returns at once, app boots in 1 s", boot: time.Second, noWait: true},
}

// sshProfiles are the profiles also run over SSH, with 3 hosts, behind
// HAProxy; pipeliningProfiles once more with Ansible's pipelining on, which
// spares the user's Python tasks their temporary files (ours do without
// them either way).
var (
	sshProfiles        = []string{"a", "b"}
	pipeliningProfiles = []string{"b"}
)

// The connections a rollout runs over.
const (
	connLocal      = "local"
	connSSH        = "ssh"
	connPipelining = "ssh+pipelining"
)

// cloudProfiles are the profiles run behind the simulated clouds (local
// connection): (b) only, the way the public write-ups deploy, to keep the
// benchmark's time in bounds.
var cloudProfiles = []string{"b"}

// lbKind is a load balancer the rollouts run behind, with its seed-style
// playbook and what the tables say of it.
type lbKind struct {
	name      string // as ZDT_BENCH_LB and the tables call it
	lb        string // rollout.Options.LB
	nodes     int    // rollout.Options.HAProxyNodes
	seed      string // the seed-style playbook, in this directory
	seedDesc  string
	title     string // its settings
	detection string // what the floor counts as its detection
	// vars are role variables for our playbook only (the seed's loops
	// keep their own settings).
	vars map[string]any
}

var lbKinds = []lbKind{
	{name: "haproxy", lb: "haproxy", seed: "seed.yml", seedDesc: "c.g.haproxy + uri until, delay 5",
		title:     "HAProxy, check inter 200 rise 2",
		detection: "inter x rise, from the harness's HAProxy config"},
	// The seed loops over the nodes as the role's earlier loop did, one
	// node after the other.
	{name: "haproxy-pair", lb: "haproxy", nodes: 2, seed: "seed.yml", seedDesc: "c.g.haproxy + uri until, delay 5",
		title:     "an active/active pair of HAProxy nodes (lb1, lb2), the load spread over both, check inter 200 rise 2",
		detection: "inter x rise, from the harness's HAProxy config; the in-flight part ends when neither node has a request of the host in flight"},
	{name: "hetzner", lb: "hetzner", seed: "seed_hetzner.yml", seedDesc: "hcloud target + uri until, delay 5",
		title: fmt.Sprintf("Hetzner Cloud LB on lbsim, health check every %s, retries %d, actions take %s",
			rollout.SimCheckInterval, rollout.SimCheckThreshold, rollout.SimActionDelay),
		detection: "interval x retries + remove and add actions = " + benchkit.Secs(simDetection("hetzner"))},
	awsKind,
	// The same, with ours checking the target every 0.1 s from the start
	// of each wait: what denser checks buy, and what they cost in API
	// requests (up to 10 a second while a host waits, all of ELBv2's
	// Describe refill for the account and region).
	withVars(awsKind, "interval-0.1", "ours with deploy_lb_interval: 0.1 (a check every 0.1 s while waiting, up to 10 requests a second)",
		map[string]any{"deploy_lb_interval": 0.1}),
}

var awsKind = lbKind{name: "aws", lb: "aws", seed: "seed_aws.yml", seedDesc: "elb_target with target_status + uri until, delay 5",
	title: fmt.Sprintf("AWS ELBv2 target group on lbsim, health check every %s, healthy threshold %d, deregistration delay %s (ends early once idle)",
		rollout.SimCheckInterval, rollout.SimCheckThreshold, rollout.SimDeregistrationDelay),
	detection: "interval x healthy threshold = " + benchkit.Secs(simDetection("aws")) + "; the in-flight part holds the draining"}

// withVars is k with role variables for our playbook: named k's name plus
// suffix, its title saying what they do.
func withVars(k lbKind, suffix, what string, vars map[string]any) lbKind {
	k.name += "-" + suffix
	k.title += "; " + what
	k.vars = vars
	return k
}

// selectedLBs are the load balancers to run behind: all, or the ones
// ZDT_BENCH_LB lists (comma-separated), for a shorter run.
func selectedLBs() []lbKind {
	env := os.Getenv("ZDT_BENCH_LB")
	if env == "" {
		return lbKinds
	}
	want := strings.Split(env, ",")
	for i := range want {
		want[i] = strings.TrimSpace(want[i])
	}
	var out []lbKind
	for _, k := range lbKinds {
		if slices.Contains(want, k.name) {
			out = append(out, k)
		}
	}
	return out
}

// selectedConns are the connections to run over: all, or the ones
// ZDT_BENCH_CONN lists (comma-separated), for a shorter run.
func selectedConns() []string {
	all := []string{connLocal, connSSH, connPipelining}
	env := os.Getenv("ZDT_BENCH_CONN")
	if env == "" {
		return all
	}
	var out []string
	for _, c := range strings.Split(env, ",") {
		if c = strings.TrimSpace(c); slices.Contains(all, c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// The 127.0.N.x networks the rollouts use, one per rollout, clear of the
// tests' (TestNetCounterWraps finds theirs). A full run takes 66 with 5 runs per 3-host pair;
// past lastNet they are used again from firstNet (each rollout stops what
// it started; distinct networks only keep neighbouring runs apart).
const (
	firstNet = 131
	lastNet  = 200
)

// netCounter hands out the next network.
type netCounter struct{ next int }

func (c *netCounter) take() int {
	if c.next < firstNet || c.next > lastNet {
		c.next = firstNet
	}
	c.next++
	return c.next - 1
}

type measured struct {
	lb        string
	profile   profile
	hosts     int
	playbook  string
	conn      string
	elapsed   time.Duration
	floors    []floor
	rep       *rollout.Report
	sent      map[string]int64 // per app host, over SSH
	buildPuts map[string]int   // transfers of the zdt build per app host
	otherPuts map[string]int   // other files put per app host
	tasks     []benchkit.Task
	note      string
	runs      []time.Duration // every run's elapsed, when the pair ran more than once
	api       int64           // cloud API requests the playbook made (lbsim's count, metadata service aside)
	// warm marks an SSH run where ours found its build in each app host's
	// cache (the seed's run beside it is marked too); remoteCache is an
	// app host's cache after the run, to fill the next run's from.
	warm        bool
	remoteCache string
	hostNames   []string // the app hosts, in inventory order
}

// connLabel is the connection as the tables show it.
func (m *measured) connLabel() string {
	if m.warm {
		return m.conn + ", warm"
	}
	return m.conn
}

// repeats is how many times a pair of rollouts with n hosts runs (local
// connection): 5 for 3 hosts (ZDT_BENCH_REPS overrides), once for more. The
// tables show the median run and the range. One run says little: the
// seed's drain costs 0 or 5 s per host depending on whether a session is
// open at its first check, and the in-flight part of the floor varies. With
// 3 runs the median still moved a lot between make bench runs of the same
// code (HAProxy, profile b: seed/ours 4.07x, 3.10x, 2.63x).
func repeats(n int) int {
	if n > 3 {
		return 1
	}
	if r, err := strconv.Atoi(os.Getenv("ZDT_BENCH_REPS")); err == nil && r > 0 {
		return r
	}
	return 5
}

// median is the run with the median elapsed time, carrying every run's time.
func median(ms []measured) measured {
	sorted := slices.Clone(ms)
	slices.SortFunc(sorted, func(a, b measured) int { return cmp.Compare(a.elapsed, b.elapsed) })
	m := sorted[len(sorted)/2]
	if len(ms) > 1 {
		for _, x := range sorted {
			m.runs = append(m.runs, x.elapsed)
		}
	}
	return m
}

// timeCell is a run's elapsed time, with the range when it ran several times.
func timeCell(m *measured) string {
	if len(m.runs) < 2 {
		return benchkit.Secs(m.elapsed)
	}
	return fmt.Sprintf("%s (%.1f-%.1f)", benchkit.Secs(m.elapsed), m.runs[0].Seconds(), m.runs[len(m.runs)-1].Seconds())
}

// floor is one host's floor. out and idle bound its in-flight part: when
// the host left rotation and when its last request ended (zero when the
// observer missed them).
type floor struct {
	host            string
	restart, detect time.Duration
	out, idle       time.Time
}

// inFlight is the in-flight part: out to idle, 0 when either was missed.
func (f floor) inFlight() time.Duration {
	if f.out.IsZero() || f.idle.IsZero() {
		return 0
	}
	return f.idle.Sub(f.out)
}

func (f floor) total() time.Duration { return f.inFlight() + f.restart + f.detect }

func (m measured) floorSum() time.Duration {
	var s time.Duration
	for _, f := range m.floors {
		s += f.total()
	}
	return s
}

func (m measured) overheadPerHost() time.Duration {
	return (m.elapsed - m.floorSum()) / time.Duration(m.hosts)
}

// userTasksPerHost is what the user's deploy tasks (stop, start) took per
// host beyond the parts of the floor they hold: the boot where the start
// waits for it (profile a), and the host's in-flight requests where the
// drain cannot wait for them (Hetzner: the app's graceful stop holds them).
// Both playbooks run the same tasks file; its time is Ansible running the
// user's restart, not what either tooling adds. The rollouts run one host
// at a time, so each task ran on one host.
func (m measured) userTasksPerHost() time.Duration {
	floorOf := map[string]floor{}
	for _, f := range m.floors {
		floorOf[f.host] = f
	}
	var d time.Duration
	for _, task := range m.tasks {
		if kind(task.Name) != "user" {
			continue
		}
		d += task.Duration()
		for h := range task.Hosts {
			if f, ok := floorOf[h]; ok {
				d -= overlap(task.Start, task.End, f.out, f.idle)
			}
		}
	}
	d -= m.bootHeld()
	return max(d, 0) / time.Duration(m.hosts)
}

// bootHeld is the boot time the user's start task holds over the run: every
// host's boot where the start waits for it (profile a), none where it
// returns at once. The floor counts it, so it is not Ansible's.
func (m measured) bootHeld() time.Duration {
	if m.profile.noWait {
		return 0
	}
	return time.Duration(m.hosts) * m.profile.boot
}

// overlap is how long [a0, a1] and [b0, b1] share; 0 if either is unset.
func overlap(a0, a1, b0, b1 time.Time) time.Duration {
	if a0.IsZero() || a1.IsZero() || b0.IsZero() || b1.IsZero() {
		return 0
	}
	start, end := a0, a1
	if b0.After(start) {
		start = b0
	}
	if b1.Before(end) {
		end = b1
	}
	return max(end.Sub(start), 0)
}

func TestBenchRollout(t *testing.T) {
	benchkit.Gate(t)
	lbs := selectedLBs()
	if len(lbs) == 0 {
		var names []string
		for _, k := range lbKinds {
			names = append(names, k.name)
		}
		t.Fatalf("ZDT_BENCH_LB=%q names no load balancer; use a comma-separated list of %s", os.Getenv("ZDT_BENCH_LB"), strings.Join(names, ", "))
	}
	coll := ansibletest.Install(t)
	ctx := context.Background()
	// Built under <tmp>/zdt-*, where the harness looks for apps that a
	// killed run left listening (a run that hits go test's -timeout never
	// stops its apps), so that the next run can take their addresses.
	bindir, err := os.MkdirTemp("", "zdt-bench-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bindir) })
	demoapp, err := rollout.BuildDemoapp(ctx, bindir)
	if err != nil {
		t.Fatal(err)
	}
	seed := func(k lbKind) string {
		p, err := filepath.Abs(k.seed)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	startup := ansibleStartup(t, coll)
	bare, err := filepath.Abs(barePlaybook)
	if err != nil {
		t.Fatal(err)
	}

	conns := selectedConns()
	if len(conns) == 0 {
		t.Fatalf("ZDT_BENCH_CONN=%q names no connection; use a comma-separated list of %s, %s, %s", os.Getenv("ZDT_BENCH_CONN"), connLocal, connSSH, connPipelining)
	}
	var nets netCounter
	var rows []measured
	local := lbs
	if !slices.Contains(conns, connLocal) {
		local = nil // ZDT_BENCH_CONN leaves the local rollouts out
	}
	for _, lb := range local {
		for _, p := range profiles {
			if lb.name != "haproxy" && !slices.Contains(cloudProfiles, p.key) {
				continue
			}
			for _, n := range []int{3, 10} {
				// Ours and the seed take turns, so that both see the
				// machine in the same state.
				runs := map[string][]measured{}
				pbs := []string{rollout.DeployPlaybook, seed(lb), bare}
				for range repeats(n) {
					for _, pb := range pbs {
						runs[pb] = append(runs[pb], runRollout(t, coll, demoapp, pb, lb, p, n, connLocal, "", nets.take()))
					}
				}
				for _, pb := range pbs {
					rows = append(rows, median(runs[pb]))
				}
			}
		}
	}
	if haproxy := slices.IndexFunc(lbs, func(k lbKind) bool { return k.name == "haproxy" }); haproxy < 0 {
		t.Log("SSH rollouts skipped: they run behind HAProxy")
	} else if why := sshd.Available(); why != "" {
		t.Logf("SSH rollouts skipped: %s", why)
	} else {
		for _, p := range profiles {
			var over []string
			if slices.Contains(sshProfiles, p.key) && slices.Contains(conns, connSSH) {
				over = append(over, connSSH)
			}
			if slices.Contains(pipeliningProfiles, p.key) && slices.Contains(conns, connPipelining) {
				over = append(over, connPipelining)
			}
			// Each SSH pair runs twice: with the app hosts' caches empty,
			// as at a version's first rollout, and filled from that run,
			// as at every later one (the seed, which has no cache, runs
			// again beside ours).
			for _, conn := range over {
				var cold string // an app host's cache after the cold run of ours
				for _, warm := range []bool{false, true} {
					for _, pb := range []string{rollout.DeployPlaybook, seed(lbs[haproxy]), bare} {
						ours := pb == rollout.DeployPlaybook
						fill := ""
						if warm && ours {
							fill = cold
						}
						m := runRollout(t, coll, demoapp, pb, lbs[haproxy], p, 3, conn, fill, nets.take())
						m.warm = warm
						if ours && !warm {
							cold = m.remoteCache
						}
						rows = append(rows, m)
					}
				}
			}
		}
	}
	printTables(rows, startup)
}

// ansibleStartup is the wall time of a playbook with one no-op task.
func ansibleStartup(t *testing.T, coll *ansibletest.Collection) time.Duration {
	var ds []time.Duration
	for range 3 {
		r := coll.Playbook(t, "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.meta: noop\n")
		ds = append(ds, r.Elapsed)
	}
	return benchkit.Median(ds)
}

// runRollout runs playbook once. Over SSH, each app host's build cache
// starts as a copy of cache when that is not empty.
func runRollout(t *testing.T, coll *ansibletest.Collection, demoapp, playbook string, lb lbKind, p profile, hosts int, conn, cache string, net int) measured {
	t.Helper()
	return runRolloutWith(t, coll, demoapp, playbook, lb, p, hosts, conn, cache, net, nil)
}

// runRolloutWith is runRollout with adapt, when not nil, applied to the
// playbook's extra variables (an earlier commit's role may not know all of
// today's).
func runRolloutWith(t *testing.T, coll *ansibletest.Collection, demoapp, playbook string, lb lbKind, p profile, hosts int, conn, cache string, net int,
	adapt func(map[string]any) map[string]any) measured {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	m := measured{lb: lb.name, profile: p, hosts: hosts, playbook: playbook, conn: conn, sent: map[string]int64{}, buildPuts: map[string]int{}, otherPuts: map[string]int{}}
	var servers map[string]*sshd.Server // app host -> its sshd
	var stdout string
	opts := rollout.Options{LB: lb.lb, HAProxyNodes: lb.nodes, Hosts: hosts, Net: net, Demoapp: demoapp, BootDelay: p.boot, StartNoWait: p.noWait,
		Load: rollout.LoadOptions{Clients: 20, Pause: 20 * time.Millisecond}}
	if playbook == rollout.DeployPlaybook {
		opts.Vars = lb.vars
	}
	if isBare(playbook) {
		// Nothing takes the host out of rotation, so a slow request in
		// flight would hold the app's graceful stop: the floor's part,
		// which this run is not meant to count. Fast requests keep the
		// machine as busy as in the other runs.
		opts.Load.SlowEvery = -1
	}
	var s *rollout.Scenario // Setup below assigns it (same scope), before the playbook runs
	opts.Playbook = func(ctx context.Context, inventory string, vars map[string]any) (rollout.PlaybookRun, error) {
		if adapt != nil {
			vars = adapt(vars)
		}
		ao := []ansibletest.Option{ansibletest.Vars(vars), ansibletest.Timeout(14 * time.Minute)}
		if servers != nil {
			inv, err := sshInventory(inventory, servers)
			if err != nil {
				return rollout.PlaybookRun{}, err
			}
			inventory = inv
			ao = append(ao, ansibletest.Verbose(3)) // PUT lines name every file sent
			if conn == connPipelining {
				ao = append(ao, ansibletest.Env("ANSIBLE_PIPELINING=True"))
			}
			for _, s := range servers {
				s.Proxy.Reset()
			}
		}
		ao = append(ao, ansibletest.Inventory(inventory))
		if s.Sim != nil {
			s.Sim.ResetCounts()
		}
		r := coll.PlaybookFile(t, playbook, append(ao, ansibletest.AllowDeprecations())...)
		m.elapsed, stdout = r.Elapsed, r.Stdout
		if s.Sim != nil {
			for op, n := range s.Sim.Counts().API {
				if !strings.HasPrefix(op, "metadata ") { // the instance's own metadata service is no cloud API
					m.api += n
				}
			}
		}
		return rollout.PlaybookRun{ExitCode: r.ExitCode, Stdout: r.Stdout, Stderr: r.Stderr}, nil
	}
	s, err := rollout.Setup(ctx, opts)
	if err != nil && hosts > 9 && strings.Contains(err.Error(), "at most 9") {
		// tests/rollout allows 9 hosts at most (addresses 127.0.N.11-19).
		m.note = fmt.Sprintf("asked for %d hosts; tests/rollout allows at most 9", hosts)
		opts.Hosts, m.hosts = 9, 9
		s, err = rollout.Setup(ctx, opts)
	}
	if err != nil {
		t.Fatalf("%s, %s, profile %s, %d hosts: %v", playbook, lb.name, p.key, hosts, err)
	}
	defer s.Close()
	for _, h := range s.Hosts {
		m.hostNames = append(m.hostNames, h.Name)
	}
	if conn != connLocal {
		servers = map[string]*sshd.Server{}
		for _, h := range s.Hosts {
			srv := sshd.Start(t, sshd.Options{Home: filepath.Join(t.TempDir(), h.Name), Count: true})
			servers[h.Name] = srv
			if cache != "" {
				if err := copyBuilds(cache, filepath.Join(srv.Home, ansibletest.RemoteCacheDir)); err != nil {
					t.Fatalf("filling %s's build cache: %v", h.Name, err)
				}
			}
		}
		m.remoteCache = filepath.Join(servers[s.Hosts[0].Name].Home, ansibletest.RemoteCacheDir)
	}
	// The observer also runs beside the deploy step alone, whose floors
	// are not used: its polls of the load balancer load the machine as in
	// the other runs.
	obs := observe(t, s)
	rep, err := s.Run(ctx)
	obs.stop()
	if err != nil {
		t.Fatalf("%s, %s, profile %s, %d hosts over %s: %v", playbook, lb.name, p.key, hosts, conn, err)
	}
	if rep.ExitCode != 0 {
		t.Fatalf("%s, %s, profile %s, %d hosts over %s: ansible-playbook exit %d: %s %s\n%s", playbook, lb.name, p.key, hosts, conn, rep.ExitCode, rep.FailedHost, rep.FailedMsg, rep.Stderr)
	}
	m.rep = rep
	if !isBare(playbook) {
		m.floors = obs.floors(t, s)
	}
	if m.tasks, err = benchkit.Tasks(stdout); err != nil {
		t.Fatal(err)
	}
	// An outlier in the deploy step is the user's tasks, not ours: name it.
	for _, task := range m.tasks {
		if d := task.Duration(); kind(task.Name) == "user" && d > 2*time.Second+p.boot {
			for h := range task.Hosts {
				t.Logf("%s, %s: %q on %s took %s", filepath.Base(playbook), lb.name, task.Name, h, benchkit.Secs(d))
			}
		}
	}
	byPort := map[string]string{}
	for name, srv := range servers {
		m.sent[name] = srv.Proxy.Sent.Load()
		byPort[strconv.Itoa(srv.Port)] = name
	}
	for _, put := range puts(stdout) {
		if name, ok := byPort[put.port]; ok {
			m.otherPuts[name]++
		}
	}
	// Our builds do not travel as PUT: the action plugins send one on the
	// standard input of a command writing into the remote cache.
	for _, mm := range sendRE.FindAllStringSubmatch(stdout, -1) {
		if name, ok := byPort[mm[1]]; ok {
			m.buildPuts[name]++
		}
	}
	if cache != "" {
		for name, n := range m.buildPuts {
			if n > 0 {
				t.Errorf("%s over %s with a warm cache: %s was sent a build %d time(s); the warm rows must send none", filepath.Base(playbook), conn, name, n)
			}
		}
	}
	t.Logf("%s, %s, profile %s, %d hosts over %s: %s, %d requests, %d failed; hosts %v", filepath.Base(playbook), lb.name, p.key, m.hosts, conn,
		benchkit.Secs(m.elapsed), rep.Requests, rep.Failed, rep.Hosts)
	return m
}

// copyBuilds copies the builds (files named by their SHA-256) of one
// host's cache into another's, as a rollout before this one left them.
func copyBuilds(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	n := 0
	for _, e := range entries {
		if !buildRE.MatchString(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o700); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s holds no build", from)
	}
	return nil
}

var (
	buildRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	putRE   = regexp.MustCompile(`PUT (\S+) TO (\S+)`)
	execRE  = regexp.MustCompile(`SSH: EXEC (?:sftp|scp) .*-o Port=(\d+)`)
	sendRE  = regexp.MustCompile(`SSH: EXEC ssh .*-o Port=(\d+) .*(?:cat|gzip -dc) > \S*/\.ansible/zerodowntime_rolling/\.[0-9a-f]{16}\.`)
)

type put struct{ src, dst, port string }

// puts returns the files that ansible-playbook -vvv says it put, each with
// the SSH port of the sftp/scp command that carried it (the next EXEC line).
func puts(stdout string) []put {
	var out []put
	var pending *put
	for _, l := range strings.Split(stdout, "\n") {
		if mm := putRE.FindStringSubmatch(l); mm != nil {
			pending = &put{src: mm[1], dst: mm[2]}
			continue
		}
		if mm := execRE.FindStringSubmatch(l); mm != nil && pending != nil {
			pending.port = mm[1]
			out = append(out, *pending)
			pending = nil
		}
	}
	return out
}

// sshInventory points every app host of the harness's YAML inventory at
// its own sshd (own HOME, so each looks like a separate machine to the
// remote cache); lb1 and localhost stay local.
func sshInventory(inventory string, servers map[string]*sshd.Server) (string, error) {
	var inv map[string]any
	if err := yaml.Unmarshal([]byte(inventory), &inv); err != nil {
		return "", err
	}
	hosts, ok := dig(inv, "all", "children", "app", "hosts").(map[string]any)
	if !ok {
		return "", fmt.Errorf("inventory has no all.children.app.hosts:\n%s", inventory)
	}
	for name, srv := range servers {
		hv, _ := hosts[name].(map[string]any)
		if hv == nil {
			hv = map[string]any{}
		}
		for k, v := range srv.Vars() {
			hv[k] = v
		}
		hosts[name] = hv
	}
	b, err := yaml.Marshal(inv)
	return string(b), err
}

func dig(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

// observer watches the load balancer during a rollout: when each host left
// rotation, when its last in-flight request ended, when it came back.
type observer struct {
	s    *rollout.Scenario
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	out  map[string]time.Time
	idle map[string]time.Time
	back map[string]time.Time
}

func observe(t *testing.T, s *rollout.Scenario) *observer {
	o := &observer{s: s, done: make(chan struct{}), out: map[string]time.Time{}, idle: map[string]time.Time{}, back: map[string]time.Time{}}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-o.done:
				return
			case <-tick.C:
			}
			o.poll()
		}
	}()
	return o
}

func (o *observer) stop() { close(o.done); o.wg.Wait() }

func (o *observer) poll() {
	st, err := o.s.LBStates()
	if err != nil {
		return
	}
	inflight := map[string]int{}
	if o.s.HAProxy != nil {
		var ok bool
		if inflight, ok = o.inFlight(); !ok {
			return
		}
	} else {
		for name, ts := range st {
			inflight[name] = ts.InFlight
		}
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for name, ts := range st {
		_, wentOut := o.out[name]
		switch {
		case !wentOut && !ts.InRotation:
			o.out[name] = now
			if inflight[name] == 0 {
				o.idle[name] = now
			}
		case wentOut && !ts.InRotation && o.idle[name].IsZero() && inflight[name] == 0:
			o.idle[name] = now
		case wentOut && ts.InRotation && o.back[name].IsZero():
			o.back[name] = now
		}
	}
}

// inFlight is each host's current sessions on HAProxy (scur), summed over
// the nodes; false when a node did not answer (no reading is better than
// one that misses that node's requests). lbsim reports its own in
// LBStates.
func (o *observer) inFlight() (map[string]int, bool) {
	out := map[string]int{}
	for _, h := range o.s.HAProxies {
		if !addSessions(out, h) {
			return nil, false
		}
	}
	return out, true
}

// addSessions adds each server's scur on one HAProxy node to out.
func addSessions(out map[string]int, h *rollout.HAProxy) bool {
	text, err := h.Command("show stat")
	if err != nil {
		return false
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "# ")))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil || len(recs) == 0 {
		return false
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	for _, rec := range recs[1:] {
		if len(rec) <= col["scur"] || rec[col["pxname"]] != rollout.HAProxyBackend {
			continue
		}
		n, _ := strconv.Atoi(rec[col["scur"]])
		out[rec[col["svname"]]] += n
	}
	return true
}

var interRE, riseRE = regexp.MustCompile(`\binter (\d+)`), regexp.MustCompile(`\brise (\d+)`)

// floors is each host's floor: in-flight drain time observed, the boot
// delay, and the load balancer's detection: HAProxy's inter x rise from
// the harness's config, or lbsim's check interval x threshold (plus, on
// Hetzner, its remove and add actions' own time). The boot is
// the configured -start-delay in both profiles, not a task's time: where
// the start waits for it, the task also holds Ansible's own cost, and where
// it does not, the boot is spent in the verify.
func (o *observer) floors(t *testing.T, s *rollout.Scenario) []floor {
	detect := detection(t, s)
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []floor
	for _, h := range s.Hosts {
		f := floor{host: h.Name, restart: s.Opts.BootDelay, detect: detect}
		if !o.out[h.Name].IsZero() && !o.idle[h.Name].IsZero() {
			f.out, f.idle = o.out[h.Name], o.idle[h.Name]
		} else {
			t.Logf("observer missed %s leaving rotation; its in-flight floor counts 0", h.Name)
		}
		out = append(out, f)
	}
	return out
}

// detection is the load balancer's own time to notice a host is back.
func detection(t *testing.T, s *rollout.Scenario) time.Duration {
	if s.HAProxy == nil {
		return simDetection(s.Opts.LB)
	}
	cfg, err := os.ReadFile(s.HAProxy.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	inter, rise := interRE.FindSubmatch(cfg), riseRE.FindSubmatch(cfg)
	if inter == nil || rise == nil {
		t.Fatalf("no inter/rise in %s", s.HAProxy.ConfigPath)
	}
	ms, _ := strconv.Atoi(string(inter[1]))
	n, _ := strconv.Atoi(string(rise[1]))
	return time.Duration(ms*n) * time.Millisecond
}

// simDetection is lbsim's detection: check interval x threshold, plus the
// remove and add actions' own time on Hetzner.
func simDetection(lb string) time.Duration {
	d := rollout.SimCheckInterval * rollout.SimCheckThreshold
	if lb == "hetzner" {
		d += 2 * rollout.SimActionDelay
	}
	return d
}

// barePlaybook runs the user's deploy step alone (see bare.yml).
const barePlaybook = "bare.yml"

func isBare(pb string) bool { return filepath.Base(pb) == barePlaybook }

// name is how the tables call a playbook.
func name(pb string) string {
	if isBare(pb) {
		return barePlaybook + " (the deploy step alone)"
	}
	for _, k := range lbKinds {
		if filepath.Base(pb) == k.seed {
			return fmt.Sprintf("%s (%s)", k.seed, k.seedDesc)
		}
	}
	return "zerodowntime.rolling.deploy"
}

func printTables(rows []measured, startup time.Duration) {
	// One row per load balancer, profile, host count and connection: ours
	// beside seed.
	pairs := map[string]*pair{}
	var keys []string
	for i := range rows {
		r := &rows[i]
		k := fmt.Sprint(r.lb, r.profile.key, r.hosts, r.connLabel())
		if pairs[k] == nil {
			pairs[k] = &pair{}
			keys = append(keys, k)
		}
		switch {
		case r.playbook == rollout.DeployPlaybook:
			pairs[k].ours = r
		case isBare(r.playbook):
			pairs[k].bare = r
		default:
			pairs[k].seed = r
		}
	}
	for _, lb := range lbKinds {
		for _, p := range profiles {
			printRollouts(lb, p, keys, pairs, startup)
		}
	}
	printAdded(keys, pairs)
	printSteps(rows)
	if os.Getenv("ZDT_BENCH_TASKS") == "1" {
		for _, r := range rows {
			printTasks(r)
		}
	}
}

// printTasks lists a run's tasks by name, skipped ones apart, with their
// mean time per host and how often each ran (ZDT_BENCH_TASKS=1).
func printTasks(r measured) {
	tb := &benchkit.Table{
		Title: fmt.Sprintf("Tasks of %s, %s, profile %s, %d hosts, %s: mean ms per host", name(r.playbook), r.lb, r.profile.key, r.hosts, r.connLabel()),
		Head:  []string{"task", "runs", "ms per host"},
	}
	var order []string
	total, runs := map[string]time.Duration{}, map[string]int{}
	var busy time.Duration
	for _, task := range r.tasks {
		n := task.Name
		skipped := len(task.Hosts) > 0
		for _, h := range task.Hosts {
			if s, _ := h["skipped"].(bool); !s {
				skipped = false
			}
		}
		if skipped {
			n += " (skipped)"
		}
		if _, ok := total[n]; !ok {
			order = append(order, n)
		}
		total[n] += task.Duration()
		runs[n]++
		busy += task.Duration()
	}
	hosts := time.Duration(r.hosts)
	for _, n := range order {
		tb.Add(n, strconv.Itoa(runs[n]), strconv.FormatInt((total[n]/hosts).Milliseconds(), 10))
	}
	tb.Add("between tasks", "", strconv.FormatInt(((r.elapsed-busy)/hosts).Milliseconds(), 10))
	tb.Print()
}

// pair is one row of the rollout tables: ours beside the seed, and the
// deploy step alone (bare.yml) of the same setting.
type pair struct{ ours, seed, bare *measured }

// alonePerHost is, for a run of bare.yml, what the deploy step cost per host
// beyond the boot its start waits for (profile a): Ansible's start-up, the
// connection, the user's tasks and the time between them. Any rolling
// deploy that runs those tasks pays it on top of the floor.
func (m measured) alonePerHost() time.Duration {
	return max(m.elapsed-m.bootHeld(), 0) / time.Duration(m.hosts)
}

// printAdded shows ours over the floor beside the deploy step alone: their
// difference is what the collection adds per host beyond Ansible's own cost
// of running the user's deploy step.
func printAdded(keys []string, pairs map[string]*pair) {
	tb := &benchkit.Table{
		Title: "What the collection adds per host: ours over the floor vs the deploy step alone (bare.yml)",
		Head:  []string{"lb", "profile", "hosts", "conn", "ours over floor /host", "deploy step alone /host", "added by the collection /host", "bare failed requests"},
	}
	for _, k := range keys {
		pr := pairs[k]
		if pr.ours == nil || pr.bare == nil {
			continue
		}
		o, b := pr.ours, pr.bare
		tb.Add(o.lb, o.profile.key, strconv.Itoa(o.hosts), o.connLabel(), benchkit.Secs(o.overheadPerHost()), benchkit.Secs(b.alonePerHost()),
			benchkit.Secs(o.overheadPerHost()-b.alonePerHost()), strconv.FormatInt(b.rep.Failed, 10))
	}
	if len(tb.Rows) == 0 {
		return
	}
	tb.Notes = []string{
		"deploy step alone: bare.yml, the user's tasks file one host at a time with no load-balancer step and no verify, under the same clients without slow requests (nothing drains the host, so a slow request would hold the app's graceful stop); (elapsed - the boot where the start waits for it) / hosts: ansible-playbook's start-up, the connection, the user's tasks and the time between them, which any rolling deploy with these tasks pays",
		"bare failed requests: it is no rollout; the load balancer keeps sending each host requests while it restarts, and those fail unless it retries them on another host (HAProxy retries a refused connection 3 times a second apart, which covers profile b's 1 s boot but not profile a's 3 s)",
		"added by the collection = ours over floor - deploy step alone: the role's tasks (reach, drain, token, verify, register, bookkeeping) beyond the waits the floor counts",
		"3 hosts, local: the median run of each, as in the tables above",
	}
	tb.Print()
}

func printRollouts(lb lbKind, p profile, keys []string, pairs map[string]*pair, startup time.Duration) {
	tb := &benchkit.Table{
		Title: fmt.Sprintf("Rollout time, %s; profile (%s) %s; load: 20 clients, 2 of them sending 1-2 s requests", lb.title, p.key, p.desc),
		Head: []string{"hosts", "conn", "ours", "seed", "seed/ours", "floor (ours run)", "floor (seed run)",
			"ours over floor /host", "seed over floor /host", "less user's tasks: ours", "seed", "requests ours/seed", "failed ours/seed"},
	}
	cloud := lb.lb != "haproxy"
	if cloud {
		tb.Head = append(tb.Head, "API requests /host ours/seed")
	}
	var notes []string
	for _, k := range keys {
		pr := pairs[k]
		if pr.ours == nil || pr.seed == nil || pr.ours.profile.key != p.key || pr.ours.lb != lb.name {
			continue
		}
		o, sd := pr.ours, pr.seed
		row := []string{strconv.Itoa(o.hosts), o.connLabel(), timeCell(o), timeCell(sd), benchkit.Ratio(sd.elapsed, o.elapsed),
			benchkit.Secs(o.floorSum()), benchkit.Secs(sd.floorSum()),
			benchkit.Secs(o.overheadPerHost()), benchkit.Secs(sd.overheadPerHost()),
			benchkit.Secs(o.overheadPerHost() - o.userTasksPerHost()), benchkit.Secs(sd.overheadPerHost() - sd.userTasksPerHost()),
			fmt.Sprintf("%d/%d", o.rep.Requests, sd.rep.Requests), fmt.Sprintf("%d/%d", o.rep.Failed, sd.rep.Failed)}
		if cloud {
			row = append(row, fmt.Sprintf("%.1f/%.1f", float64(o.api)/float64(o.hosts), float64(sd.api)/float64(sd.hosts)))
		}
		tb.Add(row...)
		connNote := ""
		if o.conn == connPipelining {
			connNote = "ssh+pipelining: ANSIBLE_PIPELINING=True, so a Python module goes on the command's standard input instead of a temporary file (Ansible's own setting; the user's tasks and the seed's peer modules gain, ours run in one round trip either way)"
		}
		cacheNote := ""
		if o.conn != connLocal {
			cacheNote = "ssh rows: each app host's build cache starts empty, as at a collection version's first rollout, so ours sends it its build once; \"warm\": it holds the build, as at every later rollout of that version (ours hash-checks it and sends nothing; the seed, which has no cache, runs again beside it)"
		}
		for _, n := range []string{o.note, sd.note, connNote, cacheNote} {
			if n != "" && !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
		}
	}
	if len(tb.Rows) == 0 {
		return
	}
	start := "the start step (demoapp -daemon) returns once the app listens"
	if p.noWait {
		start = "the start step (demoapp -daemon -daemon-wait=false) returns once the process is started, like systemctl restart of a Type=simple unit; the verify waits for the boot"
	}
	tb.Notes = append(notes,
		"ours: "+name(rollout.DeployPlaybook)+"; seed: "+name(lb.seed),
		start,
		fmt.Sprintf("floor per host = in-flight requests' remaining time once out of rotation (observed, so it differs between runs) + boot delay (%s, configured) + detection (%s)", benchkit.Secs(p.boot), lb.detection),
		"over floor /host = (elapsed - floor) / hosts",
		"less user's tasks = over floor /host minus what the user's deploy tasks (stop, start; the same tasks file in both playbooks) took per host beyond the floor's parts they hold (the boot where the start waits for it; the in-flight requests where the app's graceful stop holds them, as behind Hetzner): Ansible running the user's restart, which no tooling removes",
		fmt.Sprintf("3 hosts, local: %d runs each, ours and seed in turn; the median run is shown (range in brackets), its floor and overheads", repeats(3)),
		fmt.Sprintf("ansible-playbook start-up and exit alone (one no-op task, median of 3): %s, included in elapsed and in over floor", benchkit.Secs(startup)))
	tb.Print()
}

func printSteps(rows []measured) {
	steps := &benchkit.Table{
		Title: "Per host, mean seconds: the playbook's steps (json callback) and the floor's parts",
		Head:  []string{"lb", "profile", "hosts", "playbook", "conn", "drain", "deploy", "verify", "register", "| in-flight", "boot", "detect"},
	}
	for _, r := range rows {
		if isBare(r.playbook) {
			continue // no drain, verify, register or floor
		}
		var d, dep, v, reg float64
		for _, h := range r.rep.Hosts {
			d, dep, v, reg = d+h.Drain, dep+h.Deploy, v+h.Verify, reg+h.Register
		}
		k := float64(len(r.rep.Hosts))
		var fi, fb, fd time.Duration
		for _, f := range r.floors {
			fi, fb, fd = fi+f.inFlight(), fb+f.restart, fd+f.detect
		}
		n := time.Duration(len(r.floors))
		steps.Add(r.lb, r.profile.key, strconv.Itoa(r.hosts), name(r.playbook), r.connLabel(), fmt.Sprintf("%.2f", d/k), fmt.Sprintf("%.2f", dep/k),
			fmt.Sprintf("%.2f", v/k), fmt.Sprintf("%.2f", reg/k),
			fmt.Sprintf("| %.2f", (fi/n).Seconds()), fmt.Sprintf("%.2f", (fb/n).Seconds()), fmt.Sprintf("%.2f", (fd/n).Seconds()))
	}
	steps.Notes = []string{
		"deploy = end of drain to start of verify (token file, stop, start); in profile a the start holds the boot delay, in profile b the verify does",
		"verify = the role's deploy_verify task (token, then health) / seed's uri loop",
	}
	steps.Print()

	bd := &benchkit.Table{
		Title: "Where the time goes, per host (mean seconds): task time by kind (json callback) and time between tasks",
		Head:  []string{"lb", "profile", "hosts", "playbook", "conn", "modules", "user's deploy tasks", "role bookkeeping", "between tasks", "total", "| floor"},
	}
	for _, r := range rows {
		var mod, user, book, busy time.Duration
		for _, task := range r.tasks {
			d := task.Duration()
			busy += d
			switch kind(task.Name) {
			case "module":
				mod += d
			case "user":
				user += d
			default:
				book += d
			}
		}
		n := time.Duration(r.hosts)
		bd.Add(r.lb, r.profile.key, strconv.Itoa(r.hosts), name(r.playbook), r.connLabel(), secs(mod/n), secs(user/n), secs(book/n), secs((r.elapsed-busy)/n),
			secs(r.elapsed/n), "| "+secs(r.floorSum()/n))
	}
	bd.Notes = []string{
		"modules: Drain, Deploy token, Verify, Register (they hold the in-flight wait and the detection of the floor, and in profile b the boot); the seed's peer modules and uri loops",
		"user's deploy tasks: the tasks file both playbooks run (stop, start: in profile a the start holds the boot delay; behind Hetzner the stop holds the in-flight requests)",
		"role bookkeeping: set_fact, include_tasks, assert, the raw command that reaches the host before its drain; between tasks: ansible-playbook start-up, per-batch play set-up, forks, callbacks",
	}
	bd.Print()

	bt := &benchkit.Table{
		Title: "Bytes sent to each app host over SSH in one rollout (counting proxy in front of each host's sshd, SSH compression on as Ansible's default -C)",
		Head:  []string{"profile", "playbook", "remote cache", "host", "bytes sent", "build transfers", "other files put"},
	}
	for _, r := range rows {
		if r.conn != connSSH || (r.warm && r.playbook != rollout.DeployPlaybook) {
			continue // the seed has no cache: its warm run sends what its cold one did
		}
		cache := "cold"
		switch {
		case r.playbook != rollout.DeployPlaybook:
			cache = "none"
		case r.warm:
			cache = "warm"
		}
		var names []string
		for h := range r.sent {
			names = append(names, h)
		}
		sort.Strings(names)
		for _, h := range names {
			bt.Add(r.profile.key, name(r.playbook), cache, h, benchkit.Bytes(r.sent[h]), strconv.Itoa(r.buildPuts[h]), strconv.Itoa(r.otherPuts[h]))
		}
	}
	if len(bt.Rows) > 0 {
		bt.Notes = []string{"build transfers: -vvv EXEC lines of the command that writes a build into the remote cache (on its standard input); other files: PUT lines, by the port of the sftp command that follows (AnsiballZ modules and copied files)",
			"lb1 (HAProxy's host, haproxy_maint via delegate_to) is the controller itself here: local connection, not counted"}
		bt.Print()
	}
}

// kind sorts a task of either playbook by what it does.
func kind(full string) string {
	n := strings.ToLower(full)
	if i := strings.LastIndex(n, " : "); i >= 0 {
		n = n[i+3:]
	}
	switch n {
	case "drain", "deploy token", "verify", "register":
		return "module"
	case "stop the running version", "start the new version":
		return "user"
	}
	return "bookkeeping"
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func TestNetCounterWraps(t *testing.T) {
	var c netCounter
	for want := firstNet; want <= lastNet; want++ {
		if got := c.take(); got != want {
			t.Fatalf("take() = %d, want %d", got, want)
		}
	}
	if got := c.take(); got != firstNet {
		t.Errorf("take() after lastNet = %d, want %d (wrap)", got, firstNet)
	}
	if firstNet < 1 || lastNet > 254 {
		t.Errorf("networks %d-%d leave 127.0.1-254", firstNet, lastNet)
	}
	// The tests may run beside a benchmark: no network they take may be
	// one of the benchmark's.
	used := testNets(t, filepath.Join("..", "..", ".."))
	if len(used) < 10 {
		t.Fatalf("found only %d networks in the repository's tests (%v); the search is broken", len(used), used)
	}
	for n, where := range used {
		if n >= firstNet && n <= lastNet {
			t.Errorf("127.0.%d, taken at %s, is in the benchmark's range %d-%d", n, where, firstNet, lastNet)
		}
	}
}

// testNets finds the 127.0.N networks the Go code under root names: Net:
// fields set to a number, and 127.0.N.x addresses in string literals. This
// package is left out: it takes its networks from netCounter.
func testNets(t *testing.T, root string) map[int]string {
	t.Helper()
	addr := regexp.MustCompile(`\b127\.0\.(\d+)\.\d+`)
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	used := map[int]string{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			abs, _ := filepath.Abs(path)
			if abs == here || strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.KeyValueExpr:
				if k, ok := x.Key.(*ast.Ident); ok && k.Name == "Net" {
					if v, ok := x.Value.(*ast.BasicLit); ok && v.Kind == token.INT {
						if n, err := strconv.Atoi(v.Value); err == nil {
							used[n] = fset.Position(v.Pos()).String()
						}
					}
				}
			case *ast.BasicLit:
				if x.Kind == token.STRING {
					for _, m := range addr.FindAllStringSubmatch(x.Value, -1) {
						n, _ := strconv.Atoi(m[1])
						used[n] = fset.Position(x.Pos()).String()
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

func TestUserTasksPerHost(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	task := func(name string, d time.Duration) benchkit.Task {
		return benchkit.Task{Name: name, Start: at, End: at.Add(d)}
	}
	tasks := []benchkit.Task{
		task("zerodowntime.rolling.deploy : Drain", 900*time.Millisecond),
		task("zerodowntime.rolling.deploy : Deploy token", 50*time.Millisecond),
		task("zerodowntime.rolling.deploy : stop the running version", 200*time.Millisecond),
		task("zerodowntime.rolling.deploy : start the new version", 3300*time.Millisecond),
		task("stop the running version", 250*time.Millisecond),
		task("start the new version", 3250*time.Millisecond),
	}
	for _, c := range []struct {
		p    profile
		want time.Duration
	}{
		// The start waits for the 3 s boot, which the floor counts.
		{profile{boot: 3 * time.Second}, 500 * time.Millisecond},
		// The start returns at once: all of the tasks' time is theirs.
		{profile{boot: 3 * time.Second, noWait: true}, 3500 * time.Millisecond},
		// Never below zero, even if a start returned before the boot.
		{profile{boot: 10 * time.Second}, 0},
	} {
		m := measured{hosts: 2, profile: c.p, tasks: tasks}
		if got := m.userTasksPerHost(); got != c.want {
			t.Errorf("profile %+v: userTasksPerHost = %s, want %s", c.p, got, c.want)
		}
	}
	if k := kind("zerodowntime.rolling.deploy : Deploy token"); k != "module" {
		t.Errorf("the role's Deploy token is %q, want module (ours, not the user's)", k)
	}
}

// Behind Hetzner the app's graceful stop holds the host's last requests,
// which the floor already counts: that part of the stop is not the user's.
func TestUserTasksLessInFlight(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return at.Add(time.Duration(n) * time.Millisecond) }
	on := func(host, name string, from, to int) benchkit.Task {
		return benchkit.Task{Name: name, Start: ms(from), End: ms(to), Hosts: map[string]map[string]any{host: {}}}
	}
	tasks := []benchkit.Task{
		on("app-1", "zerodowntime.rolling.deploy : Drain", 0, 300),
		on("app-1", "stop the running version", 300, 900),   // requests end at 700
		on("app-1", "start the new version", 900, 1000),     // after them
		on("app-2", "stop the running version", 2000, 2600), // app-1's window is not app-2's
		on("app-2", "start the new version", 2600, 2700),
		on("app-3", "stop the running version", 3000, 3600), // window missed: nothing taken off
		on("app-3", "start the new version", 3600, 3700),
	}
	floors := []floor{
		{host: "app-1", out: ms(100), idle: ms(700)},
		{host: "app-2", out: ms(1900), idle: ms(1950)},
		{host: "app-3"},
	}
	m := measured{hosts: 3, profile: profile{boot: time.Second, noWait: true}, tasks: tasks, floors: floors}
	// 2100 ms of user's tasks, less app-1's 400 ms of stop while its requests ran.
	if got, want := m.userTasksPerHost(), 1700*time.Millisecond/3; got != want {
		t.Errorf("userTasksPerHost = %s, want %s", got, want)
	}
	for _, c := range []struct {
		a0, a1, b0, b1 int
		want           time.Duration
	}{
		{0, 10, 5, 20, 5 * time.Millisecond},
		{5, 20, 0, 10, 5 * time.Millisecond},
		{0, 10, 2, 4, 2 * time.Millisecond},
		{0, 10, 10, 20, 0},
		{0, 10, 20, 30, 0},
	} {
		if got := overlap(ms(c.a0), ms(c.a1), ms(c.b0), ms(c.b1)); got != c.want {
			t.Errorf("overlap [%d,%d] [%d,%d] = %s, want %s", c.a0, c.a1, c.b0, c.b1, got, c.want)
		}
	}
	if got := overlap(ms(0), ms(10), time.Time{}, ms(5)); got != 0 {
		t.Errorf("overlap with an unset bound = %s, want 0", got)
	}
}

func TestAlonePerHost(t *testing.T) {
	for _, c := range []struct {
		name    string
		p       profile
		elapsed time.Duration
		want    time.Duration
	}{
		{"the start waits for the boot, which is not Ansible's", profile{boot: 3 * time.Second}, 11 * time.Second, 2 * time.Second / 3},
		{"the start returns at once: all of it is Ansible's", profile{boot: time.Second, noWait: true}, 2 * time.Second, 2 * time.Second / 3},
		{"never below zero", profile{boot: 3 * time.Second}, 8 * time.Second, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := measured{hosts: 3, profile: c.p, elapsed: c.elapsed}
			if got := m.alonePerHost(); got != c.want {
				t.Errorf("alonePerHost = %s, want %s", got, c.want)
			}
		})
	}
	if !isBare("/x/bare.yml") || isBare(rollout.DeployPlaybook) || isBare("/x/seed.yml") {
		t.Error("isBare tells bare.yml from the other playbooks wrongly")
	}
	if _, err := os.Stat(barePlaybook); err != nil {
		t.Errorf("the deploy step alone: %v", err)
	}
}

func TestCopyBuilds(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "cache")
	build := strings.Repeat("ab", 32)
	for name, body := range map[string]string{build: "build", "." + build[:16] + ".123": "cut transfer", "notes": "other"} {
		if err := os.WriteFile(filepath.Join(from, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyBuilds(from, to); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(to)
	if err != nil || len(entries) != 1 || entries[0].Name() != build {
		t.Fatalf("copied %v (%v), want the build alone", entries, err)
	}
	if fi, err := os.Stat(filepath.Join(to, build)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("copied build: %v, %v; want mode 0700", fi, err)
	}
	if fi, err := os.Stat(to); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v, %v; want mode 0700", fi, err)
	}
	if err := copyBuilds(to+"-empty", t.TempDir()); err == nil {
		t.Error("copying from a missing cache: no error")
	}
	if err := copyBuilds(t.TempDir(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "no build") {
		t.Errorf("copying from a cache without builds: %v, want an error saying so", err)
	}
}
