// Package haproxytest starts a real HAProxy (/usr/sbin/haproxy) for tests, on
// 127.0.0.1 with a unix admin socket in a temporary directory, and small HTTP
// applications to put behind it. Everything stops in t.Cleanup.
package haproxytest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/syncbuf"
)

// Binary is the HAProxy executable; override with ZDT_HAPROXY.
var Binary = "/usr/sbin/haproxy"

func init() {
	if b := os.Getenv("ZDT_HAPROXY"); b != "" {
		Binary = b
	}
}

// Config describes the HAProxy to start. Each backend gets its own frontend
// listening on a free 127.0.0.1 port.
type Config struct {
	Backends []Backend
	// Mode is "http" (default) or "tcp".
	Mode string
	// SocketLevel is the stats socket's level: "admin" (default),
	// "operator" or "user".
	SocketLevel string
	// MasterWorker runs haproxy -W with a master CLI socket.
	MasterWorker bool
	// Global and Defaults are extra lines for those sections.
	Global   []string
	Defaults []string
}

// Backend is one backend section.
type Backend struct {
	Name    string
	Balance string   // roundrobin by default
	Lines   []string // extra lines, e.g. "option httpchk GET /health"
	Servers []Server
}

// Server is one server line: "server <Name> <Addr> <Params>".
type Server struct {
	Name   string
	Addr   string
	Params string // e.g. "check inter 500 rise 2 fall 3"
}

// HAProxy is a running HAProxy.
type HAProxy struct {
	// Socket is the stats socket (at Config.SocketLevel).
	Socket string
	// AdminSocket is an admin-level stats socket, for test assertions; it
	// equals Socket when SocketLevel is admin.
	AdminSocket string
	// MasterSocket is the master CLI when Config.MasterWorker is set.
	MasterSocket string
	// ConfigPath is the generated haproxy.cfg.
	ConfigPath string

	frontends map[string]string
	order     []string
	cmd       *exec.Cmd
	stderr    *syncbuf.Buffer
	done      chan struct{}
	stopOnce  sync.Once
}

// Start starts HAProxy and waits until its socket answers. It skips the test
// when HAProxy is not installed.
func Start(t testing.TB, c Config) *HAProxy {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("HAProxy not installed at %s (set ZDT_HAPROXY): %v", Binary, err)
	}
	dir := shortTempDir(t)
	h := &HAProxy{
		Socket:     filepath.Join(dir, "admin.sock"),
		ConfigPath: filepath.Join(dir, "haproxy.cfg"),
		frontends:  map[string]string{},
		stderr:     &syncbuf.Buffer{},
		done:       make(chan struct{}),
	}
	level := c.SocketLevel
	if level == "" {
		level = "admin"
	}
	h.AdminSocket = h.Socket
	if level != "admin" {
		h.Socket = filepath.Join(dir, level+".sock")
		h.AdminSocket = filepath.Join(dir, "admin-for-tests.sock")
	}

	// Frontends bind inherited listeners (bind fd@N), so the port is known
	// before HAProxy starts and nothing can take it in between.
	var files []*os.File
	for i, b := range c.Backends {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen for frontend %s: %v", b.Name, err)
		}
		f, err := l.(*net.TCPListener).File()
		l.Close()
		if err != nil {
			t.Fatalf("listener file: %v", err)
		}
		files = append(files, f)
		h.frontends[b.Name] = l.Addr().String()
		h.order = append(h.order, b.Name)
		_ = i
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()

	mode := c.Mode
	if mode == "" {
		mode = "http"
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global\n")
	fmt.Fprintf(&cfg, "    stats socket %s mode 600 level %s\n", h.Socket, level)
	if h.AdminSocket != h.Socket {
		fmt.Fprintf(&cfg, "    stats socket %s mode 600 level admin\n", h.AdminSocket)
	}
	for _, l := range c.Global {
		fmt.Fprintf(&cfg, "    %s\n", l)
	}
	fmt.Fprintf(&cfg, "defaults\n    mode %s\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n", mode)
	for _, l := range c.Defaults {
		fmt.Fprintf(&cfg, "    %s\n", l)
	}
	for i, b := range c.Backends {
		fmt.Fprintf(&cfg, "frontend fe_%s\n    bind fd@%d\n    default_backend %s\n", b.Name, 3+i, b.Name)
		balance := b.Balance
		if balance == "" {
			balance = "roundrobin"
		}
		fmt.Fprintf(&cfg, "backend %s\n    balance %s\n", b.Name, balance)
		for _, l := range b.Lines {
			fmt.Fprintf(&cfg, "    %s\n", l)
		}
		for _, s := range b.Servers {
			fmt.Fprintf(&cfg, "    server %s %s %s\n", s.Name, s.Addr, s.Params)
		}
	}
	if err := os.WriteFile(h.ConfigPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	args := []string{"-f", h.ConfigPath, "-db"}
	if c.MasterWorker {
		h.MasterSocket = filepath.Join(dir, "master.sock")
		args = append([]string{"-W", "-S", h.MasterSocket}, args...)
	}
	h.cmd = exec.Command(Binary, args...)
	h.cmd.ExtraFiles = files
	h.cmd.Stdout = h.stderr
	h.cmd.Stderr = h.stderr
	setPdeathsig(h.cmd)
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	go func() {
		h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(h.Stop)

	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := h.command(h.AdminSocket, "show info")
		if err == nil && strings.Contains(out, "Version:") && (!c.MasterWorker || h.masterReady()) {
			break
		}
		select {
		case <-h.done:
			t.Fatalf("haproxy exited at start: %s\nconfig:\n%s", h.stderr.String(), cfg.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not answer on %s within 10s (last error %v): %s", h.AdminSocket, err, h.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h
}

func (h *HAProxy) masterReady() bool {
	out, err := h.command(h.MasterSocket, "@1 show info;quit")
	return err == nil && strings.Contains(out, "Version:")
}

// Addr is the address of the frontend in front of backend.
func (h *HAProxy) Addr(backend string) string { return h.frontends[backend] }

// Frontend is the address of the first backend's frontend.
func (h *HAProxy) Frontend() string {
	if len(h.order) == 0 {
		return ""
	}
	return h.frontends[h.order[0]]
}

// Log is what HAProxy wrote to stdout and stderr so far.
func (h *HAProxy) Log() string { return h.stderr.String() }

// Stop stops HAProxy (SIGTERM, then SIGKILL after 3 s) and waits for it.
func (h *HAProxy) Stop() {
	h.stopOnce.Do(func() {
		if h.cmd == nil || h.cmd.Process == nil {
			return
		}
		h.cmd.Process.Signal(os.Interrupt)
		select {
		case <-h.done:
		case <-time.After(3 * time.Second):
			h.cmd.Process.Kill()
			<-h.done
		}
	})
}

// Command sends a command line to the admin socket and returns the answer;
// it fails the test on a socket error.
func (h *HAProxy) Command(t testing.TB, line string) string {
	t.Helper()
	out, err := h.command(h.AdminSocket, line)
	if err != nil {
		t.Fatalf("haproxy command %q: %v", line, err)
	}
	return out
}

// MasterReloads is how often the master (Config.MasterWorker) has reloaded,
// from "show proc". A reload re-executes the master, so it asks until the
// master answers, for up to 10 s.
func (h *HAProxy) MasterReloads(t testing.TB) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := h.command(h.MasterSocket, "show proc;quit")
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); err == nil && len(f) > 2 && f[1] == "master" {
				n, err := strconv.Atoi(f[2])
				if err != nil {
					t.Fatalf("master CLI: no reload count in show proc: %q", out)
				}
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("master CLI: no answer to show proc within 10s (last error %v, answer %q)", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *HAProxy) command(path, line string) (string, error) {
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	return strings.TrimSpace(string(b)), err
}

// ServerStat is one server's row of "show stat", by column name.
func (h *HAProxy) ServerStat(t testing.TB, backend, server string) map[string]string {
	t.Helper()
	row, err := statRow(h.Command(t, "show stat "+backend+" 4 -1"), backend, server)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// ServerStatus is one server's status in "show stat" (UP, MAINT, DRAIN,
// DOWN, "UP 1/3"...). It takes no testing.TB, so a goroutine can watch.
func (h *HAProxy) ServerStatus(backend, server string) (string, error) {
	out, err := h.command(h.AdminSocket, "show stat "+backend+" 4 -1")
	if err != nil {
		return "", err
	}
	row, err := statRow(out, backend, server)
	return row["status"], err
}

// statRow finds server's row in the answer to "show stat".
func statRow(out, backend, server string) (map[string]string, error) {
	lines := strings.Split(out, "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "# ") {
		return nil, fmt.Errorf("show stat %s: %q", backend, out)
	}
	header := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) > 1 && f[1] == server {
			row := map[string]string{}
			for i, name := range header {
				if i < len(f) {
					row[name] = f[i]
				}
			}
			return row, nil
		}
	}
	return nil, fmt.Errorf("no server %s/%s in show stat: %q", backend, server, out)
}

// shortTempDir is t.TempDir unless its path is too long for a unix socket
// (108 bytes on Linux), then a short directory under the system temp dir.
func shortTempDir(t testing.TB) string {
	dir := t.TempDir()
	if len(dir) < 80 {
		return dir
	}
	dir, err := os.MkdirTemp("", "hap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
