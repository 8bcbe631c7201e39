package childproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWaitReady(t *testing.T) {
	errNo := errors.New("not yet")
	closed := make(chan struct{})
	close(closed)
	tests := []struct {
		name    string
		exited  <-chan struct{}
		timeout time.Duration
		readyAt int // the call that succeeds; 0 never
		wantErr string
	}{
		{name: "ready at once", timeout: time.Minute, readyAt: 1},
		{name: "ready later", timeout: time.Minute, readyAt: 3},
		{name: "exited", exited: closed, timeout: time.Minute, wantErr: "haproxy exited before it was ready (last error: not yet)"},
		{name: "timeout", timeout: 100 * time.Millisecond, wantErr: "haproxy not ready within 100ms (last error: not yet)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := WaitReady(context.Background(), "haproxy", tt.timeout, tt.exited, func() error {
				calls++
				if calls == tt.readyAt {
					return nil
				}
				return errNo
			})
			if tt.wantErr == "" {
				if err != nil || calls != tt.readyAt {
					t.Errorf("err %v after %d calls, want nil after %d", err, calls, tt.readyAt)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := Listening(addr)(); err != nil {
		t.Errorf("listening on %s: %v", addr, err)
	}
	l.Close()
	if err := Listening(addr)(); err == nil {
		t.Errorf("%s still reported listening after close", addr)
	}
}

// TestDieWithParent starts this test binary as a parent that starts a
// sleep with DieWithParent and exits at once; the sleep must die too.
func TestDieWithParent(t *testing.T) {
	if os.Getenv("CHILDPROC_PARENT") == "1" {
		cmd := exec.Command("sleep", "300")
		DieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			fmt.Println("start:", err)
			os.Exit(1)
		}
		fmt.Println(cmd.Process.Pid)
		os.Exit(0)
	}
	if runtime.GOOS != "linux" {
		t.Skip("no parent-death signal here")
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestDieWithParent$")
	parent.Env = append(os.Environ(), "CHILDPROC_PARENT=1")
	out, err := parent.Output()
	if err != nil {
		t.Fatalf("parent: %v: %s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("parent printed %q, want the child's pid", out)
	}
	err = WaitReady(context.Background(), "the child's death", 10*time.Second, nil, func() error {
		// Once the child has died its parent is gone: init reaps it.
		if syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("pid %d alive", pid)
		}
		return nil
	})
	if err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatal(err)
	}
}
