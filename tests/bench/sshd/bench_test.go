package sshd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/bench/benchkit"
)

// TestBenchConnection measures what SSH itself costs Ansible per host and
// per task against this package's sshd: a new connection (Ansible opens one
// at the first task on each host), a command over an open one (every later
// task, through ControlPersist), and the same command when the remote
// user's ~/.bashrc sleeps 0.1 s (bash reads ~/.bashrc for the commands
// sshd runs, where it was built to, as Debian's is).
func TestBenchConnection(t *testing.T) {
	benchkit.Gate(t)
	if why := Available(); why != "" {
		t.Skip(why)
	}
	const fresh, reused = 10, 20
	plain := Start(t, Options{Home: t.TempDir()})
	slowHome := t.TempDir()
	if err := os.WriteFile(filepath.Join(slowHome, ".bashrc"), []byte("sleep 0.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	slow := Start(t, Options{Home: slowHome})

	tb := &benchkit.Table{
		Title: "SSH to the benchmark sshd on 127.0.0.1 (ed25519 keys, OpenSSH's default ciphers and key exchange): wall time of `ssh ... true`",
		Head:  []string{"what", "runs", "median", "max"},
	}
	newConn := timeRuns(t, fresh, plain, "-o", "ControlMaster=no", "-o", "ControlPath=none")
	tb.Add("new connection (the first task on a host)", itoa(fresh), benchkit.Ms(benchkit.Median(newConn)), benchkit.Ms(maxOf(newConn)))
	// As Ansible's ssh connection does by default.
	master := func() []string {
		return []string{"-o", "ControlMaster=auto", "-o", "ControlPersist=60s", "-o", "ControlPath=" + filepath.Join(t.TempDir(), "cp-%C")}
	}
	overMaster := timeRuns(t, reused, plain, master()...)
	tb.Add("command over an open connection (each later task)", itoa(reused), benchkit.Ms(benchkit.Median(overMaster)), benchkit.Ms(maxOf(overMaster)))
	withBashrc := timeRuns(t, reused, slow, master()...)
	tb.Add("the same, the remote user's ~/.bashrc sleeping 0.1 s", itoa(reused), benchkit.Ms(benchkit.Median(withBashrc)), benchkit.Ms(maxOf(withBashrc)))
	shell, _ := exec.Command("sh", "-c", "getent passwd root | cut -d: -f7").Output()
	tb.Notes = []string{
		"new connection / command over an open one: " + benchkit.Ratio(benchkit.Median(newConn), benchkit.Median(overMaster)),
		"the remote user is root, whose shell here is " + strings.TrimSpace(string(shell)) + "; with the master, the first run opens it and is not counted",
		"Ansible's ssh connection uses ControlMaster=auto and ControlPersist=60s by default, so every task after a host's first pays the second row, plus what the remote user's shell start-up costs (the third row)",
	}
	tb.Print()
}

// timeRuns runs `ssh <args> root@127.0.0.1 true` against s n times (once
// more, uncounted, first: it opens a master where args ask for one) and
// returns each run's wall time. A master it opened is closed at the end.
func timeRuns(t *testing.T, n int, s *Server, args ...string) []time.Duration {
	t.Helper()
	cmdArgs := append(append(args, s.SSHArgs()...), "root@127.0.0.1", "true")
	var ds []time.Duration
	for i := 0; i <= n; i++ {
		start := time.Now()
		if out, err := exec.Command("ssh", cmdArgs...).CombinedOutput(); err != nil {
			t.Fatalf("ssh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if i > 0 {
			ds = append(ds, time.Since(start))
		}
	}
	if strings.Contains(strings.Join(args, " "), "ControlMaster=auto") {
		_ = exec.Command("ssh", append(append(args, s.SSHArgs()...), "-O", "exit", "root@127.0.0.1")...).Run()
	}
	return ds
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }
