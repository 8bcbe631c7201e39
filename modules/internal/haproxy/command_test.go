package haproxy

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// recorder is a Client on a stats socket whose commands are recorded
// instead of sent; every command succeeds with an empty answer.
func recorder() (*Client, *[]string) {
	var sent []string
	c := &Client{path: "/test.sock", worker: "1", exec: func(_ context.Context, cmd string) (string, error) {
		sent = append(sent, cmd)
		return "", nil
	}}
	return c, &sent
}

// nameOps are the commands built from a backend and a server name, each
// with the command it must send.
func nameOps(backend, server string) []struct {
	want string
	call func(ctx context.Context, c *Client) error
} {
	bs := backend + "/" + server
	return []struct {
		want string
		call func(ctx context.Context, c *Client) error
	}{
		{"set server " + bs + " state maint", func(ctx context.Context, c *Client) error { return c.SetState(ctx, backend, server, StateMaint) }},
		{"set server " + bs + " weight 0%", func(ctx context.Context, c *Client) error { return c.SetWeight(ctx, backend, server, "0%") }},
		{"set server " + bs + " health down", func(ctx context.Context, c *Client) error { return c.SetHealth(ctx, backend, server, "down") }},
		{"disable health " + bs, func(ctx context.Context, c *Client) error { return c.EnableHealth(ctx, backend, server, false) }},
		{"enable agent " + bs, func(ctx context.Context, c *Client) error { return c.EnableAgent(ctx, backend, server, true) }},
		{"shutdown sessions server " + bs, func(ctx context.Context, c *Client) error { return c.ShutdownSessions(ctx, backend, server) }},
		{"show servers state " + backend, func(ctx context.Context, c *Client) error {
			_, err := c.ServersState(ctx, backend)
			return err
		}},
	}
}

// hasUnsafe reports a byte that would end or split a runtime API command.
func hasUnsafe(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r == ';' || r == '\\' || r < 0x20 || r == 0x7f })
}

func TestNamesRefused(t *testing.T) {
	for _, tc := range []struct{ name, backend, server, field string }{
		{"semicolon in backend", "web;set server other/o1 state maint", "s1", "backend"},
		{"newline in backend", "web\nreload", "s1", "backend"},
		{"carriage return in backend", "web\rset server other/o1 state maint", "s1", "backend"},
		{"NUL in backend", "web\x00", "s1", "backend"},
		{"space in backend", "web set", "s1", "backend"},
		{"slash in backend", "other/o1", "s1", "backend"},
		{"non-ASCII backend", "wéb", "s1", "backend"},
		{"semicolon in server", "web", "s1;set server other/o1 state maint", "server"},
		{"tab in server", "web", "s1\tx", "server"},
		{"empty server", "web", "", "server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range nameOps(tc.backend, tc.server) {
				if tc.field == "server" && strings.HasPrefix(op.want, "show servers state") {
					continue
				}
				c, sent := recorder()
				err := op.call(context.Background(), c)
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s %q", tc.field, map[string]string{"backend": tc.backend, "server": tc.server}[tc.field])) {
					t.Errorf("%q: error %v, want one naming the %s", op.want, err, tc.field)
				}
				if len(*sent) > 0 {
					t.Errorf("%q: sent %q", op.want, *sent)
				}
			}
		})
	}
}

func TestNamesAccepted(t *testing.T) {
	for _, op := range nameOps("be_1.x-y:z", "Srv-2_a.b:c") {
		c, sent := recorder()
		if err := op.call(context.Background(), c); err != nil {
			t.Errorf("%q: %v", op.want, err)
		}
		if len(*sent) != 1 || (*sent)[0] != op.want {
			t.Errorf("sent %q, want %q", *sent, op.want)
		}
	}
	// No backend reads every backend.
	c, sent := recorder()
	if _, err := c.ServersState(context.Background(), ""); err != nil || len(*sent) != 1 || (*sent)[0] != "show servers state" {
		t.Errorf("all backends: sent %q, error %v", *sent, err)
	}
}

func TestExecRefusesUnsafeCommands(t *testing.T) {
	for _, cmd := range []string{
		"show servers state web;set server other/o1 state maint",
		"show servers state web\nreload",
		"show info\r",
		"show info\x00",
		"show info\x1b[2J",
		"show info\x7f",
		`set server web/s1 state maint\;x`,
		"",
	} {
		c, sent := recorder()
		_, err := c.Exec(context.Background(), cmd)
		if err == nil || !strings.Contains(err.Error(), "internal error") {
			t.Errorf("%q: error %v, want an internal error", cmd, err)
		}
		if len(*sent) > 0 {
			t.Errorf("%q: sent %q", cmd, *sent)
		}
	}
}

func TestWorkerRefused(t *testing.T) {
	f := haproxytest.Fake(t, map[string]string{"@1 show info": info26, "@!4242 show info": info26})
	for _, w := range []string{"1;reload", "1\nreload", "1 show info;reload", "+1", "!", "!-1", "master", "0", ""} {
		_, err := Dial(context.Background(), f.Path, WithMaster(MasterOn), WithWorker(w))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("worker %q", w)) {
			t.Errorf("worker %q: error %v, want one naming the worker", w, err)
		}
		if sent := f.Commands(); len(sent) > 0 {
			t.Fatalf("worker %q: sent %q", w, sent)
		}
	}
	for i, w := range []string{"1", "!4242"} {
		if _, err := Dial(context.Background(), f.Path, WithMaster(MasterOn), WithWorker(w)); err != nil {
			t.Errorf("worker %q: %v", w, err)
		}
		if sent := f.Commands(); len(sent) != i+1 || sent[i] != "@"+w+" show info" {
			t.Errorf("worker %q: sent %q", w, sent)
		}
	}
}

func TestAnswerSizeBounded(t *testing.T) {
	// Something on the socket that never stops talking: the read must end
	// at the size limit, well before the command's deadline would.
	dir, err := os.MkdirTemp("", "zdt-flood-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "flood.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		block := []byte(strings.Repeat("x", 4096))
		for {
			if _, err := conn.Write(block); err != nil {
				return
			}
		}
	}()
	c := &Client{path: path, worker: "1", timeout: 10 * time.Second, maxAnswer: 64 << 10}
	c.exec = c.send
	_, err = c.Exec(context.Background(), "show info")
	if err == nil || !strings.Contains(err.Error(), "is larger than 65536 bytes") {
		t.Fatalf("error %v, want the answer refused as too large", err)
	}
}

// FuzzCommandNames fuzzes the names that reach runtime commands: each
// command either is refused with an error naming the backend or the
// server, sending nothing, or sends exactly the intended command, which
// holds nothing that could end it or start another.
func FuzzCommandNames(f *testing.F) {
	f.Add("www", "web1")
	f.Add("web;set server other/o1 state maint", "s1")
	f.Add("web\nreload", "s1")
	f.Add("web", "s1;shutdown sessions server other/o1")
	f.Add("be_1.x-y:z", "Srv-2_a.b:c")
	f.Add("", "")
	f.Add("web\\", "s1")
	f.Add("wéb", "s\x00")
	f.Fuzz(func(t *testing.T, backend, server string) {
		for _, op := range nameOps(backend, server) {
			c, sent := recorder()
			err := op.call(context.Background(), c)
			if err != nil {
				checkErr(t, op.want, err)
				if !strings.Contains(err.Error(), "backend") && !strings.Contains(err.Error(), "server") {
					t.Fatalf("%q: error %v names neither the backend nor the server", op.want, err)
				}
				if len(*sent) > 0 {
					t.Fatalf("%q refused with %v but sent %q", op.want, err, *sent)
				}
				continue
			}
			want := strings.TrimSpace(op.want) // no backend: show servers state
			if len(*sent) != 1 || (*sent)[0] != want {
				t.Fatalf("sent %q, want exactly %q", *sent, want)
			}
			if hasUnsafe((*sent)[0]) {
				t.Fatalf("sent an unsafe command %q", (*sent)[0])
			}
		}
	})
}

// FuzzCommandGuard fuzzes the last check before a command is sent: a
// command is sent as given, alone, or not at all.
func FuzzCommandGuard(f *testing.F) {
	f.Add("show info")
	f.Add("show servers state web;set server other/o1 state maint")
	f.Add("show servers state web\nreload")
	f.Add("show info\r")
	f.Add(`show info\;reload`)
	f.Add("")
	f.Fuzz(func(t *testing.T, cmd string) {
		c, sent := recorder()
		_, err := c.Exec(context.Background(), cmd)
		if err != nil {
			checkErr(t, "Exec", err)
			if len(*sent) > 0 {
				t.Fatalf("refused with %v but sent %q", err, *sent)
			}
			return
		}
		if len(*sent) != 1 || (*sent)[0] != cmd || hasUnsafe(cmd) || cmd == "" {
			t.Fatalf("Exec(%q) sent %q", cmd, *sent)
		}
	})
}
