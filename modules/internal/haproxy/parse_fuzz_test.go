package haproxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// These fuzz the parsers of the runtime API's text: whatever HAProxy (or
// something else listening on the socket) says, the client must not panic,
// and every error must carry a message. The names that go the other way
// are fuzzed in command_test.go.

func checkErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && strings.TrimSpace(err.Error()) == "" {
		t.Fatalf("%s: error with an empty message: %#v", what, err)
	}
}

// FuzzParseServersState fuzzes "show servers state".
func FuzzParseServersState(f *testing.F) {
	f.Add(serversState)
	f.Add("1\n# be_id be_name srv_id srv_name srv_admin_state\n3 www 1 web1 0\n")
	f.Add("1\n# be_name srv_name\n")
	f.Add("2\n# be_name srv_name\nwww web1\n")
	f.Add("1\n3 www 1 web1 0\n")
	f.Add("1\n# be_name srv_name srv_admin_state srv_op_state\nwww web1 99999999999999999999 7\nwww\n")
	f.Add("No such backend.\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, out string) {
		rows, err := parseServersState(out)
		checkErr(t, "parseServersState", err)
		if err != nil && rows != nil {
			t.Fatalf("rows %v with error %v", rows, err)
		}
		for _, r := range rows {
			if r.Backend == "" || r.Name == "" {
				t.Fatalf("row without backend or server: %+v", r)
			}
			_ = r.Admin.State()
			_ = r.Admin.Forced()
		}
	})
}

// FuzzParseStat fuzzes "show stat" CSV.
func FuzzParseStat(f *testing.F) {
	f.Add("# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,weight,type,check_status,check_desc,last_chk\nwww,web1,0,0,3,5,,42,UP,100,2,L7OK,Layer7 check passed,\"HTTP status check returned code <3C>200<3E>\"\nwww,BACKEND,0,0,3,5,,42,UP,100,1,,,\n")
	f.Add("# pxname,svname,scur,qcur,status,type\nwww,web1,x,,DRAIN,2\n")
	f.Add("# pxname,svname\n")
	f.Add("# \"a,b\n")
	f.Add("# ")
	f.Add("Permission denied\n")
	f.Fuzz(func(t *testing.T, out string) {
		stats, err := parseStat(out)
		checkErr(t, "parseStat", err)
		for _, s := range stats {
			_ = s.Key()
		}
	})
}

// FuzzParseInfo fuzzes "show info" and the version in it.
func FuzzParseInfo(f *testing.F) {
	f.Add("Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nRelease_date: 2023/12/13\nPid: 4242\n")
	f.Add("Version: 1.5.18\n")
	f.Add("Version: 3.0-dev4\n")
	f.Add("Version: 2\n")
	f.Add("Version: 2.x\n")
	f.Add("Version: 99999999999999999999.1\nPid: -1\n")
	f.Add("Name: HAProxy\n")
	f.Fuzz(func(t *testing.T, out string) {
		info, err := parseInfo(out)
		checkErr(t, "parseInfo", err)
		if err == nil {
			if info.Version.Raw == "" && !strings.Contains(out, "Version:") {
				t.Fatalf("a version from nowhere: %+v", info)
			}
			_ = info.Version.AtLeast(1, 6)
			_ = (&VersionError{Have: info.Version, Need: Version{Major: 9}, Feature: "x"}).Error()
		}
	})
}

// FuzzExec fuzzes how any answer is classified: severity prefixes, error
// messages, the master CLI's help.
func FuzzExec(f *testing.F) {
	f.Add("[3]: Permission denied\n")
	f.Add("No such server.\n")
	f.Add("Unknown command, but maybe one of the following ones is a better match:\n  @!<pid>   : send a command to the <pid> process\n  show proc : show processes status\n")
	f.Add("[0]: \n[7]: x")
	f.Add("[")
	f.Add("Absolute weight can only be between 0 and 256 inclusive.")
	f.Fuzz(func(t *testing.T, answer string) {
		c := &Client{path: "/fuzz.sock", exec: func(context.Context, string) (string, error) { return answer, nil }}
		out, err := c.Exec(context.Background(), "show servers state www")
		checkErr(t, "Exec", err)
		if err == nil && out != strings.TrimSpace(out) {
			t.Fatalf("answer not trimmed: %q", out)
		}
		err = c.run(context.Background(), "set server www/web1 state drain")
		checkErr(t, "run", err)
		var ce *CommandError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("run: %T %v, want a *CommandError", err, err)
		}
		_ = isMasterHelp(err)
	})
}

// answerSocket is a runtime API socket whose answers the fuzzer sets:
// "show info" (a stats socket, or the master's help), "@1 show info" (the
// worker behind a master) and "show servers state".
type answerSocket struct {
	path                    string
	mu                      sync.Mutex
	info, workerInfo, state string
}

func startAnswerSocket(f *testing.F) *answerSocket {
	// Not f.TempDir: a socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "zdt-fuzz-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	s := &answerSocket{path: filepath.Join(dir, "fuzz.sock")}
	l, err := net.Listen("unix", s.path)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *answerSocket) set(info, workerInfo, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.info, s.workerInfo, s.state = info, workerInfo, state
}

func (s *answerSocket) serve(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	s.mu.Lock()
	info, workerInfo, state := s.info, s.workerInfo, s.state
	s.mu.Unlock()
	var out strings.Builder
	for _, cmd := range strings.Split(strings.TrimSpace(line), ";") {
		cmd = strings.TrimSpace(cmd)
		switch {
		case cmd == "" || cmd == "quit" || cmd == "set severity-output number":
			continue
		case cmd == "show info":
			out.WriteString(info)
		case cmd == "@1 show info":
			out.WriteString(workerInfo)
		case strings.Contains(cmd, "show servers state"):
			out.WriteString(state)
		default:
			out.WriteString("Unknown command\n")
		}
		out.WriteString("\n\n")
	}
	conn.Write([]byte(out.String()))
}

// FuzzDial fuzzes the connection: master detection from the answer to
// "show info", the worker's answer through the master, then a read of the
// server states, over a real unix socket.
func FuzzDial(f *testing.F) {
	masterHelp := "Unknown command, but maybe one of the following ones is a better match:\n  @!<pid>   : send a command to the <pid> process\n  show proc : show processes status\n"
	state := "1\n# be_id be_name srv_id srv_name srv_admin_state\n3 www 1 web1 0\n"
	f.Add(info26, "", state)
	f.Add(masterHelp, info26, state)
	f.Add(masterHelp, masterHelp, state)
	f.Add(masterHelp, "Version: 1.5.18\n", "")
	f.Add("Permission denied\n", "", "")
	f.Add(info26, "", "[3]: No such backend.\n")
	f.Add("", "", "")
	s := startAnswerSocket(f)
	f.Fuzz(func(t *testing.T, info, workerInfo, state string) {
		s.set(info, workerInfo, state)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := Dial(ctx, s.path, WithCommandTimeout(2*time.Second))
		checkErr(t, "Dial", err)
		if err != nil {
			return
		}
		_, err = c.ServersState(ctx, "www")
		checkErr(t, "ServersState", err)
	})
}
