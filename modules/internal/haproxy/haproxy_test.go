package haproxy

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// Captured from HAProxy 2.6.12 (see the shared runtime-API reference): web1
// UP, web2 check failing, web3 disabled in the configuration, web4 tracking
// web1, web5 drained, web6 tracking a drained server, web7 drained and
// tracking a server in maintenance.
const serversState = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 www 1 web1 127.0.0.1 2 0 100 100 5 15 3 4 6 0 0 0 - 18091 - 0 0 - - 0
3 www 2 web2 127.0.0.1 0 0 50 50 5 8 2 0 6 0 0 0 - 18092 - 0 0 - - 0
3 www 3 web3 127.0.0.1 0 5 1 1 5 1 0 0 8 0 0 0 - 18093 - 0 0 - - 0
3 www 4 web4 127.0.0.1 2 0 1 1 5 1 0 2 0 0 0 0 - 18091 - 0 0 - - 0
3 www 5 web5 127.0.0.1 2 8 1 1 5 1 0 2 14 0 0 0 - 18095 - 0 0 - - 0
3 www 6 web6 127.0.0.1 2 16 1 1 5 1 0 2 0 0 0 0 - 18096 - 0 0 - - 0
3 www 7 web7 127.0.0.1 2 10 1 1 5 1 0 2 2 6 0 0 - 18097 - 0 0 - - 0
`

func TestAnswers(t *testing.T) {
	cases := []struct {
		answer string
		kind   error
		clean  string
	}{
		{"", nil, ""},
		{"[3]: No such server.", ErrNoServer, "No such server."},
		{"No such server.", ErrNoServer, "No such server."},
		{"[3]: No such backend.", ErrNoBackend, "No such backend."},
		{"Can't find backend.", ErrNoBackend, "Can't find backend."},
		{"[3]: Permission denied", ErrPermission, "Permission denied"},
		{"Unknown command, but maybe...\n  help", ErrUnknownCommand, "Unknown command, but maybe...\n  help"},
		{"[3]: Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.", nil, "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'."},
	}
	for _, tc := range cases {
		clean := stripSeverity(tc.answer)
		if clean != tc.clean {
			t.Errorf("stripSeverity(%q) = %q, want %q", tc.answer, clean, tc.clean)
		}
		if kind := classifyAnswer(clean); kind != tc.kind {
			t.Errorf("classifyAnswer(%q) = %v, want %v", clean, kind, tc.kind)
		}
	}
}

const info26 = "Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nRelease_date: 2026/10/17\nPid: 42\n"

func TestDialErrors(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	os.WriteFile(regular, nil, 0o600)
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	cases := []struct {
		name, path string
		want       []string
		is         error
	}{
		{"missing", filepath.Join(dir, "nope.sock"), []string{"no such file or directory", "is HAProxy running", "stats socket"}, fs.ErrNotExist},
		{"not a socket", regular, []string{"not a unix socket"}, nil},
		{"stale", stale, []string{"connection refused", "nothing listens on it"}, syscall.ECONNREFUSED},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Dial(context.Background(), tc.path)
			var se *SocketError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want *SocketError", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// Filesystem permission errors cannot be produced as root; the
// classification is checked on the errors connect(2) returns.
func TestClassifyDialError(t *testing.T) {
	for errno, want := range map[syscall.Errno]string{
		syscall.EACCES:       "become: true",
		syscall.EPERM:        "become: true",
		syscall.ENOENT:       "is HAProxy running",
		syscall.ECONNREFUSED: "nothing listens",
	} {
		err := classifyDialError("/run/haproxy/admin.sock", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", errno)})
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "connect: "+errno.Error()) {
			t.Errorf("%v: %q, want %q", errno, err, want)
		}
	}
}

func TestFakeSocket(t *testing.T) {
	t.Run("old version", func(t *testing.T) {
		f := haproxytest.Fake(t, map[string]string{"show info": "Name: HAProxy\nVersion: 1.5.18\n"})
		c, err := Dial(context.Background(), f.Path)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Require(1, 6, "`set server <backend>/<server> state`")
		if !errors.Is(err, ErrTooOld) || !strings.Contains(err.Error(), "HAProxy 1.5.18 is too old: `set server <backend>/<server> state` needs 1.6 or later") {
			t.Errorf("Require: %v", err)
		}
	})
	t.Run("no version", func(t *testing.T) {
		f := haproxytest.Fake(t, map[string]string{"show info": "Name: HAProxy\n"})
		if _, err := Dial(context.Background(), f.Path); err == nil || !strings.Contains(err.Error(), "no Version line") {
			t.Errorf("Dial: %v", err)
		}
	})
	t.Run("permission", func(t *testing.T) {
		f := haproxytest.Fake(t, map[string]string{"show info": info26, "set server www/web1 state drain": "[3]: Permission denied"})
		c, err := Dial(context.Background(), f.Path)
		if err != nil {
			t.Fatal(err)
		}
		err = c.SetState(context.Background(), "www", "web1", StateDrain)
		if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "level admin") {
			t.Errorf("SetState: %v", err)
		}
	})
	t.Run("unexpected answer to a set", func(t *testing.T) {
		f := haproxytest.Fake(t, map[string]string{"show info": info26, "set server www/web1 weight 300": "Absolute weight can only be between 0 and 256 inclusive."})
		c, err := Dial(context.Background(), f.Path)
		if err != nil {
			t.Fatal(err)
		}
		err = c.SetWeight(context.Background(), "www", "web1", "300")
		var ce *CommandError
		if !errors.As(err, &ce) || ce.Answer != "Absolute weight can only be between 0 and 256 inclusive." {
			t.Errorf("SetWeight: %v", err)
		}
	})
	t.Run("master detected", func(t *testing.T) {
		f := haproxytest.Fake(t, map[string]string{
			"show info":                 "Unknown command, but maybe one of the following ones is a better match:\n  @!<pid>   : send a command to the <pid> process\n  show proc : show processes status\n",
			"@1 show info":              info26,
			"@1 show servers state www": "1\n# be_id be_name srv_id srv_name srv_admin_state\n3 www 1 web1 0\n",
		})
		c, err := Dial(context.Background(), f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Master() {
			t.Error("master socket not detected")
		}
		rows, err := c.ServersState(context.Background(), "www")
		if err != nil || len(rows) != 1 {
			t.Errorf("ServersState: %v, %v", rows, err)
		}
		want := []string{"show info", "@1 show info", "@1 show servers state www"}
		if got := f.Commands(); !reflect.DeepEqual(got, want) {
			t.Errorf("commands %q, want %q", got, want)
		}
	})
	t.Run("worker by pid", func(t *testing.T) {
		f := haproxytest.Fake(t, map[string]string{"@!42 show info": info26})
		c, err := Dial(context.Background(), f.Path, WithMaster(MasterOn), WithWorker("!42"))
		if err != nil || !c.Master() {
			t.Fatalf("Dial: %v", err)
		}
	})
}
