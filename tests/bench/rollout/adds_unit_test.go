package rollout

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/bench/benchkit"
)

func TestSelectedSettings(t *testing.T) {
	for env, want := range map[string][]string{
		"":               {settingQuiet, settingLoaded},
		"loaded":         {settingLoaded},
		" quiet ,quiet ": {settingQuiet},
		"loaded,quiet":   {settingLoaded, settingQuiet},
	} {
		got, err := selectedSettings(env)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("selectedSettings(%q) = %v, %v; want %v", env, got, err, want)
		}
	}
	if _, err := selectedSettings("quiet,busy"); err == nil {
		t.Error(`selectedSettings("quiet,busy"): no error`)
	}
}

func TestAdaptVars(t *testing.T) {
	now := map[string]bool{"deploy_lb": true, "deploy_run_name": true, "deploy_watch_seconds": true}
	then := map[string]bool{"deploy_lb": true, "deploy_removed_since": true}
	vars := map[string]any{"deploy_lb": "haproxy", "deploy_run_name": "r", "deploy_watch_seconds": 0, "deploy_hosts": "app", "new_version": "v2"}
	got, dropped := adaptVars(vars, now, then)
	if !slices.Equal(dropped, []string{"deploy_run_name", "deploy_watch_seconds"}) {
		t.Errorf("dropped %v", dropped)
	}
	for _, k := range []string{"deploy_lb", "deploy_hosts", "new_version"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s left out; only options added since go", k)
		}
	}
	if len(got) != 3 {
		t.Errorf("adapted vars %v, want 3", got)
	}
	if _, ok := vars["deploy_run_name"]; !ok {
		t.Error("adaptVars changed its input")
	}
}

func TestSpecOptions(t *testing.T) {
	opts, err := specOptions(filepath.Join("..", "..", "..", specPath))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"deploy_lb", "deploy_tasks_file", "deploy_verify_url"} {
		if !opts[k] {
			t.Errorf("the role's argument spec has no %s (read %d options)", k, len(opts))
		}
	}
	if _, err := specOptions(filepath.Join(t.TempDir(), "none.yml")); err == nil {
		t.Error("a missing spec: no error")
	}
}

func TestTaskCountsAndAdded(t *testing.T) {
	ok := map[string]any{}
	run := func(extra int) measured {
		tasks := []benchkit.Task{
			{Name: "zerodowntime.rolling.deploy : Take the host out", Hosts: map[string]map[string]any{"app-1": ok, "app-2": ok}},
			{Name: "zerodowntime.rolling.deploy : start the new version", Hosts: map[string]map[string]any{"app-1": ok, "app-2": ok}},
		}
		for range extra {
			tasks = append(tasks, benchkit.Task{Name: "zerodowntime.rolling.deploy : Canary pause", Hosts: map[string]map[string]any{"app-2": {"skipped": true}}})
		}
		return measured{tasks: tasks, hostNames: []string{"app-1", "app-2"}}
	}
	if lo, hi := taskCounts([]measured{run(0), run(2)}); lo != 1 || hi != 3 {
		t.Errorf("taskCounts = %d-%d, want 1-3 (the user's start not counted, skipped ones counted)", lo, hi)
	}
	ctl := run(0)
	ctl.tasks = append(ctl.tasks, benchkit.Task{Name: "Name the run", Hosts: map[string]map[string]any{"localhost": ok}},
		benchkit.Task{Name: "Rollout failed", Hosts: map[string]map[string]any{"localhost": {"skipped": true}}})
	if lo, hi := runLevelTasks([]measured{run(0), ctl}); lo != 0 || hi != 2 {
		t.Errorf("runLevelTasks = %d-%d, want 0-2 (the controller's two, skipped included; the user's start is an app host's)", lo, hi)
	}
	if c := countCell(4, 4); c != "4" {
		t.Errorf("countCell(4, 4) = %q", c)
	}
	if c := countCell(3, 5); c != "3-5" {
		t.Errorf("countCell(3, 5) = %q", c)
	}
	p := profile{boot: time.Second, noWait: true}
	ours := measured{hosts: 3, profile: p, elapsed: 15 * time.Second, floors: []floor{{restart: 3 * time.Second}, {restart: 3 * time.Second}, {restart: 3 * time.Second}}}
	bare := measured{hosts: 3, profile: p, elapsed: 3 * time.Second}
	// (15 - 9) / 3 = 2 s over the floor, less 1 s of the deploy step alone.
	if got := addedPerHost(ours, bare); got != time.Second {
		t.Errorf("addedPerHost = %s, want 1s", got)
	}
	if r := ratioOf(time.Second, 2*time.Second); r != "0.50x" {
		t.Errorf("ratioOf = %q", r)
	}
	if r := ratioOf(time.Second, 0); r != "-" {
		t.Errorf("ratioOf over 0 = %q, want -", r)
	}
}

func TestPairedAdded(t *testing.T) {
	p := profile{boot: time.Second, noWait: true}
	run := func(elapsed time.Duration) measured {
		return measured{hosts: 1, profile: p, elapsed: elapsed}
	}
	// Round 2 ran on a slower machine: every playbook took 3 s longer.
	// Paired, ours adds 1 s less than the base in every round.
	ours := []measured{run(3 * time.Second), run(6 * time.Second), run(4 * time.Second)}
	base := []measured{run(4 * time.Second), run(7 * time.Second), run(5 * time.Second)}
	bare := []measured{run(time.Second), run(4 * time.Second), run(2 * time.Second)}
	ao, ab, d, lo, hi, ok := pairedAdded(ours, base, bare)
	if !ok || ao != 2*time.Second || ab != 3*time.Second || d != -time.Second || lo != -time.Second || hi != -time.Second {
		t.Errorf("pairedAdded = %s, %s, %s (%s to %s), %v; want 2s, 3s, -1s (-1s to -1s), true", ao, ab, d, lo, hi, ok)
	}
	if _, _, _, _, _, ok := pairedAdded(ours, nil, bare); ok {
		t.Error("pairedAdded without the base's runs: ok")
	}
}
