package haproxymaint

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// TestFailureCodes checks that every failure of the module is a
// failure.Error, so its code comes from the one vocabulary lb uses too,
// with the cause still reachable and the message unchanged.
func TestFailureCodes(t *testing.T) {
	cases := []struct {
		err  error
		code string
	}{
		{&haproxy.SocketError{Path: "/run/haproxy.sock", Err: errors.New("connection refused")}, failure.SocketUnreachable},
		{fmt.Errorf("set server: %w", haproxy.ErrPermission), failure.PermissionDenied},
		{fmt.Errorf("backend %q: %w", "www", haproxy.ErrNoBackend), failure.BackendNotFound},
		{fmt.Errorf("server %q: %w", "web1", haproxy.ErrNoServer), failure.ServerNotFound},
		{haproxy.ErrTooOld, failure.VersionTooOld},
		{haproxy.ErrUnknownCommand, failure.VersionTooOld},
		{context.DeadlineExceeded, failure.Timeout},
		{errors.New("No such server."), failure.CommandFailed},
	}
	for _, tc := range cases {
		err := fail(tc.err, "www/web1")
		var fe *failure.Error
		if !errors.As(err, &fe) {
			t.Errorf("fail(%v) = %T, want a *failure.Error in its chain", tc.err, err)
			continue
		}
		if fe.Provider != "haproxy" || fe.Code != tc.code || fe.Resource != "www/web1" {
			t.Errorf("fail(%v) = %s/%s/%s, want haproxy/%s/www/web1", tc.err, fe.Provider, fe.Code, fe.Resource, tc.code)
		}
		if !errors.Is(err, tc.err) || err.Error() != tc.err.Error() {
			t.Errorf("fail(%v) = %q, lost its cause or message", tc.err, err)
		}
	}

	tg := &target{st: haproxy.ServerState{Backend: "www", Name: "web1"}}
	err := timeoutError([]*target{tg}, nil, haproxy.StateDrain, args{Timeout: 5})
	if !failure.IsCode(err, failure.Timeout) {
		t.Errorf("timeoutError = %v, want a failure.Error with code %s", err, failure.Timeout)
	}
}

func TestFakeSocketErrors(t *testing.T) {
	info := "Name: HAProxy\nVersion: 2.6.12\n"
	state := "1\n# be_id be_name srv_id srv_name srv_op_state srv_admin_state srv_uweight srv_iweight srv_check_state\n3 www 1 web1 2 0 1 1 6\n"
	stat := "# pxname,svname,qcur,scur,status,weight,type\nwww,web1,0,0,UP,1,2\n"
	cases := []struct {
		name    string
		answers map[string]string
		code    string
		msg     string
	}{
		{"too old", map[string]string{"show info": "Version: 1.5.18\n"}, "version_too_old", "HAProxy 1.5.18 is too old: `set server <backend>/<server> state` needs 1.6 or later"},
		{"below admin", map[string]string{"show info": info, "show servers state": state, "show stat -1 4 -1": stat, "set server www/web1 state drain": "Permission denied"},
			"permission_denied", "stats socket"},
		{"unknown command", map[string]string{"show info": info}, "version_too_old", `HAProxy 2.6.12 does not know the command "show servers state"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := haproxytest.Fake(t, tc.answers)
			res, _ := runModule(t, map[string]any{"socket": f.Path, "server": "web1", "state": "drain"})
			if res["failed"] != true {
				t.Fatalf("want failure: %v", res)
			}
			if code := res["failure"].(map[string]any)["code"]; code != tc.code {
				t.Errorf("code %v, want %s", code, tc.code)
			}
			if msg := res["msg"].(string); !strings.Contains(msg, tc.msg) {
				t.Errorf("msg %q lacks %q", msg, tc.msg)
			}
		})
	}
}
