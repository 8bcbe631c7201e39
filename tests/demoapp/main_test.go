package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bin is the demoapp binary under test. It is built once for all tests, as
// the deploy would run it: a real process that gets real signals.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "demoapp-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "demoapp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// command runs the binary without any DEMOAPP_* settings of the test's own
// environment.
func command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEMOAPP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// run runs demoapp to its end and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := command(ctx, args...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run demoapp %q: %v", args, err)
	}
	if exit != nil {
		return exit.ExitCode(), string(out)
	}
	return 0, string(out)
}

// freePort returns a loopback address that nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// files is the set of files a deploy gives one app instance.
type files struct{ dir, token, health, pid, log string }

func newFiles(t *testing.T, token string) files {
	t.Helper()
	dir := t.TempDir()
	f := files{dir, filepath.Join(dir, "token"), filepath.Join(dir, "down"), filepath.Join(dir, "pid"), filepath.Join(dir, "log")}
	writeFile(t, f.token, token+"\n")
	return f
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// args are the flags of one app instance, followed by extra.
func (f files) args(addr, version string, extra ...string) []string {
	return append([]string{"-listen", addr, "-version", version, "-token-file", f.token,
		"-health-file", f.health, "-pid-file", f.pid, "-log-file", f.log}, extra...)
}

// daemon starts an app with -daemon and makes sure it is stopped at the end.
func daemon(t *testing.T, f files, addr, version string, extra ...string) {
	t.Helper()
	code, out := run(t, append(f.args(addr, version, extra...), "-daemon")...)
	if code != 0 {
		t.Fatalf("demoapp -daemon = %d, want 0:\n%s", code, out)
	}
	t.Cleanup(func() { run(t, "-stop", "-pid-file", f.pid) })
}

func stop(t *testing.T, f files) string {
	t.Helper()
	code, out := run(t, "-stop", "-pid-file", f.pid)
	if code != 0 {
		t.Fatalf("demoapp -stop = %d, want 0:\n%s", code, out)
	}
	return out
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

func refused(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	conn.Close()
	return false
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	f := newFiles(t, "tok")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"nostart", f.args(freePort(t), "v2", "-broken", "nostart"), 1, "release v2 is broken (-broken nostart): refusing to start"},
		{"nostart as daemon", f.args(freePort(t), "v2", "-broken", "nostart", "-daemon"), 1,
			"app exited (exit status 1) before listening on"},
		{"nostart as daemon shows why", f.args(freePort(t), "v2", "-broken", "nostart", "-daemon"), 1,
			"demoapp: release v2 is broken (-broken nostart): refusing to start"},
		{"missing token file", f.args(freePort(t), "v2", "-token-file", f.token+".new"), 1, "read -token-file"},
		{"unknown flag", []string{"-port", "80"}, 2, "flag provided but not defined: -port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := run(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("demoapp %q = %d, want %d and output with %q:\n%s", tt.args, code, tt.wantCode, tt.wantOut, out)
			}
		})
	}
}

// TestGracefulShutdown is the zero-downtime contract with a real process and
// signal: after SIGTERM no new connections, the request in flight completes,
// exit 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	f := newFiles(t, "tok")
	addr := freePort(t)
	var stderr strings.Builder
	cmd := command(context.Background(), f.args(addr, "v1")...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	// The pid file appears once the app listens.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(f.pid); err == nil {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("app wrote no pid file within 5s")
		}
	}

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	sent := time.Now()
	go func() {
		resp, err := http.Get("http://" + addr + "/slow?ms=1500")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(body), err}
	}()
	time.Sleep(300 * time.Millisecond) // let the request reach the handler
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	for start := time.Now(); !refused(addr); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > time.Second {
			t.Fatal("app still accepts connections 1s after SIGTERM")
		}
	}
	r := <-slow
	if r.err != nil || r.code != 200 || r.body != "v1\n" {
		t.Errorf("in-flight GET /slow?ms=1500 = %d %q, %v; want 200 v1", r.code, r.body, r.err)
	}
	if d := time.Since(sent); d < 1500*time.Millisecond {
		t.Errorf("in-flight request answered after %v, before its 1.5s were up", d)
	}
	if err := <-exited; err != nil {
		t.Errorf("app exit: %v, want exit 0; stderr:\n%s", err, &stderr)
	}
	for _, line := range []string{"starting version v1", "listening on " + addr, "shutting down (terminated signal received)", "stopped"} {
		if !strings.Contains(stderr.String(), line) {
			t.Errorf("stderr lacks %q:\n%s", line, &stderr)
		}
	}
	if _, err := os.Stat(f.pid); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after exit: %v, want removed", err)
	}
}

// TestDaemonLifecycle is one host's rolling deploy: start v1, deploy v2 on
// the same port right after stopping v1, and verify the new process answers.
func TestDaemonLifecycle(t *testing.T) {
	t.Parallel()
	f := newFiles(t, "token-v1")
	addr := freePort(t)
	url := "http://" + addr

	daemon(t, f, addr, "v1")
	code, hdr, body := get(t, url+"/")
	if code != 200 || body != "v1\n" || hdr.Get("X-App-Host") != addr {
		t.Errorf("GET / = %d %q X-App-Host %q; want 200 v1 %s", code, body, hdr.Get("X-App-Host"), addr)
	}
	if _, _, tok := get(t, url+"/token"); tok != "token-v1\n" {
		t.Errorf("GET /token = %q, want token-v1", tok)
	}

	// Starting a second copy must fail and leave the first one's pid file.
	pid, _ := os.ReadFile(f.pid)
	second := newFiles(t, "x")
	second.pid = f.pid
	if code, out := run(t, append(second.args(addr, "v1b"), "-daemon")...); code != 1 || !strings.Contains(out, "address already in use") {
		t.Errorf("second -daemon on %s = %d, want 1 with address already in use:\n%s", addr, code, out)
	}
	if now, _ := os.ReadFile(f.pid); string(now) != string(pid) {
		t.Errorf("pid file = %q after a failed second start, want %q", now, pid)
	}

	stop(t, f)
	if !refused(addr) {
		t.Errorf("%s still accepts connections after -stop", addr)
	}
	if _, err := os.Stat(f.pid); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after -stop: %v, want removed", err)
	}

	// The deploy writes a fresh token, then restarts at once on the same port.
	writeFile(t, f.token, "token-v2\n")
	daemon(t, f, addr, "v2")
	if _, hdr, body := get(t, url+"/"); body != "v2\n" || hdr.Get("X-App-Version") != "v2" {
		t.Errorf("GET / after restart = %q X-App-Version %q; want v2", body, hdr.Get("X-App-Version"))
	}
	if _, _, tok := get(t, url+"/token"); tok != "token-v2\n" {
		t.Errorf("GET /token after restart = %q, want token-v2", tok)
	}
	stop(t, f)
	if out := stop(t, f); !strings.Contains(out, "nothing to stop") {
		t.Errorf("second -stop output lacks nothing to stop:\n%s", out)
	}
	if log, _ := os.ReadFile(f.log); strings.Count(string(log), "stopped\n") != 2 {
		t.Errorf("log file does not show two clean stops:\n%s", log)
	}
}

// TestDaemonStartDelay checks that -daemon waits out a slow boot, during which
// the port refuses connections like a failing health check.
func TestDaemonStartDelay(t *testing.T) {
	t.Parallel()
	f := newFiles(t, "tok")
	addr := freePort(t)
	const delay = 700 * time.Millisecond
	t.Cleanup(func() { run(t, "-stop", "-pid-file", f.pid) })
	start := time.Now()
	type result struct {
		code int
		out  string
	}
	started := make(chan result, 1)
	go func() {
		// Not daemon(): its t.Fatalf must not run outside the test goroutine.
		out, err := command(context.Background(), f.args(addr, "v1", "-start-delay", delay.String(), "-daemon")...).CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			started <- result{exit.ExitCode(), string(out)}
			return
		}
		started <- result{0, fmt.Sprint(err, string(out))}
	}()
	time.Sleep(delay / 3)
	if !refused(addr) {
		t.Errorf("%s accepts connections during -start-delay", addr)
	}
	if r := <-started; r.code != 0 {
		t.Fatalf("demoapp -daemon -start-delay %v = %d, want 0:\n%s", delay, r.code, r.out)
	}
	if d := time.Since(start); d < delay {
		t.Errorf("-daemon returned after %v, before -start-delay %v", d, delay)
	}
	if code, _, body := get(t, "http://"+addr+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz after start = %d %q, want 200 ok", code, body)
	}
}

// TestDaemonNoWait checks -daemon -daemon-wait=false, which stands for
// systemctl restart of a Type=simple unit: it returns once the process is
// started, and the app answers only after its boot.
func TestDaemonNoWait(t *testing.T) {
	t.Parallel()
	const delay = 1500 * time.Millisecond
	nowait := func(f files, addr string, extra ...string) (int, string, time.Duration) {
		t.Helper()
		start := time.Now()
		code, out := run(t, append(f.args(addr, "v2", extra...), "-daemon", "-daemon-wait=false")...)
		return code, out, time.Since(start)
	}

	t.Run("returns before the boot, app answers later", func(t *testing.T) {
		t.Parallel()
		f := newFiles(t, "tok")
		addr := freePort(t)
		t.Cleanup(func() { run(t, "-stop", "-pid-file", f.pid) })
		start := time.Now()
		code, out, took := nowait(f, addr, "-start-delay", delay.String())
		if code != 0 || !strings.Contains(out, "not waiting for it to listen") {
			t.Fatalf("demoapp -daemon -daemon-wait=false = %d, want 0 saying it does not wait:\n%s", code, out)
		}
		if took >= delay {
			t.Errorf("-daemon -daemon-wait=false returned after %v, not before -start-delay %v", took, delay)
		}
		// The pid file is there at once, so that -stop can reach the app.
		pid := pidOf(t, f)
		if !refused(addr) {
			t.Errorf("%s accepts connections right after the start, during -start-delay", addr)
		}
		up := waitUntil(t, delay+5*time.Second, func() bool { return !refused(addr) })
		if d := up.Sub(start); d < delay {
			t.Errorf("app listened %v after the start, before -start-delay %v", d, delay)
		}
		if code, _, body := get(t, "http://"+addr+"/"); code != 200 || body != "v2\n" {
			t.Errorf("GET / after the boot = %d %q, want 200 v2", code, body)
		}
		if _, _, body := get(t, "http://"+addr+"/version"); !strings.Contains(body, fmt.Sprintf(`"pid":%d`, pid)) {
			t.Errorf("GET /version = %s, want the pid %d that -daemon wrote", body, pid)
		}
	})

	t.Run("stop while booting", func(t *testing.T) {
		t.Parallel()
		f := newFiles(t, "tok")
		addr := freePort(t)
		t.Cleanup(func() { run(t, "-stop", "-pid-file", f.pid) })
		if code, out, _ := nowait(f, addr, "-start-delay", "30s"); code != 0 {
			t.Fatalf("demoapp -daemon -daemon-wait=false = %d, want 0:\n%s", code, out)
		}
		pid := pidOf(t, f)
		// It logs starting once it handles SIGTERM; before, SIGTERM would
		// just kill it.
		waitUntil(t, 5*time.Second, func() bool {
			log, _ := os.ReadFile(f.log)
			return strings.Contains(string(log), "starting version v2")
		})
		if out := stop(t, f); !strings.Contains(out, "has exited") {
			t.Errorf("-stop of a booting app does not say it exited:\n%s", out)
		}
		if syscall.Kill(pid, 0) == nil && !zombie(pid) {
			t.Errorf("pid %d still running after -stop", pid)
		}
		if log, _ := os.ReadFile(f.log); !strings.Contains(string(log), "stopped before listening") {
			t.Errorf("log lacks stopped before listening:\n%s", log)
		}
	})

	t.Run("refuses to start beside a running app", func(t *testing.T) {
		t.Parallel()
		f := newFiles(t, "tok")
		addr := freePort(t)
		daemon(t, f, addr, "v1")
		before := pidOf(t, f)
		code, out, _ := nowait(f, freePort(t))
		if code != 1 || !strings.Contains(out, "still running; stop it first with -stop") {
			t.Errorf("second start = %d, want 1 saying stop it first:\n%s", code, out)
		}
		if after := pidOf(t, f); after != before {
			t.Errorf("pid file names %d after a refused start, want %d", after, before)
		}
	})

	t.Run("a failed start shows only in the log", func(t *testing.T) {
		t.Parallel()
		f := newFiles(t, "tok")
		addr := freePort(t)
		if code, out, _ := nowait(f, addr, "-broken", "nostart"); code != 0 {
			t.Fatalf("demoapp -daemon -daemon-wait=false -broken nostart = %d, want 0 (it does not wait):\n%s", code, out)
		}
		waitUntil(t, 5*time.Second, func() bool {
			log, _ := os.ReadFile(f.log)
			return strings.Contains(string(log), "refusing to start")
		})
		// A crashed app leaves a stale pid file, which -stop clears.
		waitUntil(t, 5*time.Second, func() bool {
			return strings.Contains(stop(t, f), "nothing to stop")
		})
	})
}

// pidOf is the pid in f's pid file.
func pidOf(t *testing.T, f files) int {
	t.Helper()
	b, err := os.ReadFile(f.pid)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file holds %q", b)
	}
	return pid
}

// zombie reports whether pid has exited and awaits its parent's wait.
func zombie(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && strings.HasPrefix(string(stat[i+1:]), " Z")
}

// waitUntil polls cond every 20 ms and returns when it first held; it
// fails the test after limit.
func waitUntil(t *testing.T, limit time.Duration, cond func() bool) time.Time {
	t.Helper()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return time.Now()
		}
		if time.Since(start) > limit {
			t.Fatalf("condition still false after %v", limit)
		}
	}
}

// TestBrokenModes checks that each bad release fails the deploy step meant to
// catch it, with real processes.
func TestBrokenModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		broken     string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"", "/token", 200, "fresh-token\n"},
		{"stale-token", "/token", 200, "stale\n"}, // not fresh-token: the verify step fails
		{"stale-token", "/healthz", 200, "ok\n"},  // and nothing else gives it away
		{"unhealthy", "/healthz", 500, "unhealthy\n"},
		{"unhealthy", "/", 200, "v2\n"},            // it starts and serves; only the health check fails
		{"errors", "/token", 200, "fresh-token\n"}, // it verifies,
		{"errors", "/healthz", 200, "ok\n"},        // passes its health checks,
		{"errors", "/", 200, "v2\n"},               // and serves, four requests in five
	}
	for _, tt := range tests {
		t.Run(tt.broken+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			f := newFiles(t, "fresh-token")
			addr := freePort(t)
			daemon(t, f, addr, "v2", "-broken", tt.broken)
			code, _, body := get(t, "http://"+addr+tt.path)
			if code != tt.wantStatus || body != tt.wantBody {
				t.Errorf("-broken %q: GET %s = %d %q, want %d %q", tt.broken, tt.path, code, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}
