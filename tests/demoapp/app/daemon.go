package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pollEvery is how often -daemon and -stop look at the app they wait for.
// It is short so that they return about when the app is up or gone, as
// systemctl does (it hears of both as they happen), and a deploy step that
// stops and starts the app is not longer by this polling than in real life.
const pollEvery = 10 * time.Millisecond

// stopGrace is how long -stop waits beyond -shutdown-timeout: the app itself
// cuts requests off at -shutdown-timeout and needs a moment to exit.
const stopGrace = 5 * time.Second

// tailLines is how much of the log -daemon shows when the app fails to start.
const tailLines = 20

// Daemon starts the app detached, in its own session with its output
// appended to -log-file, and returns once it listens: its pid is in -pid-file
// and its port accepts connections. It returns an error with the end of the
// app's log if the app exits first or does not listen within -start-delay
// plus -start-timeout; in the latter case it stops the app.
//
// With -daemon-wait=false it returns as soon as the process is started,
// like systemctl start of a Type=simple unit: the app boots and listens
// later, and a failure to start shows only in the log. It writes the pid
// file at once, as systemd knows the main pid at once, so that -stop can
// stop an app that is still booting.
func Daemon(cfg Config, logger *log.Logger) error {
	if !cfg.DaemonWait {
		// Overwriting the pid file of a running app would leave that app
		// beyond -stop's reach.
		if pid, err := readPIDFile(cfg.PIDFile); err == nil && running(pid) {
			return fmt.Errorf("-pid-file %s names pid %d, which is still running; stop it first with -stop", cfg.PIDFile, pid)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary to start: %w", err)
	}
	logFile, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open -log-file: %w", err)
	}
	defer logFile.Close()
	// Remember where this start's output begins, to show only that on failure.
	st, err := logFile.Stat()
	if err != nil {
		return fmt.Errorf("open -log-file: %w", err)
	}
	logStart := st.Size()

	cmd := exec.Command(exe, cfg.childArgs()...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A new session: no controlling terminal to send SIGHUP, and the app
	// outlives whatever ran -daemon (an Ansible task, an SSH session).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", exe, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	if !cfg.DaemonWait {
		if err := writePIDFile(cfg.PIDFile, pid); err != nil {
			terminate(cmd.Process, exited)
			return fmt.Errorf("app (pid %d) was stopped again: %w", pid, err)
		}
		logger.Printf("started version %s as pid %d; not waiting for it to listen on %s (-daemon-wait=false); log in %s",
			cfg.Version, pid, cfg.Listen, cfg.LogFile)
		return nil
	}

	wait := cfg.StartDelay + cfg.StartTimeout
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if listening(cfg, pid) {
			logger.Printf("started version %s as pid %d, listening on %s; log in %s", cfg.Version, pid, cfg.Listen, cfg.LogFile)
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("app exited (%v) before listening on %s; last lines of %s:\n%s",
				err, cfg.Listen, cfg.LogFile, tail(cfg.LogFile, logStart))
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			terminate(cmd.Process, exited)
			return fmt.Errorf("app (pid %d) was not listening on %s after %v (-start-delay %v + -start-timeout %v), so it was stopped; last lines of %s:\n%s",
				pid, cfg.Listen, wait, cfg.StartDelay, cfg.StartTimeout, cfg.LogFile, tail(cfg.LogFile, logStart))
		}
	}
}

// listening reports whether the app with pid is up. The pid file comes first:
// a connection alone could be answered by an old process still on the port.
func listening(cfg Config, pid int) bool {
	if p, err := readPIDFile(cfg.PIDFile); err != nil || p != pid {
		return false
	}
	conn, err := net.DialTimeout("tcp", cfg.Listen, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// terminate stops a child that failed to come up: SIGTERM, then SIGKILL.
func terminate(p *os.Process, exited <-chan error) {
	p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		p.Kill()
		<-exited
	}
}

// Stop sends SIGTERM to the app named in -pid-file and waits until it has
// exited: up to -shutdown-timeout, the app's own limit for in-flight requests,
// plus a grace period. An app that is still running then is killed, and Stop
// returns an error. No pid file, or a pid that is not running, means there is
// nothing to stop.
func Stop(cfg Config, logger *log.Logger) error {
	pid, err := readPIDFile(cfg.PIDFile)
	if errors.Is(err, fs.ErrNotExist) {
		logger.Printf("no pid file %s: nothing to stop", cfg.PIDFile)
		return nil
	}
	if err != nil {
		return err
	}
	if !running(pid) {
		logger.Printf("pid %d from %s is not running: nothing to stop; removing the stale pid file", pid, cfg.PIDFile)
		return removePIDFile(cfg.PIDFile, pid)
	}

	limit := cfg.ShutdownTimeout + stopGrace
	logger.Printf("sending SIGTERM to pid %d; waiting up to %v for it to exit", pid, limit)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send SIGTERM to pid %d from %s: %w", pid, cfg.PIDFile, err)
	}
	if waitGone(pid, limit) {
		logger.Printf("pid %d has exited", pid)
		// A clean exit removed the file already; this covers a crash.
		return removePIDFile(cfg.PIDFile, pid)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(pid, 2*time.Second)
	if err := removePIDFile(cfg.PIDFile, pid); err != nil {
		logger.Print(err)
	}
	return fmt.Errorf("pid %d was still running %v after SIGTERM, so it was killed; raise -shutdown-timeout above the longest request (now %v)",
		pid, limit, cfg.ShutdownTimeout)
}

func waitGone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for running(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
	return true
}

// running reports whether process pid exists and has not exited. A zombie
// counts as exited: it no longer serves, and where init does not reap
// orphans (some containers) it would otherwise never go away.
func running(pid int) bool {
	err := syscall.Kill(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, rerr := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if rerr != nil {
		// No /proc (not Linux): trust kill, where EPERM also means it exists.
		return true
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces and parentheses: "123 (demo app) Z ...".
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || !bytes.HasPrefix(stat[i+1:], []byte(" Z"))
}

// writePIDFile writes pid to path through a rename, so that -daemon and -stop
// never read a half-written file.
func writePIDFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write -pid-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write -pid-file: %w", err)
	}
	return nil
}

func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read -pid-file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(s)
	// kill(2) treats 0 and negative pids as process groups; -1 would signal
	// every process we may signal.
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("-pid-file %s holds %q, not a process id; remove it if no demoapp is running", path, s)
	}
	return pid, nil
}

// removePIDFile removes path if it still names pid. A newer process started
// on the same pid file may already have replaced it.
func removePIDFile(path string, pid int) error {
	if p, err := readPIDFile(path); err != nil || p != pid {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove -pid-file: %w", err)
	}
	return nil
}

// tail returns the last tailLines lines of the file from offset on.
func tail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "(" + err.Error() + ")"
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	out := strings.Join(lines, "\n")
	if out == "" {
		return "(nothing)"
	}
	return out
}
