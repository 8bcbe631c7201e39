package haproxytest

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// FakeSocket is a runtime API socket answering canned text, for error paths
// that a real HAProxy cannot easily produce (an old version, odd answers).
type FakeSocket struct {
	Path string

	mu       sync.Mutex
	commands []string
}

// Fake listens on a unix socket in a temporary directory. answers maps a
// command (without a "set severity-output number;" prefix and
// without ";quit") to the text sent back; an unknown command gets HAProxy's
// "Unknown command" answer. Each connection gets one answer, then closes, as
// on a stats socket.
func Fake(t testing.TB, answers map[string]string) *FakeSocket {
	t.Helper()
	f := &FakeSocket{Path: filepath.Join(shortTempDir(t), "fake.sock")}
	l, err := net.Listen("unix", f.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go f.serve(conn, answers)
		}
	}()
	return f
}

func (f *FakeSocket) serve(conn net.Conn, answers map[string]string) {
	defer conn.Close()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && line == "" {
		return
	}
	var out strings.Builder
	for _, cmd := range strings.Split(strings.TrimSpace(line), ";") {
		cmd = strings.TrimSpace(cmd)
		if cmd == "" || cmd == "quit" || cmd == "set severity-output number" {
			continue
		}
		f.mu.Lock()
		f.commands = append(f.commands, cmd)
		f.mu.Unlock()
		a, ok := answers[cmd]
		if !ok {
			a = "Unknown command, but maybe one of the following ones is a better match:\n  help [<command>]  : list matching or all commands\n"
		}
		out.WriteString(a)
		if !strings.HasSuffix(a, "\n") {
			out.WriteString("\n")
		}
		out.WriteString("\n")
	}
	conn.Write([]byte(out.String()))
}

// Commands are the commands received so far, in order.
func (f *FakeSocket) Commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}
