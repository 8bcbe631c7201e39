package rollout

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/benchkit"
	"github.com/zerodowntime/rolling/tests/rollout"
	"gopkg.in/yaml.v3"
)

// defaultBase is the commit whose role TestBenchAdds measures beside
// today's: the deploy role before its tasks were cut (issue 34).
const defaultBase = "82aff1b"

// The settings TestBenchAdds runs each variant in.
const (
	settingQuiet  = "quiet"
	settingLoaded = "loaded"
)

// selectedSettings are quiet and loaded, or the ones ZDT_BENCH_SETTINGS
// lists (comma-separated).
func selectedSettings(env string) ([]string, error) {
	all := []string{settingQuiet, settingLoaded}
	if strings.TrimSpace(env) == "" {
		return all, nil
	}
	var out []string
	for _, s := range strings.Split(env, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(all, s) {
			return nil, fmt.Errorf("ZDT_BENCH_SETTINGS: %q is no setting; use a comma-separated list of %s", s, strings.Join(all, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// addsVariant is one playbook TestBenchAdds runs: ours, the base commit's
// role, the seed-style playbook, the deploy step alone.
type addsVariant struct {
	key, label string
	coll       *ansibletest.Collection
	playbook   string
	adapt      func(map[string]any) map[string]any
}

// Variant keys.
const (
	vOurs = "ours"
	vBase = "base"
	vSeed = "seed"
	vBare = "bare"
)

// addsSetting is what one setting's runs gave, per variant (every run, in
// order), with ansible-playbook's start-up in that setting.
type addsSetting struct {
	name    string
	runs    map[string][]measured
	startup time.Duration
	hog     int // busy-looping processes beside the runs
}

// TestBenchAdds is issue 34's benchmark: behind HAProxy, 3 hosts, local
// connection, profile b, in one run and in turn: ours, the role of an
// earlier commit (ZDT_BENCH_BASE, default 82aff1b, built from git), the
// seed-style playbook and the deploy step alone, each on a quiet
// controller and beside a CPU hog (one busy process per CPU). It prints the
// tasks per host on the happy path, the times beside the floor, and what
// the collection adds per host, ours against the earlier role.
func TestBenchAdds(t *testing.T) {
	benchkit.Gate(t)
	settings, err := selectedSettings(os.Getenv("ZDT_BENCH_SETTINGS"))
	if err != nil {
		t.Fatal(err)
	}
	coll := ansibletest.Install(t)
	bindir, err := os.MkdirTemp("", "zdt-bench-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bindir) })
	demoapp, err := rollout.BuildDemoapp(context.Background(), bindir)
	if err != nil {
		t.Fatal(err)
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	lb := lbKinds[slices.IndexFunc(lbKinds, func(k lbKind) bool { return k.name == "haproxy" })]
	p := profiles[slices.IndexFunc(profiles, func(p profile) bool { return p.key == "b" })]

	variants := []addsVariant{{key: vOurs, label: "zerodowntime.rolling.deploy (this checkout)", coll: coll, playbook: rollout.DeployPlaybook}}
	baseRev := os.Getenv("ZDT_BENCH_BASE")
	if baseRev == "" {
		baseRev = defaultBase
	}
	baseNote := ""
	if baseRev == "none" {
		baseNote = "the earlier role's column is left out (ZDT_BENCH_BASE=none)"
	} else if v, why := baseVariant(t, coll, baseRev); why != "" {
		baseNote = fmt.Sprintf("the role of %s is left out: %s", baseRev, why)
		t.Log(baseNote)
	} else {
		variants = append(variants, v)
	}
	variants = append(variants,
		addsVariant{key: vSeed, label: name(abs(lb.seed)), coll: coll, playbook: abs(lb.seed)},
		addsVariant{key: vBare, label: name(abs(barePlaybook)), coll: coll, playbook: abs(barePlaybook)})

	var nets netCounter
	var results []addsSetting
	for _, setting := range settings {
		res := addsSetting{name: setting, runs: map[string][]measured{}}
		var hog *benchkit.Hog
		if setting == settingLoaded {
			hog = benchkit.StartHog(t, 0)
			res.hog = hog.N()
		}
		res.startup = ansibleStartup(t, coll)
		for range repeats(3) {
			for _, v := range variants {
				m := runRolloutWith(t, v.coll, demoapp, v.playbook, lb, p, 3, connLocal, "", nets.take(), v.adapt)
				res.runs[v.key] = append(res.runs[v.key], m)
			}
		}
		if hog != nil {
			hog.Stop()
			if cpu, err := hog.CPUSeconds(); err == nil {
				t.Logf("CPU hog: %d processes used %.0f CPU-seconds", hog.N(), cpu)
			}
		}
		results = append(results, res)
	}
	printAdds(variants, results, lb, p, baseRev, baseNote)
	if os.Getenv("ZDT_BENCH_TASKS") == "1" {
		for _, r := range results {
			for _, v := range variants {
				if runs := r.runs[v.key]; len(runs) > 0 {
					m := median(runs)
					fmt.Printf("\n(%s; %s)", v.label, settingLabel(r))
					printTasks(m)
				}
			}
		}
	}
}

// settingLabel is the setting as the tables name it.
func settingLabel(r addsSetting) string {
	if r.hog > 0 {
		return fmt.Sprintf("%s (%d busy processes)", r.name, r.hog)
	}
	return r.name
}

// baseVariant builds (or takes from the cache) the collection of rev and
// returns it as a variant; why says why it cannot run.
func baseVariant(t *testing.T, coll *ansibletest.Collection, rev string) (addsVariant, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchkit.BaseBuildTimeout)
	defer cancel()
	start := time.Now()
	b, err := benchkit.BuildBase(ctx, ansibletest.RepoRoot(), rev)
	if err != nil {
		if ctx.Err() != nil {
			return addsVariant{}, fmt.Sprintf("building its collection took over %s: %v", benchkit.BaseBuildTimeout, err)
		}
		return addsVariant{}, "building its collection failed: " + err.Error()
	}
	t.Logf("collection of %s: %s (%s)", b.Commit[:7], b.Tarball, benchkit.Secs(time.Since(start)))
	root := filepath.Join(b.CollectionsPath, "ansible_collections", "zerodowntime", "rolling")
	now, err := specOptions(filepath.Join(coll.Root, specPath))
	if err != nil {
		return addsVariant{}, err.Error()
	}
	then, err := specOptions(filepath.Join(root, specPath))
	if err != nil {
		return addsVariant{}, err.Error()
	}
	logged := false
	return addsVariant{
		key:      vBase,
		label:    fmt.Sprintf("zerodowntime.rolling.deploy as of %s", b.Commit[:7]),
		coll:     &ansibletest.Collection{CollectionsPath: b.CollectionsPath, Root: root, Tarball: b.Tarball},
		playbook: rollout.DeployPlaybook,
		adapt: func(vars map[string]any) map[string]any {
			out, dropped := adaptVars(vars, now, then)
			if len(dropped) > 0 && !logged {
				t.Logf("role of %s: variables it does not know left out: %s", b.Commit[:7], strings.Join(dropped, ", "))
				logged = true
			}
			return out
		},
	}, ""
}

// specPath is the deploy role's argument spec, in a collection.
const specPath = "roles/deploy/meta/argument_specs.yml"

// specOptions are the option names of the deploy role's main entry point.
func specOptions(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Specs map[string]struct {
			Options map[string]any `yaml:"options"`
		} `yaml:"argument_specs"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	main, ok := doc.Specs["main"]
	if !ok || len(main.Options) == 0 {
		return nil, fmt.Errorf("%s: no options of argument_specs.main", path)
	}
	out := map[string]bool{}
	for k := range main.Options {
		out[k] = true
	}
	return out, nil
}

// adaptVars is vars for an earlier role: without the role options that
// today's role has and the earlier one lacks (the variables the harness
// sets for features added since). Variables neither role declares (the
// playbook's deploy_hosts, the deploy step's own) pass as they are.
func adaptVars(vars map[string]any, now, then map[string]bool) (map[string]any, []string) {
	out := map[string]any{}
	var dropped []string
	for k, v := range vars {
		if now[k] && !then[k] {
			dropped = append(dropped, k)
			continue
		}
		out[k] = v
	}
	slices.Sort(dropped)
	return out, dropped
}

// isUserTask is a task of the user's deploy step (the tasks file every
// variant runs), which no variant's count includes.
func isUserTask(name string) bool { return kind(name) == "user" }

// taskCounts is the range of role/playbook tasks per host over runs: the
// smallest and largest count any host had in any run.
func taskCounts(runs []measured) (lo, hi int) {
	all := map[string]int{}
	for i, m := range runs {
		for host, n := range benchkit.TasksPerHost(m.tasks, m.hostNames, isUserTask) {
			all[fmt.Sprint(i, "/", host)] = n
		}
	}
	return benchkit.CountRange(all)
}

// runLevelTasks is the range over runs of tasks that ran for none of the
// app hosts (a play of the controller's own, once per run), the user's
// aside.
func runLevelTasks(runs []measured) (lo, hi int) {
	for i, m := range runs {
		n := 0
		for _, task := range m.tasks {
			if !isUserTask(task.Name) && !slices.ContainsFunc(m.hostNames, func(h string) bool { _, ok := task.Hosts[h]; return ok }) {
				n++
			}
		}
		if i == 0 || n < lo {
			lo = n
		}
		if i == 0 || n > hi {
			hi = n
		}
	}
	return lo, hi
}

func countCell(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// failedCell lists each run's failed requests, "0, 0, 0".
func failedCell(runs []measured) string {
	var s []string
	for _, m := range runs {
		s = append(s, strconv.FormatInt(m.rep.Failed, 10))
	}
	return strings.Join(s, ", ")
}

// addedPerHost is what a rollout adds per host beyond the floor and beyond
// the deploy step alone: (median run's elapsed - its floor) / hosts - the
// deploy step alone per host (median run).
func addedPerHost(rollout, bare measured) time.Duration {
	return rollout.overheadPerHost() - bare.alonePerHost()
}

// pairedAdded compares two rollouts round by round: runs a, b and bare
// ran in turn, a[i], b[i] and bare[i] in the same round. It returns the
// median over rounds of each one's added time (over its floor less that
// round's deploy step alone) and the median and range of a's over the
// floor less b's in the same round, which the machine's drift between
// rounds moves less than a difference of medians. ok is false without
// complete rounds.
func pairedAdded(a, b, bare []measured) (addA, addB, diff, lo, hi time.Duration, ok bool) {
	n := min(len(a), len(b), len(bare))
	if n == 0 {
		return 0, 0, 0, 0, 0, false
	}
	var as, bs, ds []time.Duration
	for i := range n {
		as = append(as, addedPerHost(a[i], bare[i]))
		bs = append(bs, addedPerHost(b[i], bare[i]))
		ds = append(ds, a[i].overheadPerHost()-b[i].overheadPerHost())
	}
	return benchkit.Median(as), benchkit.Median(bs), benchkit.Median(ds), slices.Min(ds), slices.Max(ds), true
}

// ratioOf is a/b as "0.42x"; "-" when b is not above 0 (an added time at
// or below 0 is below what the method resolves).
func ratioOf(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

func printAdds(variants []addsVariant, results []addsSetting, lb lbKind, p profile, baseRev, baseNote string) {
	has := func(key string) bool {
		return slices.ContainsFunc(variants, func(v addsVariant) bool { return v.key == key })
	}

	tc := &benchkit.Table{
		Title: "Tasks per host on the happy path (json callback), " + lb.title + ", 3 hosts, local",
		Head:  []string{"playbook"},
	}
	for _, r := range results {
		tc.Head = append(tc.Head, r.name)
	}
	tc.Head = append(tc.Head, "once per run, not for an app host")
	for _, v := range variants {
		row := []string{v.label}
		var all []measured
		for _, r := range results {
			row = append(row, countCell(taskCounts(r.runs[v.key])))
			all = append(all, r.runs[v.key]...)
		}
		row = append(row, countCell(runLevelTasks(all)))
		tc.Add(row...)
	}
	tc.Notes = []string{
		"every task with a result for the app host, whatever its outcome (skipped ones, includes and the argument validation included; a looped task once), less the user's deploy-step tasks (stop, start), which every playbook runs",
		"a range: hosts or runs differ",
		"once per run: tasks with a result for no app host (a play on the controller, skipped ones included); their time is in elapsed, not in the count per host",
	}
	if baseNote != "" {
		tc.Notes = append(tc.Notes, baseNote)
	}
	tc.Print()

	for _, r := range results {
		tb := &benchkit.Table{
			Title: fmt.Sprintf("Rollout time, %s; profile (%s) %s; 3 hosts, local; %s controller", lb.title, p.key, p.desc, settingLabel(r)),
			Head:  []string{"playbook", "elapsed (range)", "floor", "over floor /host", "deploy step alone /host", "added /host", "time / seed's", "requests", "failed per run"},
		}
		var seed *measured
		if runs := r.runs[vSeed]; len(runs) > 0 {
			m := median(runs)
			seed = &m
		}
		var bare *measured
		if runs := r.runs[vBare]; len(runs) > 0 {
			m := median(runs)
			bare = &m
		}
		for _, v := range variants {
			runs := r.runs[v.key]
			if len(runs) == 0 {
				continue
			}
			m := median(runs)
			floorCell, over, alone, added := "-", "-", "-", "-"
			if v.key == vBare {
				alone = benchkit.Secs(m.alonePerHost())
			} else {
				floorCell, over = benchkit.Secs(m.floorSum()), benchkit.Secs(m.overheadPerHost())
				if bare != nil {
					added = benchkit.Secs(addedPerHost(m, *bare))
				}
			}
			vsSeed := "-"
			if seed != nil {
				vsSeed = ratioOf(m.elapsed, seed.elapsed)
			}
			tb.Add(v.label, timeCell(&m), floorCell, over, alone, added, vsSeed, strconv.FormatInt(m.rep.Requests, 10), failedCell(runs))
		}
		tb.Notes = []string{
			fmt.Sprintf("runs of each playbook, in turn: %d; the median run's figures (range of elapsed in brackets)", repeats(3)),
			"floor = the hosts' in-flight requests once out of rotation (observed) + boot + HAProxy's inter x rise; over floor /host = (elapsed - floor) / hosts",
			"deploy step alone /host = bare.yml's elapsed / hosts (profile b: the start does not wait for the boot); added /host = over floor /host - deploy step alone /host: what the rolling tooling adds beyond Ansible running the user's deploy step",
			fmt.Sprintf("ansible-playbook start-up and exit alone in this setting (one no-op task, median of 3): %s", benchkit.Secs(r.startup)),
		}
		if r.hog > 0 {
			tb.Notes = append(tb.Notes, fmt.Sprintf("loaded: %d processes busy-looping (/bin/sh while loop, normal priority) beside every run of this table, started before its first run and stopped after its last", r.hog))
		}
		tb.Print()
	}

	if !has(vBare) {
		return
	}
	ta := &benchkit.Table{
		Title: "What the collection adds per host, ours against the role as of " + baseRev + ", and ours against the seed (" + lb.name + ", profile " + p.key + ", 3 hosts, local)",
		Head: []string{"controller", "added /host: ours", "as of " + baseRev, "ours / " + baseRev, "by round: ours", baseRev, "ratio", "ours - " + baseRev + " /host (range)",
			"elapsed: ours / seed", "failed per run: ours", baseRev, "seed"},
	}
	for _, r := range results {
		bare := median(r.runs[vBare])
		ours := median(r.runs[vOurs])
		row := []string{settingLabel(r), benchkit.Secs(addedPerHost(ours, bare))}
		if runs := r.runs[vBase]; len(runs) > 0 {
			base := median(runs)
			row = append(row, benchkit.Secs(addedPerHost(base, bare)), ratioOf(addedPerHost(ours, bare), addedPerHost(base, bare)))
			if ao, ab, d, lo, hi, ok := pairedAdded(r.runs[vOurs], runs, r.runs[vBare]); ok {
				row = append(row, benchkit.Secs(ao), benchkit.Secs(ab), ratioOf(ao, ab), fmt.Sprintf("%s (%.2f to %.2f)", benchkit.Secs(d), lo.Seconds(), hi.Seconds()))
			} else {
				row = append(row, "-", "-", "-", "-")
			}
		} else {
			row = append(row, "-", "-", "-", "-", "-", "-", "-")
		}
		if runs := r.runs[vSeed]; len(runs) > 0 {
			row = append(row, ratioOf(ours.elapsed, median(runs).elapsed))
		} else {
			row = append(row, "-")
		}
		row = append(row, failedCell(r.runs[vOurs]))
		for _, k := range []string{vBase, vSeed} {
			if runs := r.runs[k]; len(runs) > 0 {
				row = append(row, failedCell(runs))
			} else {
				row = append(row, "-")
			}
		}
		ta.Add(row...)
	}
	ta.Notes = []string{
		"added /host as in the table above (the median runs); both roles, the seed and the deploy step alone ran in turn in the same setting of the same run",
		"by round: each round's added time (over its floor less the same round's deploy step alone), median over the rounds, and their ratio; ours - " + baseRev + ": ours over the floor less " + baseRev + "'s in the same round, median and range over the rounds (negative: ours adds less)",
		"issue 34's goals: at most five tasks per host; ours / " + baseRev + " at most 0.50x, quiet and loaded; elapsed ours / seed at most 0.40x, with 0 failed requests",
	}
	if baseNote != "" {
		ta.Notes = append(ta.Notes, baseNote)
	}
	ta.Print()
}
