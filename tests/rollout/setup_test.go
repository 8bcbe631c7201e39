package rollout

import (
	"context"
	"os"
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
			time.Sleep(700 * time.Millisecond)
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
			if s.HAProxy != nil && alive(s.HAProxy.cmd.Process.Pid) {
				t.Errorf("haproxy still running after Close")
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("working dir %s still there after Close (%v)", dir, err)
			}
		})
	}
}

// alive reports whether pid runs; a zombie (an orphaned app that the
// container's init has not reaped yet) does not.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || !strings.HasPrefix(string(stat[i+1:]), " Z")
}
