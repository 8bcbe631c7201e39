// Package slots bounds how many end-to-end rollouts run at once on this
// machine, across every test binary that go test runs side by side.
//
// A rollout under load brings up apps, a load balancer, a load generator
// and ansible-playbook, and it keeps about a core busy. go test runs
// several packages at once (-p, the number of CPUs by default), each with
// its own t.Parallel limit, so no limit inside one test binary holds for
// the machine. The slots are lock files in a directory of the user's
// under the temporary directory: holding a slot is holding an flock on
// one of them, which the kernel releases when the holder exits, however
// it exits.
//
//	func TestRollout(t *testing.T) {
//		slots.Hold(t) // waits for a free slot, keeps it until t ends
//		ctx, cancel := context.WithTimeout(ctx, budget) // starts after the wait
//		...
//	}
package slots

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Env names the variable that overrides Count.
const Env = "ZDT_E2E_SLOTS"

// poll is how often a waiting test tries the slots again.
const poll = 100 * time.Millisecond

// Count is how many rollouts may run at once on this machine: $ZDT_E2E_SLOTS
// when it is a positive number, else one per CPU. A rollout keeps about one
// core busy (its load generator, load balancer and apps), and what is left
// of the machine's time goes to the ansible-playbook runs of the tests that
// hold no slot.
func Count() int {
	if n, err := strconv.Atoi(os.Getenv(Env)); err == nil && n > 0 {
		return n
	}
	return runtime.NumCPU()
}

// Dir is the directory of the slots' lock files: one per user, so that two
// users' tests neither share nor block each other's slots.
func Dir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("zdt-e2e-slots-%d", os.Getuid()))
}

// Hold waits until one of Count slots is free and holds it until t and its
// subtests end. It logs how long it waited, and fails t, naming the
// holders, when no slot came free before t's deadline (go test -timeout)
// is near.
func Hold(t testing.TB) {
	t.Helper()
	var deadline time.Time
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			// Leave the test time to say why, rather than be killed by
			// the test binary's own panic.
			deadline = dl.Add(-time.Minute)
		}
	}
	start := time.Now()
	release, err := acquire(Dir(), Count(), t.Name(), deadline)
	if err != nil {
		t.Fatalf("end-to-end slot: %v", err)
	}
	t.Cleanup(release)
	if waited := time.Since(start); waited >= time.Second {
		t.Logf("waited %s for one of the machine's %d end-to-end slots", waited.Round(100*time.Millisecond), Count())
	}
}

// acquire takes one of n slots in dir, polling until deadline (none if
// zero). The slot's file says who holds it, for a waiter's error.
func acquire(dir string, n int, who string, deadline time.Time) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := ownDir(dir); err != nil {
		return nil, err
	}
	for {
		for i := range n {
			f, err := tryLock(filepath.Join(dir, strconv.Itoa(i)))
			if err != nil {
				return nil, err
			}
			if f == nil {
				continue
			}
			_ = f.Truncate(0)
			_, _ = f.WriteAt([]byte(fmt.Sprintf("%s (pid %d) since %s\n", who, os.Getpid(), time.Now().Format(time.TimeOnly))), 0)
			return func() { f.Close() }, nil
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return nil, fmt.Errorf("none of the %d slots in %s came free; held by: %s", n, dir, holders(dir, n))
		}
		time.Sleep(poll)
	}
}

// tryLock opens path without following a symlink (the temporary
// directory is shared) and takes its lock if it is free; nil, nil when
// another process holds it.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("slot %s: %w", path, err)
	}
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); {
	case err == nil:
		return f, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		f.Close()
		return nil, nil
	default:
		f.Close()
		return nil, fmt.Errorf("slot %s: flock: %w", path, err)
	}
}

// ownDir refuses a slots directory that is a symlink or that someone else
// owns or may write: a co-tenant could otherwise hold every slot.
func ownDir(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case ok && int(sys.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to uid %d, not to this user (%d)", dir, sys.Uid, os.Getuid())
	case st.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by others (mode %v)", dir, st.Mode().Perm())
	}
	return nil
}

// holders says who holds each slot, as their files tell.
func holders(dir string, n int) string {
	var out []string
	for i := range n {
		b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(i)))
		if err != nil || len(b) == 0 {
			continue
		}
		out = append(out, strings.TrimSpace(string(b)))
	}
	if len(out) == 0 {
		return "unknown"
	}
	return strings.Join(out, "; ")
}
