package slots

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAcquireBoundsHolders(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "slots")
	var releases []func()
	for _, who := range []string{"first", "second"} {
		r, err := acquire(dir, 2, who, time.Now().Add(time.Second))
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		releases = append(releases, r)
	}
	// Both slots held: a third waits until its deadline and says who
	// holds them.
	start := time.Now()
	_, err := acquire(dir, 2, "third", time.Now().Add(300*time.Millisecond))
	if err == nil {
		t.Fatal("a third holder got one of two slots")
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("gave up after %s, before its deadline", waited)
	}
	for _, want := range []string{"first (pid", "second (pid"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name holder %q", err, want)
		}
	}
	// A release lets a waiter in.
	got := make(chan error, 1)
	go func() {
		r, err := acquire(dir, 2, "third", time.Now().Add(30*time.Second))
		if err == nil {
			r()
		}
		got <- err
	}()
	time.Sleep(2 * poll)
	select {
	case err := <-got:
		t.Fatalf("the waiter got in while both slots were held (err %v)", err)
	default:
	}
	releases[1]()
	if err := <-got; err != nil {
		t.Fatalf("the waiter did not get the released slot: %v", err)
	}
	releases[0]()
}

// The slots hold across processes: a slot held by another test binary is
// not free here. This is what lets go test's packages share the machine.
func TestAcquireAcrossProcesses(t *testing.T) {
	if os.Getenv("SLOTS_HELPER_DIR") != "" {
		t.Skip("helper process")
	}
	dir := filepath.Join(t.TempDir(), "slots")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHold$", "-test.v")
	cmd.Env = append(os.Environ(), "SLOTS_HELPER_DIR="+dir)
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
	defer cmd.Process.Kill()
	// The helper says "held" once it has the only slot.
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.Contains(sc.Text(), "held") {
	}
	_, err = acquire(dir, 1, "here", time.Now().Add(300*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "helper (pid") {
		t.Fatalf("got the slot another process holds (err %v)", err)
	}
	// The helper exits; the kernel drops its lock.
	stdin.Close()
	_ = cmd.Wait()
	r, err := acquire(dir, 1, "here", time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatalf("the slot stayed taken after its holder exited: %v", err)
	}
	r()
}

// TestHelperHold holds the only slot in $SLOTS_HELPER_DIR until its stdin
// closes.
func TestHelperHold(t *testing.T) {
	dir := os.Getenv("SLOTS_HELPER_DIR")
	if dir == "" {
		t.Skip("run by TestAcquireAcrossProcesses")
	}
	if _, err := acquire(dir, 1, "helper", time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("held\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

func TestDirOfSomeoneElseRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "slots")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := acquire(dir, 1, "x", time.Time{}); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("a world-writable slots directory: err %v, want it refused", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	if _, err := acquire(link, 1, "x", time.Time{}); err == nil {
		t.Error("a slots directory that is a symlink was used")
	}
}

func TestCount(t *testing.T) {
	t.Setenv(Env, "3")
	if Count() != 3 {
		t.Errorf("Count() = %d with %s=3", Count(), Env)
	}
	t.Setenv(Env, "zero")
	if Count() < 1 {
		t.Errorf("Count() = %d with a bad %s, want the CPU count", Count(), Env)
	}
}
