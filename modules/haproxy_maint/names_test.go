package haproxymaint

import (
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// The names in a task reach runtime API commands: backend directly, server
// and worker through what HAProxy reports and the master's "@" prefix.

const (
	fakeInfo  = "Name: HAProxy\nVersion: 2.6.12\n"
	fakeState = "1\n# be_id be_name srv_id srv_name srv_op_state srv_admin_state srv_uweight srv_iweight srv_check_state\n3 www 1 web1 2 0 1 1 6\n"
	fakeStat  = "# pxname,svname,qcur,scur,status,weight,type\nwww,web1,0,0,UP,1,2\n"
)

// FuzzNames runs the module on a fake socket with any backend, server and
// worker: either the task fails naming the option and sends nothing, or
// every command that reaches the socket is one the task means to send.
func FuzzNames(f *testing.F) {
	f.Add("www", "web1", "1", false)
	f.Add("www;set server other/o1 state maint", "web1", "1", false)
	f.Add("www\nset server other/o1 state maint", "web1", "1", false)
	f.Add("www\nreload", "web1", "1", true)
	f.Add("", "web1;reload", "1", false)
	f.Add("www", "web1", "1;reload", true)
	f.Add("www", "web1", "!4242", true)
	f.Add("nope", "web9", "+1", true)
	f.Add("w\\w", "web1", "1", false)
	answers := map[string]string{}
	for _, p := range []string{"", "@1 ", "@!4242 "} {
		answers[p+"show info"] = fakeInfo
		answers[p+"show servers state"] = fakeState
		answers[p+"show servers state www"] = fakeState
		answers[p+"show stat -1 4 -1"] = fakeStat
		answers[p+"set server www/web1 state drain"] = ""
	}
	fake := haproxytest.Fake(f, answers)
	f.Fuzz(func(t *testing.T, backend, server, worker string, master bool) {
		seen := len(fake.Commands())
		p := map[string]any{"socket": fake.Path, "backend": backend, "server": server, "worker": worker, "master_socket": master,
			"state": "drain", "wait": false}
		res, _ := runModule(t, p)
		sent := fake.Commands()[seen:]
		msg, _ := res["msg"].(string)
		for _, opt := range []string{"backend: ", "server: ", "worker must be"} {
			if strings.HasPrefix(msg, opt) {
				if len(sent) > 0 {
					t.Fatalf("refused (%s) but sent %q", msg, sent)
				}
				return
			}
		}
		prefix := ""
		if master {
			prefix = "@" + worker + " "
		}
		intended := map[string]bool{}
		for _, cmd := range []string{"show info", "show servers state", "show servers state " + backend, "show stat -1 4 -1", "set server www/web1 state drain"} {
			intended[prefix+cmd] = true
		}
		for _, cmd := range sent {
			if !intended[cmd] {
				t.Fatalf("backend %q, server %q, worker %q: sent %q, not a command the task means (result %v)", backend, server, worker, cmd, res)
			}
		}
		if res["failed"] == true && msg == "" {
			t.Fatalf("failed without a message: %v", res)
		}
	})
}

// TestInjectionRefused runs the module against a real HAProxy with names
// that carry a second command: each is refused with the option named, and
// the server the injected command targets stays as it was.
func TestInjectionRefused(t *testing.T) {
	skipShort(t)
	app := haproxytest.StartApp(t, "o1")
	h, _, _ := twoApps(t, "", haproxytest.Config{MasterWorker: true, Backends: []haproxytest.Backend{
		{Name: "other", Servers: []haproxytest.Server{{Name: "o1", Addr: app.Addr}}},
	}})
	cases := []struct {
		name   string
		socket string
		params map[string]any
		msg    string
	}{
		{"semicolon in backend", h.Socket, map[string]any{"backend": "www;set server other/o1 state maint"},
			`backend: "www;set server other/o1 state maint" is not a HAProxy backend name: only letters, digits and "-_.:" are allowed, not ';' at byte 4`},
		{"newline in backend", h.Socket, map[string]any{"backend": "www\nset server other/o1 state maint"},
			`backend: "www\nset server other/o1 state maint" is not a HAProxy backend name`},
		{"carriage return in backend", h.Socket, map[string]any{"backend": "www\r\nset server other/o1 state maint"},
			`backend: "www\r\nset server other/o1 state maint" is not a HAProxy backend name`},
		{"semicolon in server", h.Socket, map[string]any{"server": "web1;set server other/o1 state maint"},
			`server: "web1;set server other/o1 state maint" is not a HAProxy server name`},
		{"master: newline in backend", h.MasterSocket, map[string]any{"backend": "www\nreload"},
			`backend: "www\nreload" is not a HAProxy backend name`},
		{"master: semicolon in backend", h.MasterSocket, map[string]any{"backend": "www;@1 set server other/o1 state maint"},
			`backend: "www;@1 set server other/o1 state maint" is not a HAProxy backend name`},
		{"master: worker", h.MasterSocket, map[string]any{"worker": "1 set server other/o1 state maint;@1", "backend": "www"},
			`worker must be a worker number`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := map[string]any{"socket": tc.socket, "server": "web1", "state": "drain", "wait": false}
			for k, v := range tc.params {
				p[k] = v
			}
			res, _ := runModule(t, p)
			if res["failed"] != true || !strings.Contains(res["msg"].(string), tc.msg) {
				t.Errorf("want a failure with %q, got %v", tc.msg, res)
			}
			if st := h.ServerStat(t, "other", "o1")["status"]; st != "no check" {
				t.Errorf("other/o1 is %s: the injected command ran", st)
				h.Command(t, "set server other/o1 state ready")
			}
			if st := h.ServerStat(t, "www", "web1")["status"]; st != "no check" {
				t.Errorf("www/web1 is %s after a refused task", st)
				h.Command(t, "set server www/web1 state ready")
			}
		})
	}
	if n := h.MasterReloads(t); n != 0 {
		t.Errorf("the master reloaded %d times", n)
	}

	// Well-formed names HAProxy does not have keep their errors.
	res, _ := runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "backend": "nope", "state": "drain"})
	if res["failed"] != true || !strings.Contains(res["msg"].(string), `backend "nope" not found in HAProxy`) {
		t.Errorf("unknown backend: %v", res)
	}
	res, _ = runModule(t, map[string]any{"socket": h.Socket, "server": "web9", "backend": "www", "state": "drain"})
	if res["failed"] != true || !strings.Contains(res["msg"].(string), `server "web9" not found in backend "www"`) {
		t.Errorf("unknown server: %v", res)
	}
}
