package haproxy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnsafeCommand marks a command refused before it was sent: a bug in
// the caller, since names are checked before commands are built.
var ErrUnsafeCommand = errors.New("internal error: unsafe runtime API command")

// nameChars describes HAProxy's name characters (invalid_char() in its
// tools.c), which it enforces on proxy and server names in haproxy.cfg.
const nameChars = `only letters, digits and "-_.:" are allowed`

// CheckName checks that name could be a proxy or server name in
// haproxy.cfg. Such a name cannot end a runtime API command or start
// another one, nor split "<backend>/<server>".
func CheckName(name string) error {
	if name == "" {
		return errors.New("it is empty")
	}
	for i := 0; i < len(name); i++ {
		if b := name[i]; !isNameChar(b) {
			return fmt.Errorf("%s, not %s at byte %d", nameChars, quoteByte(b), i+1)
		}
	}
	return nil
}

func isNameChar(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.' || b == ':'
}

// quoteByte shows one byte of a name, also the first byte of a multi-byte
// character or a control character, which %q would show as invalid UTF-8.
func quoteByte(b byte) string {
	if b >= 0x20 && b < 0x7f {
		return strconv.QuoteRune(rune(b))
	}
	return fmt.Sprintf("byte 0x%02x", b)
}

// CheckWorker checks a master CLI process selector: a process number
// ("1", the current worker) or "!<pid>". Everything after "@" up to a
// space is the selector, so nothing else may be in it.
func CheckWorker(w string) error {
	n := strings.TrimPrefix(w, "!")
	if n == "" || len(n) > 10 || strings.Trim(n, "0123456789") != "" || strings.TrimLeft(n, "0") == "" {
		return errors.New("it must be a process number such as 1, or !<pid>")
	}
	return nil
}

// checkNames checks the names a "<backend>/<server>" command is built from.
func checkNames(backend, server string) error {
	if err := checkName("backend", backend); err != nil {
		return err
	}
	return checkName("server", server)
}

// checkName is CheckName with the name's kind in the error.
func checkName(kind, name string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("%s %q is not a HAProxy %s name: %w", kind, name, kind, err)
	}
	return nil
}

// checkCommand is the last check before a command is sent: a ";" or a
// line end would end it and start another (the master CLI reads "reload"
// as well as "set server"), a backslash escapes what follows, and other
// control characters have no place in a command.
func checkCommand(cmd string) error {
	if cmd == "" {
		return fmt.Errorf("%w: empty command", ErrUnsafeCommand)
	}
	for i := 0; i < len(cmd); i++ {
		if b := cmd[i]; b == ';' || b == '\\' || b < 0x20 || b == 0x7f {
			return fmt.Errorf("%w: %q holds %s at byte %d; not sent", ErrUnsafeCommand, cmd, quoteByte(b), i+1)
		}
	}
	return nil
}
