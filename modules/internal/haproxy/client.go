// Package haproxy talks to HAProxy's runtime API (the stats socket, or the
// master CLI of a master-worker process) for what drain and maintenance
// modules need: server states, session counts, and the set/enable/shutdown
// commands.
//
// Commands travel as text. On a stats socket they go through client-native's
// runtime.ExecuteRaw; its typed readers are not used because they have traps
// documented in the shared runtime-API reference: GetServersState parses the
// decimal srv_admin_state as hexadecimal (an inherited drain, 16, reads as
// maint), and every typed call needs the raw error text anyway to tell a
// socket below admin level ("Permission denied") from a missing server. On a
// master socket client-native prefixes "set severity-output number;" to the
// master, which answers "Unknown command" and makes failed commands look
// successful, so the master CLI is spoken directly here ("@1 cmd;quit").
package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/haproxytech/client-native/v5/runtime"
	"github.com/haproxytech/client-native/v5/runtime/options"
)

// MasterMode says whether the socket is a master CLI.
type MasterMode int

// Master modes.
const (
	MasterAuto MasterMode = iota // detect from the answer to "show info"
	MasterOff                    // a stats socket of the worker
	MasterOn                     // the master CLI (haproxy -W -S path)
)

// Client sends runtime API commands to one HAProxy.
type Client struct {
	path    string
	master  bool
	worker  string
	timeout time.Duration
	mode    MasterMode
	exec    func(ctx context.Context, line string) (string, error)
	info    *Info
}

// Option configures a Client.
type Option func(*Client)

// WithMaster sets whether path is a master CLI socket; MasterAuto by default.
func WithMaster(m MasterMode) Option { return func(c *Client) { c.mode = m } }

// WithWorker selects the worker a master CLI routes commands to: "1" (the
// current worker, the default) or "!<pid>".
func WithWorker(w string) Option { return func(c *Client) { c.worker = w } }

// WithCommandTimeout bounds one command's round trip (5 s by default).
func WithCommandTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// Dial checks that path is a reachable runtime API socket, reads "show info"
// and returns a client. Errors are *SocketError with advice for the user.
func Dial(ctx context.Context, path string, opts ...Option) (*Client, error) {
	c := &Client{path: path, worker: "1", timeout: 5 * time.Second}
	for _, o := range opts {
		o(c)
	}
	if err := checkSocketFile(path); err != nil {
		return nil, err
	}
	// The first command always goes out raw with ";quit": sent through
	// client-native to a master CLI, it would hang for client-native's 30 s
	// deadline, because the master keeps the connection open without quit.
	if c.mode == MasterOn {
		c.useMaster()
	} else {
		c.exec = func(ctx context.Context, line string) (string, error) { return c.raw(ctx, line+";quit\n") }
	}
	info, err := c.Info(ctx)
	if c.mode == MasterAuto && isMasterHelp(err) {
		// The master CLI knows no "show info": route through it instead.
		c.useMaster()
		info, err = c.Info(ctx)
	} else if c.mode == MasterOff && isMasterHelp(err) {
		return nil, &SocketError{Path: path, Err: errors.New("this is a master CLI socket, not a stats socket"), Advice: "set master_socket: true (or leave it unset to detect it)"}
	}
	if err != nil {
		return nil, err
	}
	if !c.master {
		if err := c.useStats(ctx); err != nil {
			return nil, err
		}
	}
	c.info = &info
	return c, nil
}

// Master reports whether commands go through a master CLI.
func (c *Client) Master() bool { return c.master }

// Path is the socket path.
func (c *Client) Path() string { return c.path }

func checkSocketFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &SocketError{Path: path, Err: err, Advice: "is HAProxy running, and does its global section have `stats socket " + path + " level admin`? Set socket to the path it uses"}
	case errors.Is(err, fs.ErrPermission):
		return &SocketError{Path: path, Err: err, Advice: permissionAdvice}
	case err != nil:
		return &SocketError{Path: path, Err: err}
	case fi.Mode()&fs.ModeSocket == 0:
		return &SocketError{Path: path, Err: errors.New("not a unix socket"), Advice: "set socket to the path of a `stats socket` line in haproxy.cfg"}
	}
	return nil
}

const permissionAdvice = "run the task with become: true, or give the socket a group the user is in (`stats socket ... mode 660 group haproxy level admin`)"

// useStats sends commands through client-native on a worker's stats socket.
func (c *Client) useStats(ctx context.Context) error {
	// DoNotCheckRuntimeOnInit: the probe ("help") would cost a round trip;
	// Dial reads "show info" next anyway and classifies its errors.
	rt, err := runtime.New(ctx, options.Socket(c.path), options.DoNotCheckRuntimeOnInit)
	if err != nil {
		return classifyDialError(c.path, err)
	}
	c.master = false
	c.exec = func(ctx context.Context, line string) (string, error) {
		// ExecuteRaw takes no context and has its own 30 s deadline; the
		// module must still honour its own, so the call runs aside.
		type answer struct {
			out []string
			err error
		}
		ch := make(chan answer, 1)
		go func() {
			out, err := rt.ExecuteRaw(line)
			ch <- answer{out, err}
		}()
		select {
		case a := <-ch:
			if a.err != nil {
				return "", classifyDialError(c.path, a.err)
			}
			if len(a.out) == 0 {
				return "", nil
			}
			return a.out[0], nil
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	}
	return nil
}

// useMaster speaks the master CLI directly: every command is routed to the
// worker with "@<worker> " and the line ends with ";quit" because on 2.6 the
// master keeps the connection open after a command.
func (c *Client) useMaster() {
	c.master = true
	c.exec = func(ctx context.Context, line string) (string, error) {
		var routed []string
		for _, cmd := range strings.Split(line, ";") {
			routed = append(routed, "@"+c.worker+" "+strings.TrimSpace(cmd))
		}
		return c.raw(ctx, strings.Join(routed, "; ")+";quit\n")
	}
}

// raw writes line to the socket and reads the answer until HAProxy closes.
func (c *Client) raw(ctx context.Context, line string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		return "", classifyDialError(c.path, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, line); err != nil {
		return "", &SocketError{Path: c.path, Err: err}
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("no complete answer from %s: %w", c.path, context.Cause(ctx))
		}
		return "", &SocketError{Path: c.path, Err: err}
	}
	return strings.TrimSpace(string(b)), nil
}

func classifyDialError(path string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return &SocketError{Path: path, Err: err, Advice: "is HAProxy running? Set socket to the path of its `stats socket`"}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return &SocketError{Path: path, Err: err, Advice: permissionAdvice}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &SocketError{Path: path, Err: err, Advice: "nothing listens on it: HAProxy is stopped or the file is left over from an old process"}
	}
	return &SocketError{Path: path, Err: err}
}

// Exec sends one command (or several joined with ";") and returns HAProxy's
// answer. A answer that is an error message becomes a *CommandError.
func (c *Client) Exec(ctx context.Context, cmd string) (string, error) {
	out, err := c.exec(ctx, cmd)
	if err != nil {
		return "", err
	}
	out = stripSeverity(out)
	if kind := classifyAnswer(out); kind != nil {
		return out, &CommandError{Command: cmd, Answer: firstLine(out), Kind: kind, Socket: c.path, Version: c.version(),
			master: kind == ErrUnknownCommand && (strings.Contains(out, "@!<pid>") || strings.Contains(out, "show proc"))}
	}
	return out, nil
}

// run sends a command whose success is an empty answer; any text is an error.
func (c *Client) run(ctx context.Context, cmd string) error {
	out, err := c.Exec(ctx, cmd)
	if err != nil {
		return err
	}
	if out != "" {
		return &CommandError{Command: cmd, Answer: firstLine(out), Socket: c.path, Version: c.version()}
	}
	return nil
}

func (c *Client) version() string {
	if c.info == nil {
		return ""
	}
	return c.info.Version.String()
}

// stripSeverity removes the "[3]: " prefixes that "set severity-output number"
// adds, so both socket kinds give the same text.
func stripSeverity(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if len(l) >= 5 && l[0] == '[' && l[1] >= '0' && l[1] <= '7' && l[2] == ']' && l[3] == ':' {
			lines[i] = strings.TrimSpace(l[4:])
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(l)
}

func isMasterHelp(err error) bool {
	var ce *CommandError
	return errors.As(err, &ce) && ce.master
}
