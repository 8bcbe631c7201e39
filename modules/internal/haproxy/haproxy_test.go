package haproxy

import (
	"context"
	"errors"
	"fmt"
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

func TestParseServersState(t *testing.T) {
	rows, err := parseServersState(serversState)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name      string
		state     AdminState
		forced    AdminState
		inherited bool
		op        OpState
		check     bool
		checkOn   bool
		agentOn   bool
		weight    int
	}
	want := []row{
		{"web1", StateReady, StateReady, false, OpUp, true, true, false, 100},
		{"web2", StateReady, StateReady, false, OpDown, true, true, false, 50},
		{"web3", StateMaint, StateMaint, false, OpDown, false, false, false, 1},
		{"web4", StateReady, StateReady, false, OpUp, false, false, false, 1},
		// client-native reads 16 as hex (0x16: maint); it is IDRAIN.
		{"web5", StateDrain, StateDrain, false, OpUp, true, true, false, 1},
		{"web6", StateDrain, StateReady, true, OpUp, false, false, false, 1},
		{"web7", StateMaint, StateDrain, true, OpUp, true, false, true, 1},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		r := rows[i]
		got := row{r.Name, r.Admin.State(), r.Admin.Forced(), r.Admin.Inherited(), r.Op, r.HasCheck(), r.CheckEnabled(), r.AgentEnabled(), r.UserWeight}
		if got != w {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
}

func TestParseServersStateErrors(t *testing.T) {
	for name, tc := range map[string]struct{ in, err string }{
		"empty":          {"", ""},
		"other format":   {"2\n# be_id\n", "format"},
		"no header":      {"1\n3 www 1 web1\n", "no header"},
		"short line":     {"1\n# be_id be_name srv_id srv_name\n3\n", "unexpected line"},
		"only a header":  {"1\n# be_id be_name srv_id srv_name\n", ""},
		"newer, columns": {"1\n# be_id be_name srv_id srv_name srv_admin_state srv_new\n3 www 1 web1 8 x\n", ""},
	} {
		t.Run(name, func(t *testing.T) {
			rows, err := parseServersState(tc.in)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if name == "newer, columns" && (len(rows) != 1 || rows[0].Admin.State() != StateDrain) {
					t.Errorf("rows = %+v", rows)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want it to contain %q", err, tc.err)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	const out = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,weight,type,check_status,last_chk,check_desc
fe,FRONTEND,,,0,1,,3,OPEN,,0,,,
www,web1,0,0,2,3,,10,DRAIN,1,2,* L4OK,,Layer4 check passed
www,web2,1,1,0,1,,4,DOWN 1/2,1,2,L7STS,"HTTP status check returned code <3C>503<3E>, or not",Layer7 wrong status
www,BACKEND,0,0,2,3,,14,UP,1,1,,,
`
	got, err := parseStat(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Stat{
		{Backend: "www", Server: "web1", Status: "DRAIN", CheckStatus: "L4OK", CheckDesc: "Layer4 check passed", Sessions: 2, Total: 10, Weight: 1},
		{Backend: "www", Server: "web2", Status: "DOWN 1/2", CheckStatus: "L7STS", CheckInfo: "HTTP status check returned code <3C>503<3E>, or not", CheckDesc: "Layer7 wrong status", Queued: 1, Total: 4, Weight: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	for name, in := range map[string]string{"not csv": "No such proxy.", "no scur": "# pxname,svname\nwww,web1\n"} {
		if _, err := parseStat(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string][3]int{
		"2.6.12-1+deb12u4":  {2, 6, 12},
		"1.5.18":            {1, 5, 18},
		"3.0-dev4":          {3, 0, 0},
		"2.8.3-1ppa1~jammy": {2, 8, 3},
	} {
		v, err := ParseVersion(in)
		if err != nil || [3]int{v.Major, v.Minor, v.Patch} != want || v.String() != in {
			t.Errorf("ParseVersion(%q) = %+v, %v", in, v, err)
		}
	}
	if _, err := ParseVersion("dev"); err == nil {
		t.Error("ParseVersion(dev): no error")
	}
}

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

func ExampleAdminFlags_State() {
	for _, f := range []AdminFlags{0, 1, 5, 8, 16, 10, 2} {
		fmt.Println(uint(f), f.State(), f.Forced(), f.Inherited())
	}
	// Output:
	// 0 ready ready false
	// 1 maint maint false
	// 5 maint maint false
	// 8 drain drain false
	// 16 drain ready true
	// 10 maint drain true
	// 2 maint ready true
}
