package ansible

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStuckModuleEndedAtDeadline: a module blocked where it ignores its
// context (a read that never returns) is ended at timeout plus grace, with
// a result that says so and where it stood.
func TestStuckModuleEndedAtDeadline(t *testing.T) {
	spec := Spec{Name: "probe", Options: map[string]Option{"timeout": {Type: Int}},
		TimeoutOption: "timeout", TimeoutGrace: 100 * time.Millisecond}
	release := make(chan struct{})
	defer close(release)
	run := func(_ context.Context, m *Module, _ map[string]any) (Result, error) {
		m.Progress("deregistered web from pool-1, waiting for it to drain")
		<-release
		return Result{Changed: true}, nil
	}
	type out struct {
		res  map[string]any
		code int
	}
	got := make(chan out, 1)
	start := time.Now()
	go func() {
		var buf bytes.Buffer
		code := RunArgs(context.Background(), spec, []byte(`{"timeout": 1}`), &buf, run)
		var res map[string]any
		json.Unmarshal(buf.Bytes(), &res)
		got <- out{res, code}
	}()
	// The deadline is 1.1 s away; the runtime then gives the module
	// stuckWait to answer. Far more than that means it waits for ever.
	limit := 1100*time.Millisecond + stuckWait + 20*time.Second
	select {
	case o := <-got:
		took := time.Since(start)
		msg, _ := o.res["msg"].(string)
		if o.code != 1 || o.res["failed"] != true {
			t.Errorf("exit %d, result %v; want a failure", o.code, o.res)
		}
		want := "probe timed out: it had not ended after timeout (1s) and 100ms of grace; state left: deregistered web from pool-1, waiting for it to drain"
		if msg != want {
			t.Errorf("msg %q\nwant %q", msg, want)
		}
		if took < 1100*time.Millisecond {
			t.Errorf("ended after %s, before its deadline of 1.1 s", took)
		}
	case <-time.After(limit):
		t.Fatalf("RunArgs still waits for the stuck module %s after its start (deadline 1.1 s)", limit)
	}
}

// TestDeadlineKeepsModulesOwnError: a module that heeds its context and
// returns at the hard deadline keeps its own message.
func TestDeadlineKeepsModulesOwnError(t *testing.T) {
	spec := Spec{Name: "probe", Options: map[string]Option{"timeout": {Type: Int}},
		TimeoutOption: "timeout", TimeoutGrace: 100 * time.Millisecond}
	run := func(ctx context.Context, m *Module, _ map[string]any) (Result, error) {
		m.Progress("set web to drain")
		<-ctx.Done()
		return Result{}, fmt.Errorf("waiting for web: %w", ctx.Err())
	}
	_, res, _ := runArgs(t, context.Background(), spec, `{"timeout": 1}`, run)
	if want := "waiting for web: context deadline exceeded; state left: set web to drain"; res["msg"] != want {
		t.Errorf("msg %q, want %q", res["msg"], want)
	}
}

// TestArgsFileBounded: the arguments file is read only when it is a
// regular file of bounded size, not through a symbolic link; a FIFO would
// block the read for ever, an endless or huge file exhaust memory.
func TestArgsFileBounded(t *testing.T) {
	echo := NewModule(Spec{Name: "echo", Options: map[string]Option{"say": {Type: Str}}},
		func(ctx context.Context, m *Module, a struct {
			Say string `json:"say"`
		}) (Result, error) {
			return Result{Msg: a.Say}, nil
		})
	dir := t.TempDir()
	good := filepath.Join(dir, "args")
	if err := os.WriteFile(good, []byte(`{"say": "hello"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	if err := os.WriteFile(huge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, maxArgsSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	tests := []struct {
		name, path, stdin, want string
	}{
		{name: "regular file", path: good, want: "hello"},
		{name: "fifo", path: fifo, want: "cannot read the module arguments: " + fifo + " is not a regular file"},
		{name: "symlink", path: link, want: "cannot read the module arguments: " + link + " is a symbolic link"},
		{name: "too large", path: huge, want: fmt.Sprintf("cannot read the module arguments: %s holds %d bytes, more than the %d", huge, maxArgsSize+1, maxArgsSize)},
		{name: "stdin too large", path: "-", stdin: strings.Repeat(" ", maxArgsSize+1),
			want: fmt.Sprintf("cannot read the module arguments: standard input holds more than the %d bytes", maxArgsSize)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan string, 1)
			go func() {
				var out, errOut bytes.Buffer
				dispatch([]string{"echo", tt.path}, strings.NewReader(tt.stdin), &out, &errOut, []Entry{echo})
				var res map[string]any
				json.Unmarshal(out.Bytes(), &res)
				msg, _ := res["msg"].(string)
				got <- msg
			}()
			select {
			case msg := <-got:
				if !strings.HasPrefix(msg, tt.want) {
					t.Errorf("msg %q, want it to start with %q", msg, tt.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("reading the arguments from %s has not ended after 20 s", tt.path)
			}
		})
	}
}

// TestSignalGivesResult: a module ended by SIGHUP (a dropped SSH session)
// or SIGTERM still prints a result saying where it stood. It runs dispatch
// in a child process, the test binary itself, and signals it.
func TestSignalGivesResult(t *testing.T) {
	if os.Getenv("ZDT_SIGNAL_CHILD") != "" {
		signalChild()
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	args := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(args, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSignalGivesResult$")
			cmd.Env = append(os.Environ(), "ZDT_SIGNAL_CHILD="+args)
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The child says when its module runs, so that the signal
			// lands on the module and not on the start of the process.
			sc := bufio.NewScanner(stderr)
			for sc.Scan() && sc.Text() != "running" {
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			go func() {
				for sc.Scan() {
				}
			}()
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			select {
			case err := <-waited:
				var res map[string]any
				if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
					t.Fatalf("after %s the child printed no result (%v): %q", sig, err, stdout.String())
				}
				want := "probe was interrupted by a signal; state left: drained web from pool-1"
				if res["failed"] != true || res["changed"] != true || res["msg"] != want {
					t.Errorf("result %v; want failed, changed and msg %q", res, want)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("the child has not ended 30 s after %s", sig)
			}
		})
	}
}

// signalChild runs a module that waits for its interruption, in the child
// of TestSignalGivesResult, and exits with dispatch's code.
func signalChild() {
	probe := NewModule(Spec{Name: "probe"}, func(ctx context.Context, m *Module, _ struct{}) (Result, error) {
		m.Progress("drained web from pool-1")
		fmt.Fprintln(os.Stderr, "running")
		<-ctx.Done()
		return Result{Changed: true}, context.Cause(ctx)
	})
	os.Exit(dispatch([]string{"probe", os.Getenv("ZDT_SIGNAL_CHILD")}, strings.NewReader(""), os.Stdout, os.Stderr, []Entry{probe}))
}
