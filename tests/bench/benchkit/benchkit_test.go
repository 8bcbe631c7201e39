package benchkit

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTasksPerHost(t *testing.T) {
	ok := map[string]any{"changed": false}
	skipped := map[string]any{"skipped": true, "skip_reason": "Conditional result was False"}
	tasks := []Task{
		{Name: "zerodowntime.rolling.deploy : Validating arguments against arg spec 'main'", Hosts: map[string]map[string]any{"app-1": ok, "app-2": ok}},
		// A loop with items delegated to lb1: reported under the app host, once.
		{Name: "zerodowntime.rolling.deploy : Take the host out", Hosts: map[string]map[string]any{"app-1": {"results": []any{ok, ok, ok}}, "app-2": {"results": []any{ok}}}},
		{Name: "zerodowntime.rolling.deploy : Run the deploy step", Hosts: map[string]map[string]any{"app-1": {"include": "/x/deploy.yml"}, "app-2": {"include": "/x/deploy.yml"}}},
		{Name: "zerodowntime.rolling.deploy : stop the running version", Hosts: map[string]map[string]any{"app-1": ok, "app-2": ok}},
		{Name: "zerodowntime.rolling.deploy : Canary pause", Hosts: map[string]map[string]any{"app-1": skipped, "app-2": skipped}},
		// Ran for app-2 only (a failed when on app-1 is still a result; no
		// result at all is no task for app-1).
		{Name: "zerodowntime.rolling.deploy : Put the host back", Hosts: map[string]map[string]any{"app-2": ok}},
		// The controller's own task, not an app host's.
		{Name: "Summary", Hosts: map[string]map[string]any{"localhost": ok}},
	}
	user := func(n string) bool { return strings.HasSuffix(n, "stop the running version") }
	got := TasksPerHost(tasks, []string{"app-1", "app-2", "app-3"}, user)
	want := map[string]int{"app-1": 4, "app-2": 5, "app-3": 0}
	for h, n := range want {
		if got[h] != n {
			t.Errorf("%s: %d tasks, want %d (all: %v)", h, got[h], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("counts for %v, want the three app hosts only", got)
	}
	if lo, hi := CountRange(got); lo != 0 || hi != 5 {
		t.Errorf("CountRange = %d, %d; want 0, 5", lo, hi)
	}
	if lo, hi := CountRange(nil); lo != 0 || hi != 0 {
		t.Errorf("CountRange(nil) = %d, %d", lo, hi)
	}
	// Without the filter the user's task counts too.
	if all := TasksPerHost(tasks, []string{"app-1"}, nil); all["app-1"] != 5 {
		t.Errorf("unfiltered: %d tasks for app-1, want 5", all["app-1"])
	}
}

func TestBaseCacheDir(t *testing.T) {
	full := strings.Repeat("82aff1b", 6)[:40]
	dir, err := BaseCacheDir("/c", full)
	if err != nil || dir != filepath.Join("/c", "zerodowntime_rolling", "bench-82aff1b") {
		t.Errorf("BaseCacheDir = %q, %v", dir, err)
	}
	for _, bad := range []string{"82aff1b", "", strings.Repeat("g", 40), "../" + full[3:]} {
		if _, err := BaseCacheDir("/c", bad); err == nil {
			t.Errorf("BaseCacheDir(%q): no error", bad)
		}
	}
}

func TestWithoutEnv(t *testing.T) {
	got := withoutEnv([]string{"ZDT_COLLECTION=/x.tar.gz", "PATH=/bin", "ZDT_COLLECTION_X=1", "MAKEFLAGS=-j2"}, "ZDT_COLLECTION", "MAKEFLAGS")
	if want := []string{"PATH=/bin", "ZDT_COLLECTION_X=1"}; !slices.Equal(got, want) {
		t.Errorf("withoutEnv = %v, want %v", got, want)
	}
}

// The hog must keep CPUs busy, not merely run processes: a hog of sleeping
// processes would pass a test that only counted them.
func TestHogBusies(t *testing.T) {
	h := StartHog(t, 1)
	if h.N() != 1 {
		t.Fatalf("N = %d, want 1", h.N())
	}
	if _, err := h.CPUSeconds(); err == nil {
		t.Error("CPUSeconds while running: no error")
	}
	pid := h.cmds[0].Process.Pid
	time.Sleep(500 * time.Millisecond)
	h.Stop()
	h.Stop() // a second Stop (the cleanup's) is harmless
	cpu, err := h.CPUSeconds()
	if err != nil {
		t.Fatal(err)
	}
	// At least a fifth of a CPU over the half second, even on a loaded
	// machine; a sleeping process uses well under 0.01 s.
	if cpu < 0.1 {
		t.Errorf("the hog used %.3f CPU-seconds in 0.5 s; it does not spin", cpu)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		t.Errorf("hog process %d still exists after Stop", pid)
	}
}
