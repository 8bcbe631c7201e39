// Package haproxytest starts a real HAProxy (/usr/sbin/haproxy) for tests, on
// 127.0.0.1 with a unix admin socket in a temporary directory, and small HTTP
// applications to put behind it. Everything stops in t.Cleanup.
package haproxytest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
	proc      *Proc
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

	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, b := range c.Backends {
		addr, f, err := Listener()
		if err != nil {
			t.Fatalf("frontend %s: %v", b.Name, err)
		}
		files = append(files, f)
		h.frontends[b.Name] = addr
		h.order = append(h.order, b.Name)
	}

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

	var args []string
	ready := Answers(h.AdminSocket)
	if c.MasterWorker {
		h.MasterSocket = filepath.Join(dir, "master.sock")
		args = []string{"-W", "-S", h.MasterSocket}
		admin := ready
		ready = func() error {
			if err := admin(); err != nil {
				return err
			}
			return h.masterReady()
		}
	}
	p, err := Launch(context.Background(), h.ConfigPath, cfg.String(), args, files, ready)
	if err != nil {
		t.Fatal(err)
	}
	h.proc = p
	t.Cleanup(h.Stop)
	return h
}

func (h *HAProxy) masterReady() error {
	out, err := Command(h.MasterSocket, "@1 show info;quit")
	if err == nil && !strings.Contains(out, "Version:") {
		err = fmt.Errorf("master CLI show info: %q", out)
	}
	return err
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
func (h *HAProxy) Log() string { return h.proc.Log() }

// Stop stops HAProxy (SIGTERM, then SIGKILL after 3 s) and waits for it.
func (h *HAProxy) Stop() { h.proc.Stop() }

// Command sends a command line to the admin socket and returns the answer;
// it fails the test on a socket error.
func (h *HAProxy) Command(t testing.TB, line string) string {
	t.Helper()
	out, err := Command(h.AdminSocket, line)
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
		out, err := Command(h.MasterSocket, "show proc;quit")
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
	out, err := Command(h.AdminSocket, "show stat "+backend+" 4 -1")
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
