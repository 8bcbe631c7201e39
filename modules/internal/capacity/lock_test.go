package capacity

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var web = NewKey("load balancer web", "hetzner", "https://api.example/v1", "42")

func lockWithin(t *testing.T, dir string, d time.Duration, owner string, keys ...Key) (*Held, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return Lock(ctx, dir, owner, keys...)
}

// flock conflicts across open file descriptions, so two Locks in one
// process exclude each other as two processes do.
func TestLockExcludesAndNamesTheHolder(t *testing.T) {
	dir := t.TempDir()
	h, err := lockWithin(t, dir, time.Second, "pid 1, lb_drain of target web1", web)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockWithin(t, dir, 100*time.Millisecond, "pid 2", web)
	if err == nil || !strings.Contains(err.Error(), "for the lock of load balancer web on this host, held by pid 1, lb_drain of target web1") ||
		!errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock: %v", err)
	}
	h.Release()
	h.Release() // twice is fine
	h2, err := lockWithin(t, dir, time.Second, "pid 2", web)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	h2.Release()
}

func TestLockOtherPoolsIndependent(t *testing.T) {
	dir := t.TempDir()
	other := NewKey("target group api", "aws", "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/api/1")
	h, err := lockWithin(t, dir, time.Second, "a", web)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	h2, err := lockWithin(t, dir, time.Second, "b", other, other) // a key twice is locked once
	if err != nil {
		t.Fatalf("other pool: %v", err)
	}
	h2.Release()
	if _, err := lockWithin(t, dir, 50*time.Millisecond, "c", other, web); err == nil {
		t.Fatal("locking a held pool among others succeeded")
	}
	// The failed attempt released what it had taken.
	h3, err := lockWithin(t, dir, 50*time.Millisecond, "d", other)
	if err != nil {
		t.Fatalf("other pool after a failed attempt: %v", err)
	}
	h3.Release()
}

// The helper process holds web's lock in the directory it is given until
// its stdin closes.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("ZDT_CAPACITY_HELPER")
	if dir == "" {
		t.Skip("helper process only")
	}
	h, err := lockWithin(t, dir, 5*time.Second, "pid helper", web)
	if err != nil {
		os.Exit(3)
	}
	os.Stdout.WriteString("locked\n")
	bufio.NewReader(os.Stdin).ReadString('\n')
	h.Release()
	os.Exit(0)
}

func TestLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "ZDT_CAPACITY_HELPER="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		stdin.Close()
		t.Fatalf("helper: %q, %v", line, err)
	}
	if _, err := lockWithin(t, dir, 100*time.Millisecond, "me", web); err == nil || !strings.Contains(err.Error(), "held by pid helper") {
		t.Fatalf("lock held by another process: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		h, err := lockWithin(t, dir, 10*time.Second, "me", web)
		h.Release()
		done <- err
	}()
	stdin.Close() // the helper releases and exits
	if err := <-done; err != nil {
		t.Fatalf("after the helper released: %v", err)
	}
}

func TestDirRefusesUnsafePaths(t *testing.T) {
	base := t.TempDir()
	if dir, err := secureDirs(base, "zerodowntime_rolling", "locks"); err != nil || dir != filepath.Join(base, "zerodowntime_rolling", "locks") {
		t.Fatalf("fresh: %q, %v", dir, err)
	}
	if fi, _ := os.Stat(filepath.Join(base, "zerodowntime_rolling", "locks")); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v, want 0700", fi.Mode().Perm())
	}
	cases := map[string]struct {
		prepare func(t *testing.T, base string)
		want    string
	}{
		"symlink": {func(t *testing.T, base string) {
			os.Mkdir(filepath.Join(base, "elsewhere"), 0o700)
			if err := os.Symlink(filepath.Join(base, "elsewhere"), filepath.Join(base, "zerodowntime_rolling")); err != nil {
				t.Fatal(err)
			}
		}, "is a symlink"},
		"group-writable": {func(t *testing.T, base string) {
			p := filepath.Join(base, "zerodowntime_rolling")
			os.Mkdir(p, 0o700)
			if err := os.Chmod(p, 0o770); err != nil {
				t.Fatal(err)
			}
		}, "writable by group or others (mode 0770)"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			c.prepare(t, base)
			if _, err := secureDirs(base, "zerodowntime_rolling", "locks"); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestLockRefusesASymlinkedFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "target"), filepath.Join(dir, web.ID+".lock")); err != nil {
		t.Fatal(err)
	}
	if _, err := lockWithin(t, dir, time.Second, "me", web); err == nil || !strings.Contains(err.Error(), "cannot open the lock of load balancer web") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "target")); !os.IsNotExist(err) {
		t.Errorf("the link's target was created: %v", err)
	}
}
