package rollout

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// HAProxyBackend is the backend the harness puts the app hosts in.
const HAProxyBackend = "app"

// HAProxy is a running HAProxy with one HTTP frontend on 127.0.0.1 and the
// backend "app" holding one server per host, health-checked on /healthz.
// Unlike haproxytest.Start it does not need a testing.T, so make demo can
// use it.
type HAProxy struct {
	// Frontend is host:port of the frontend.
	Frontend string
	// Socket is the admin-level stats socket.
	Socket string
	// ConfigPath is the generated haproxy.cfg.
	ConfigPath string

	proc *haproxytest.Proc
}

// haproxyConfig is the configuration text for hosts; the frontend binds the
// inherited listener fd 3.
func haproxyConfig(socket string, hosts []Host) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n    stats socket %s mode 600 level admin\n    stats timeout 30s\n", socket)
	// Defaults as a production config would have them: the proof must not
	// lean on retries to hide failures, and the naive rollout must show them.
	b.WriteString(`defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    retries 3
frontend fe
    bind fd@3
    default_backend ` + HAProxyBackend + `
backend ` + HAProxyBackend + `
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server check inter 200 fall 2 rise 2
`)
	for _, h := range hosts {
		fmt.Fprintf(&b, "    server %s %s\n", h.Name, h.Addr)
	}
	return b.String()
}

// StartHAProxy writes a config for hosts into dir and starts HAProxy in the
// foreground; it returns once the stats socket answers. dir's path must be
// short enough for a unix socket (about 100 bytes).
func StartHAProxy(ctx context.Context, dir string, hosts []Host) (*HAProxy, error) {
	if _, err := os.Stat(haproxytest.Binary); err != nil {
		return nil, fmt.Errorf("HAProxy not found at %s (install haproxy or set ZDT_HAPROXY): %w", haproxytest.Binary, err)
	}
	h := &HAProxy{
		Socket:     filepath.Join(dir, "admin.sock"),
		ConfigPath: filepath.Join(dir, "haproxy.cfg"),
	}
	if len(h.Socket) > 100 {
		return nil, fmt.Errorf("HAProxy socket path %s is too long for a unix socket; use a shorter temp dir (TMPDIR)", h.Socket)
	}
	addr, f, err := haproxytest.Listener()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h.Frontend = addr
	cfg := haproxyConfig(h.Socket, hosts)
	if h.proc, err = haproxytest.Launch(ctx, h.ConfigPath, cfg, nil, []*os.File{f}, haproxytest.Answers(h.Socket)); err != nil {
		return nil, err
	}
	return h, nil
}

// Log is what HAProxy wrote so far (server state changes, alerts).
func (h *HAProxy) Log() string { return h.proc.Log() }

// Pid is HAProxy's process id.
func (h *HAProxy) Pid() int { return h.proc.Pid() }

// Stop stops HAProxy (SIGTERM, SIGKILL after 3s) and waits for it.
func (h *HAProxy) Stop() { h.proc.Stop() }

// Command sends one command line to the stats socket and returns the answer.
func (h *HAProxy) Command(line string) (string, error) { return haproxytest.Command(h.Socket, line) }

// ServerState is one server's row of "show servers state".
type ServerState struct {
	Name string
	// Op is srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping.
	Op int
	// Admin is srv_admin_state, a bit field (maint and drain flags).
	Admin int
	// Weight is srv_uweight.
	Weight int
}

// Admin state flags of "show servers state" (HAProxy's SRV_ADMF_*).
const (
	adminForcedMaint   = 0x01
	adminInheritMaint  = 0x02
	adminConfigMaint   = 0x04
	adminForcedDrain   = 0x08
	adminInheritDrain  = 0x10
	adminResolverMaint = 0x20
	adminHostnameMaint = 0x40
)

// String is "maint", "drain", "up", "down", "starting" or "stopping".
func (s ServerState) String() string {
	switch {
	case s.Admin&(adminForcedMaint|adminInheritMaint|adminConfigMaint|adminResolverMaint|adminHostnameMaint) != 0:
		return "maint"
	case s.Admin&(adminForcedDrain|adminInheritDrain) != 0:
		return "drain"
	case s.Op == 2 && s.Weight == 0:
		return "drain" // weight 0 is how older tools drain
	case s.Op == 2:
		return "up"
	case s.Op == 1:
		return "starting"
	case s.Op == 3:
		return "stopping"
	default:
		return "down"
	}
}

// InRotation reports whether HAProxy sends new requests to the server.
func (s ServerState) InRotation() bool { return s.String() == "up" }

// ServersState reads "show servers state" for the backend, by server name.
func (h *HAProxy) ServersState() (map[string]ServerState, error) {
	out, err := h.Command("show servers state " + HAProxyBackend)
	if err != nil {
		return nil, err
	}
	return parseServersState(out)
}

// parseServersState reads the answer of "show servers state": a version
// line, a "# " header naming the columns, then one row per server.
func parseServersState(out string) (map[string]ServerState, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "# ") {
		return nil, fmt.Errorf("unexpected answer to show servers state: %q", out)
	}
	col := map[string]int{}
	for i, name := range strings.Fields(strings.TrimPrefix(lines[1], "# ")) {
		col[name] = i
	}
	for _, c := range []string{"srv_name", "srv_op_state", "srv_admin_state", "srv_uweight"} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("show servers state has no column %s: %q", c, lines[1])
		}
	}
	states := map[string]ServerState{}
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) < len(col) {
			continue
		}
		num := func(c string) int { n, _ := strconv.Atoi(f[col[c]]); return n }
		s := ServerState{Name: f[col["srv_name"]], Op: num("srv_op_state"), Admin: num("srv_admin_state"), Weight: num("srv_uweight")}
		states[s.Name] = s
	}
	return states, nil
}
