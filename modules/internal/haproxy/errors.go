package haproxy

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Kinds of command failure, for errors.Is.
var (
	ErrPermission     = errors.New("permission denied by the runtime API")
	ErrNoBackend      = errors.New("no such backend")
	ErrNoServer       = errors.New("no such server")
	ErrUnknownCommand = errors.New("unknown command")
	ErrTooOld         = errors.New("HAProxy version too old")
)

// SocketError is a failure to reach the runtime API socket.
type SocketError struct {
	Path   string
	Err    error
	Advice string
}

func (e *SocketError) Error() string {
	msg := fmt.Sprintf("cannot use the HAProxy socket %s: %v", e.Path, unwrapOp(e.Err))
	if e.Advice != "" {
		msg += "; " + e.Advice
	}
	return msg
}

func (e *SocketError) Unwrap() error { return e.Err }

// unwrapOp drops net.OpError's "dial unix /path:" prefix, which repeats the path.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}

// CommandError is HAProxy's answer to a command it refused.
type CommandError struct {
	Command string
	Answer  string // HAProxy's message, e.g. "No such server."
	Kind    error  // one of the Err* kinds, or nil
	Socket  string
	Version string

	master bool // the answer is the master CLI's help
}

func (e *CommandError) Error() string {
	switch e.Kind {
	case ErrPermission:
		return fmt.Sprintf("HAProxy refused %q on %s: %s. The socket is below admin level: declare it as `stats socket %s level admin` (user and operator levels cannot change servers)",
			e.Command, e.Socket, e.Answer, e.Socket)
	case ErrUnknownCommand:
		v := ""
		if e.Version != "" {
			v = " " + e.Version
		}
		return fmt.Sprintf("HAProxy%s does not know the command %q (answer: %s)", v, e.Command, e.Answer)
	}
	return fmt.Sprintf("HAProxy refused %q: %s", e.Command, e.Answer)
}

func (e *CommandError) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// classifyAnswer returns the kind of error an answer reports, nil when it is
// not a known error message.
func classifyAnswer(out string) error {
	l := firstLine(out)
	switch {
	case strings.HasPrefix(l, "Permission denied"):
		return ErrPermission
	case l == "No such backend." || l == "Can't find backend." || l == "No such proxy.":
		return ErrNoBackend
	case l == "No such server.":
		return ErrNoServer
	case strings.HasPrefix(l, "Unknown command"):
		return ErrUnknownCommand
	}
	return nil
}

// VersionError says the HAProxy in front of the socket lacks a command.
type VersionError struct {
	Have    Version
	Need    Version
	Feature string
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("HAProxy %s is too old: %s needs %d.%d or later (from `show info`)", e.Have, e.Feature, e.Need.Major, e.Need.Minor)
}

func (e *VersionError) Unwrap() error { return ErrTooOld }
