package benchkit

import (
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
)

// Hog is a set of busy-looping processes beside a benchmark: a controller
// with other work on it, as when several rollouts or a CI job share it.
type Hog struct {
	cmds []*exec.Cmd
}

// StartHog starts n processes (one per CPU when n <= 0) that each spin at
// normal priority, so that Ansible's processes get about half of each CPU.
// They are separate processes, not goroutines: the test process's own
// load clients and observers must not compete inside one Go scheduler.
// The test's cleanup stops them if Stop was not called.
func StartHog(t testing.TB, n int) *Hog {
	t.Helper()
	if n <= 0 {
		n = runtime.NumCPU()
	}
	h := &Hog{}
	for range n {
		// A shell loop with builtins only: no system calls, all CPU.
		cmd := exec.Command("/bin/sh", "-c", "while :; do :; done")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			h.Stop()
			t.Fatalf("starting CPU hog %d of %d: %v", len(h.cmds)+1, n, err)
		}
		h.cmds = append(h.cmds, cmd)
	}
	t.Cleanup(h.Stop)
	return h
}

// N is how many processes the hog runs.
func (h *Hog) N() int { return len(h.cmds) }

// Stop kills the hog's processes (each by its own process group) and
// waits for them; it may be called more than once.
func (h *Hog) Stop() {
	for _, c := range h.cmds {
		if c.ProcessState == nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			_ = c.Wait()
		}
	}
}

// CPUSeconds is the CPU time the hog's processes used, once stopped.
func (h *Hog) CPUSeconds() (float64, error) {
	var s float64
	for _, c := range h.cmds {
		if c.ProcessState == nil {
			return 0, fmt.Errorf("hog process %d still running", c.Process.Pid)
		}
		s += (c.ProcessState.UserTime() + c.ProcessState.SystemTime()).Seconds()
	}
	return s, nil
}
