// Package haproxy talks to HAProxy's runtime API (the stats socket, or the
// master CLI of a master-worker process) for what drain and maintenance
// modules need: server states, session counts, and the set/enable/shutdown
// commands.
//
// Commands travel as text, one per connection, written here as
// "<cmd>;quit\n" (on a master CLI "@<worker> <cmd>;quit\n"). client-native's
// runtime package is not used: its typed readers have traps documented in
// the shared runtime-API reference (GetServersState parses the decimal
// srv_admin_state as hexadecimal, so an inherited drain, 16, reads as
// maint), on a master socket its "set severity-output number;" prefix goes
// to the master, which answers "Unknown command" and makes failed commands
// look successful, and its reader has no size limit, keeps reading for its
// own 30 s after the module's deadline, and returns a cut answer as
// complete.
//
// Text from the user never reaches a command unchecked: backend and server
// names must use HAProxy's name characters, the worker must be a process
// number, and the last check before the socket refuses any command that
// holds a ";", a backslash or a control character, which would end the
// command and start another.
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
	path      string
	master    bool
	worker    string
	timeout   time.Duration
	maxAnswer int64
	mode      MasterMode
	exec      func(ctx context.Context, cmd string) (string, error)
	info      *Info
}

// Option configures a Client.
type Option func(*Client)

// WithMaster sets whether path is a master CLI socket; MasterAuto by default.
func WithMaster(m MasterMode) Option { return func(c *Client) { c.mode = m } }

// WithWorker selects the worker a master CLI routes commands to: "1" (the
// current worker, the default) or "!<pid>". Dial refuses anything else.
func WithWorker(w string) Option { return func(c *Client) { c.worker = w } }

// WithCommandTimeout bounds one command's round trip (5 s by default).
func WithCommandTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// maxAnswer bounds one answer. The largest the modules ask for is "show
// stat" of every server, about 1 KiB a server.
const maxAnswer = 64 << 20

// Dial checks that path is a reachable runtime API socket, reads "show info"
// and returns a client. Errors are *SocketError with advice for the user.
func Dial(ctx context.Context, path string, opts ...Option) (*Client, error) {
	c := &Client{path: path, worker: "1", timeout: 5 * time.Second, maxAnswer: maxAnswer}
	for _, o := range opts {
		o(c)
	}
	if err := CheckWorker(c.worker); err != nil {
		return nil, fmt.Errorf("worker %q: %w", c.worker, err)
	}
	if err := checkSocketFile(path); err != nil {
		return nil, err
	}
	c.master = c.mode == MasterOn
	c.exec = c.send
	info, err := c.Info(ctx)
	if c.mode == MasterAuto && isMasterHelp(err) {
		// The master CLI knows no "show info": route through it instead.
		c.master = true
		info, err = c.Info(ctx)
	} else if c.mode == MasterOff && isMasterHelp(err) {
		return nil, &SocketError{Path: path, Err: errors.New("this is a master CLI socket, not a stats socket"), Advice: "set master_socket: true (or leave it unset to detect it)"}
	}
	if err != nil {
		return nil, err
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

// send writes one command, routed to the worker on a master CLI, and
// ends the line with ";quit": on 2.6 the master keeps the connection open
// after a command.
func (c *Client) send(ctx context.Context, cmd string) (string, error) {
	if c.master {
		cmd = "@" + c.worker + " " + cmd
	}
	return c.raw(ctx, cmd)
}

// raw writes cmd to the socket and reads the answer until HAProxy closes,
// for at most the command timeout and maxAnswer bytes. It is the last
// check before the socket: a command that could carry another is an
// internal error and is not sent.
func (c *Client) raw(ctx context.Context, cmd string) (string, error) {
	if err := checkCommand(cmd); err != nil {
		return "", err
	}
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
	if _, err := io.WriteString(conn, cmd+";quit\n"); err != nil {
		return "", &SocketError{Path: c.path, Err: err}
	}
	b, err := io.ReadAll(io.LimitReader(conn, c.maxAnswer+1))
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("no complete answer from %s: %w", c.path, context.Cause(ctx))
		}
		return "", &SocketError{Path: c.path, Err: err}
	}
	if int64(len(b)) > c.maxAnswer {
		// Not a *SocketError: waiting again would not help.
		return "", fmt.Errorf("the answer to %q from %s is larger than %d bytes; is this HAProxy's runtime API?", cmd, c.path, c.maxAnswer)
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

// Exec sends one command and returns HAProxy's answer. An answer that is an
// error message becomes a *CommandError. A command holding ";", a backslash
// or a control character is refused unsent (see checkCommand).
func (c *Client) Exec(ctx context.Context, cmd string) (string, error) {
	if err := checkCommand(cmd); err != nil {
		return "", err
	}
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
