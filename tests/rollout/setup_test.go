package rollout

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSetupAndClose brings up each world without Ansible: every host in
// rotation serving v1, traffic without failures, and nothing left running
// after Close.
func TestSetupAndClose(t *testing.T) {
	for i, lb := range []string{"haproxy", "hetzner", "aws"} {
		t.Run(lb, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := Setup(ctx, Options{LB: lb, Net: 201 + i})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.SampleVersions(ctx); len(got) != 3 || got["app-1"] != "v1" || got["app-3"] != "v1" {
				t.Errorf("versions through the LB = %v, want v1 from app-1..3", got)
			}
			load := StartLoad(ctx, LoadOptions{URL: s.URL, Clients: 6, HostNames: s.hostNames(),
				SlowMin: 100 * time.Millisecond, SlowMax: 200 * time.Millisecond, SlowEvery: 3})
			waitFor(t, load, "50 requests from every host", func(st LoadStats) bool {
				return st.Requests >= 50 && len(st.ByHost) == 3
			})
			st := load.Stop()
			if st.Requests < 50 || st.Failed != 0 {
				t.Errorf("load: %d requests, %d failed %q; want many, none failed", st.Requests, st.Failed, st.Errors)
			}
			if len(st.ByHost) != 3 {
				t.Errorf("served by %v, want all three hosts", st.ByHost)
			}
			if lb == "haproxy" {
				if _, err := s.HAProxy.Command("set server app/app-2 state drain"); err != nil {
					t.Fatal(err)
				}
				if st, _ := s.LBStates(); st["app-2"].State != "drain" || st["app-2"].InRotation || !st["app-1"].InRotation {
					t.Errorf("after drain: %v", st)
				}
			}
			var pids []int
			for _, h := range s.Hosts {
				b, err := os.ReadFile(h.PIDFile())
				if err != nil {
					t.Fatal(err)
				}
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				pids = append(pids, pid)
			}
			dir := s.Dir()
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			for _, pid := range pids {
				if alive(pid) {
					t.Errorf("demoapp pid %d still running after Close", pid)
				}
			}
			if s.HAProxy != nil && alive(s.HAProxy.Pid()) {
				t.Errorf("haproxy still running after Close")
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("working dir %s still there after Close (%v)", dir, err)
			}
		})
	}
}

// TestSetupStopsLeftovers: an app that an interrupted earlier run left on
// a host's address (its harness never cleaned up) is stopped, so Setup can
// start the new one instead of failing with "address already in use".
func TestSetupStopsLeftovers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	old, err := os.MkdirTemp("", "zdt-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(old)
	const addr = "127.0.209.11:8081"
	bin, pid := startLeftover(ctx, t, old, addr)

	s, err := Setup(ctx, Options{LB: "haproxy", Net: 209, Hosts: 1, Demoapp: bin})
	if err != nil {
		t.Fatalf("Setup with a leftover app on %s: %v", addr, err)
	}
	defer s.Close()
	if alive(pid) {
		t.Errorf("the leftover app (pid %d) still runs", pid)
	}
	if got := s.SampleVersions(ctx); got["app-1"] != "v1" {
		t.Errorf("versions through the LB = %v, want v1 from app-1", got)
	}
}

func TestIsLeftover(t *testing.T) {
	tmp := filepath.Clean(os.TempDir())
	own := filepath.Join(tmp, "zdt-own")
	other := filepath.Join(tmp, "zdt-other", "demoapp")
	for _, tc := range []struct {
		name string
		args []string
		want bool
	}{
		{"another run's app on the address", []string{other, "-listen=127.0.9.11:8081", "-version=v1"}, true},
		{"this run's own app", []string{filepath.Join(own, "demoapp"), "-listen=127.0.9.11:8081"}, false},
		{"another address", []string{other, "-listen=127.0.9.12:8081"}, false},
		{"the -daemon starter, not the app", []string{other, "-daemon", "-listen", "127.0.9.11:8081"}, false},
		{"a demoapp outside the harness's directories", []string{"/usr/local/bin/demoapp", "-listen=127.0.9.11:8081"}, false},
		{"another program", []string{filepath.Join(tmp, "zdt-other", "haproxy"), "-listen=127.0.9.11:8081"}, false},
		{"no arguments", []string{other}, false},
	} {
		if got := isLeftover(tc.args, "127.0.9.11:8081", own); got != tc.want {
			t.Errorf("%s: isLeftover(%q) = %v, want %v", tc.name, tc.args, got, tc.want)
		}
	}
}

// TestRemoveStale: the working directory of a run killed more than a day
// ago is removed and the app still running from it stopped; a recent one,
// and zdt-* entries without the harness's layout, are left alone.
func TestRemoveStale(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tmp := t.TempDir()
	mkdir := func(name string, marks ...string) string {
		d := filepath.Join(tmp, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, m := range marks {
			if err := os.Mkdir(filepath.Join(d, m), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	killed := mkdir("zdt-killed")
	_, pid := startLeftover(ctx, t, killed, "127.0.210.11:8081")
	scenario := mkdir("zdt-scenario", "app-1") // apps ran from a build elsewhere
	recent := mkdir("zdt-recent", "app-1")
	collections := mkdir("zdt-collections-0123", "ansible_collections")
	other := mkdir("zdt-other")
	file := filepath.Join(tmp, "zdt-collections-0123.lock")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := now.Add(-staleAge - time.Minute)
	for _, p := range []string{killed, scenario, collections, other, file} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}

	removed := removeStale(tmp, now)
	slices.Sort(removed)
	if want := []string{killed, scenario}; !slices.Equal(removed, want) {
		t.Errorf("removeStale removed %q, want %q", removed, want)
	}
	for _, p := range []string{killed, scenario} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	for _, p := range []string{recent, collections, other, file} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if alive(pid) {
		t.Errorf("the app of the killed run (pid %d) still runs", pid)
	}
}

// startLeftover builds a demoapp into dir and starts it there as host app-1
// on addr, as a run that was killed would have left it; it returns the
// build and the app's pid, and kills the app when the test ends if the
// code under test did not (by pid: the pid file may be gone with dir).
func startLeftover(ctx context.Context, t *testing.T, dir, addr string) (bin string, pid int) {
	t.Helper()
	bin, err := BuildDemoapp(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	left := Host{Name: "app-1", Addr: addr, Dir: filepath.Join(dir, "app-1")}
	if err := startApp(ctx, bin, left, "v0", nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(left.PIDFile())
	if err != nil {
		stopApp(bin, left)
		t.Fatal(err)
	}
	pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return bin, pid
}
