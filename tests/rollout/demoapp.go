package rollout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RepoRoot is the repository's top directory, found from this source file
// (go test and go run both keep the path), else the working directory.
func RepoRoot() string {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root
		}
	}
	wd, _ := os.Getwd()
	return wd
}

// BuildDemoapp compiles tests/demoapp into dir and returns the binary's path.
func BuildDemoapp(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "demoapp")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./tests/demoapp")
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./tests/demoapp: %v\n%s", err, out)
	}
	return bin, nil
}

// Host is one app host: a demoapp on its own loopback address, with its
// files in Dir. Name is the inventory hostname, which is also the HAProxy
// server name and the Hetzner server name.
type Host struct {
	Name string
	// Addr is host:port, e.g. 127.0.1.11:8081.
	Addr string
	// Dir holds token, down (health file), app.pid and app.log.
	Dir string
	// InstanceID is the AWS instance id lbsim knows the host by.
	InstanceID string
	// ServerID is the Hetzner server id lbsim knows the host by.
	ServerID int64
}

// IP is the host part of Addr.
func (h Host) IP() string {
	ip, _, _ := net.SplitHostPort(h.Addr)
	return ip
}

// Port is the port part of Addr.
func (h Host) Port() int {
	_, p, _ := net.SplitHostPort(h.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// TokenFile is where the deploy writes the token the app must serve.
func (h Host) TokenFile() string { return filepath.Join(h.Dir, "token") }

// HealthFile makes /healthz answer 503 while it exists.
func (h Host) HealthFile() string { return filepath.Join(h.Dir, "down") }

// PIDFile names the running app.
func (h Host) PIDFile() string { return filepath.Join(h.Dir, "app.pid") }

// LogFile collects the app's output across restarts.
func (h Host) LogFile() string { return filepath.Join(h.Dir, "app.log") }

// shutdownTimeout is the app's -shutdown-timeout: longer than the slowest
// request the load generator sends.
const shutdownTimeout = "30s"

// startArgs are the demoapp arguments that start version on h; the deploy
// tasks file passes the same ones.
func startArgs(h Host, version string) []string {
	return []string{
		"-daemon", "-listen", h.Addr, "-version", version,
		"-token-file", h.TokenFile(), "-health-file", h.HealthFile(),
		"-pid-file", h.PIDFile(), "-log-file", h.LogFile(),
		"-shutdown-timeout", shutdownTimeout,
	}
}

// startApp writes a fresh token and starts version on h, detached, with
// env added to its environment.
func startApp(ctx context.Context, bin string, h Host, version string, env map[string]string) error {
	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(h.TokenFile(), []byte(randomToken()+"\n"), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, startArgs(h, version)...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("start demoapp %s on %s (%s): %v\n%s", version, h.Name, h.Addr, err, out)
	}
	return nil
}

// stopApp stops whatever app h's pid file names; if -stop fails, the process
// is killed so that nothing outlives the scenario.
func stopApp(bin string, h Host) error {
	out, err := exec.Command(bin, "-stop", "-pid-file", h.PIDFile(), "-shutdown-timeout", "5s").CombinedOutput()
	if err == nil {
		return nil
	}
	if b, rerr := os.ReadFile(h.PIDFile()); rerr == nil {
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return fmt.Errorf("stop demoapp on %s: %v: %s", h.Name, err, strings.TrimSpace(string(out)))
}

// stopLeftovers kills demoapps that an interrupted earlier run (a killed
// go test or make bench, whose clean-up never ran) left listening on one
// of addrs: processes of a demoapp this harness built into another working
// directory (<tmp>/zdt-*/demoapp, not dir), started with -listen=addr.
// Without this the new apps cannot bind their addresses. It returns the
// pids it killed. Linux only; elsewhere it finds nothing.
func stopLeftovers(addrs []string, dir string) []int {
	return killDemoapps(func(args []string) bool {
		return slices.ContainsFunc(addrs, func(addr string) bool { return isLeftover(args, addr, dir) })
	})
}

// killDemoapps kills the processes whose arguments match, reading /proc
// once, and waits until they are gone (their addresses are free then).
func killDemoapps(match func(args []string) bool) []int {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var killed []int
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if !match(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil && syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, pid)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !slices.ContainsFunc(killed, alive) {
			break
		}
	}
	return killed
}

// staleAge is how old a working directory of this harness must be before
// removeStale takes it for the remains of a killed run: no run lasts a day
// (make bench stops at 90 minutes).
const staleAge = 24 * time.Hour

// removeStale removes the working directories that killed runs left in
// tmp (a run killed by go test's -timeout never cleans up): directories
// zdt-* that hold a demoapp build or an app-1 host and were last changed
// more than staleAge before now. Apps still running from such a directory
// are killed first. It returns the directories it removed.
func removeStale(tmp string, now time.Time) []string {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "zdt-*"))
	var stale []string
	for _, d := range dirs {
		if st, err := os.Lstat(d); err == nil && st.IsDir() && now.Sub(st.ModTime()) > staleAge && isWorkDir(d) {
			stale = append(stale, d)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	killDemoapps(func(args []string) bool {
		return filepath.Base(args[0]) == "demoapp" && slices.Contains(stale, filepath.Dir(args[0]))
	})
	var removed []string
	for _, d := range stale {
		if os.RemoveAll(d) == nil {
			removed = append(removed, d)
		}
	}
	return removed
}

// isWorkDir reports whether dir has the layout of this harness's working
// directories (a demoapp build, or the first host's directory), so that
// removeStale leaves other programs' zdt-* directories alone.
func isWorkDir(dir string) bool {
	for _, mark := range []string{"demoapp", "app-1"} {
		if _, err := os.Lstat(filepath.Join(dir, mark)); err == nil {
			return true
		}
	}
	return false
}

// isLeftover reports whether a process's arguments are those of an app
// that a demoapp from another of this harness's working directories
// serves on addr.
func isLeftover(args []string, addr, dir string) bool {
	if len(args) < 2 || filepath.Base(args[0]) != "demoapp" {
		return false
	}
	home := filepath.Dir(args[0])
	if home == filepath.Clean(dir) || filepath.Dir(home) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(home), "zdt-") {
		return false
	}
	return slices.Contains(args[1:], "-listen="+addr)
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

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AppVersion is what a demoapp says at /version.
type AppVersion struct {
	Version string `json:"version"`
	Host    string `json:"host"`
	PID     int    `json:"pid"`
}

// directClient talks to the apps without a load balancer in between.
var directClient = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

// DirectVersion asks h's app for its version, bypassing the load balancer.
func DirectVersion(ctx context.Context, h Host) (AppVersion, error) {
	var v AppVersion
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.Addr+"/version", nil)
	if err != nil {
		return v, err
	}
	resp, err := directClient.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET %s/version: status %d", h.Addr, resp.StatusCode)
	}
	return v, json.NewDecoder(resp.Body).Decode(&v)
}
