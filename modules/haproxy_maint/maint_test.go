package haproxymaint

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/ansible/doccheck"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

func TestParseWeight(t *testing.T) {
	cases := []struct {
		name    string
		in      any
		want    string
		abs     int // with an initial weight of 10
		wantErr string
	}{
		{"unset", nil, "", 0, ""},
		{"int from YAML", 10.0, "10", 10, ""},
		{"string", "0", "0", 0, ""},
		{"percent", "50%", "50%", 5, ""},
		{"percent rounds down", "33%", "33%", 3, ""},
		{"percent above 100 capped at 256", "5000%", "5000%", 256, ""},
		{"spaces", " 20 % ", "20%", 2, ""},
		{"too heavy", 300.0, "", 0, "above HAProxy's maximum of 256"},
		{"negative", "-1", "", 0, "must not be negative"},
		{"fraction", 1.5, "", 0, "whole number"},
		{"word", "heavy", "", 0, "a number (0-256) or a percentage"},
		{"list", []any{1}, "", 0, "a number (0-256) or a percentage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := parseWeight(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w == nil {
				if tc.want != "" {
					t.Fatalf("nil weight, want %s", tc.want)
				}
				return
			}
			if w.String() != tc.want || w.absolute(10) != tc.abs {
				t.Errorf("got %s (absolute %d), want %s (%d)", w, w.absolute(10), tc.want, tc.abs)
			}
		})
	}
}

func TestReached(t *testing.T) {
	tg := &target{st: haproxy.ServerState{Backend: "www", Name: "web1"}}
	cases := []struct {
		name    string
		want    haproxy.AdminState
		stat    haproxy.Stat
		ok      bool
		why     string
		failure string
	}{
		{"drained", haproxy.StateDrain, haproxy.Stat{Status: "DRAIN"}, true, "", ""},
		{"sessions left", haproxy.StateDrain, haproxy.Stat{Status: "DRAIN", Sessions: 2, Queued: 1}, false, "www/web1 has 2 sessions, 1 queued", ""},
		{"down and drained", haproxy.StateMaint, haproxy.Stat{Status: "MAINT"}, true, "", ""},
		{"up", haproxy.StateReady, haproxy.Stat{Status: "UP"}, true, "", ""},
		{"no check", haproxy.StateReady, haproxy.Stat{Status: "no check"}, true, "", ""},
		{"left maint unchecked", haproxy.StateReady, haproxy.Stat{Status: "UP 1/3", CheckStatus: "L4OK"}, false, "www/web1 is UP 1/3, last check L4OK", ""},
		{"down", haproxy.StateReady, haproxy.Stat{Status: "DOWN", CheckStatus: "L4CON", CheckDesc: "Layer4 connection problem", CheckInfo: "Connection refused"},
			false, "www/web1 is DOWN, last check L4CON: Layer4 connection problem (Connection refused)", ""},
		{"maint via track", haproxy.StateReady, haproxy.Stat{Status: "MAINT (via www/web0)"}, false, "", "is MAINT (via www/web0) while waiting"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, why, err := reached(tg, tc.stat, tc.want)
			if tc.failure != "" {
				if err == nil || !strings.Contains(err.Error(), tc.failure) {
					t.Fatalf("error %v, want %q", err, tc.failure)
				}
				return
			}
			if err != nil || ok != tc.ok || why != tc.why {
				t.Errorf("got %v %q %v, want %v %q", ok, why, err, tc.ok, tc.why)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	up := haproxy.ServerState{Backend: "www", Name: "web1", UserWeight: 10, InitialWeight: 10, CheckState: 6}
	maint := up
	maint.Admin = haproxy.FMaint
	maint.CheckState = 14
	noCheck := maint
	noCheck.CheckState = 0
	yes, no := true, false
	cases := []struct {
		name    string
		st      haproxy.ServerState
		want    haproxy.AdminState
		a       args
		changes []string
		dance   bool
	}{
		{"drain", up, haproxy.StateDrain, args{}, []string{"state ready -> drain"}, false},
		{"already ready", up, haproxy.StateReady, args{}, nil, false},
		{"ready from maint with checks", maint, haproxy.StateReady, args{}, []string{"state maint -> ready"}, true},
		{"ready from maint without checks", noCheck, haproxy.StateReady, args{}, []string{"state maint -> ready"}, false},
		{"ready from maint, checks turned off", maint, haproxy.StateReady, args{Health: &no}, []string{"disable health checks", "state maint -> ready"}, false},
		{"health already on", up, haproxy.StateReady, args{Health: &yes}, nil, false},
		{"same weight in percent", up, haproxy.StateReady, args{Weight: "100%"}, nil, false},
		{"weight", up, haproxy.StateReady, args{Weight: "50%"}, []string{"weight 10 -> 5"}, false},
		{"sessions kept", up, haproxy.StateMaint, args{ShutdownSessions: "immediately"}, []string{"state ready -> maint"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := parseWeight(tc.a.Weight)
			if err != nil {
				t.Fatal(err)
			}
			tg := &target{st: tc.st}
			plan(&ansible.Module{}, tg, tc.want, w, tc.a)
			if !reflect.DeepEqual(tg.changes, tc.changes) || tg.dance != tc.dance {
				t.Errorf("changes %q dance %v, want %q %v", tg.changes, tg.dance, tc.changes, tc.dance)
			}
		})
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

func TestBadOptions(t *testing.T) {
	cases := []struct {
		params map[string]any
		msg    string
	}{
		{map[string]any{"server": "web1"}, "missing required arguments: state"},
		{map[string]any{"server": "web1", "state": "up"}, "value of state must be one of: ready, drain, maint, enabled, disabled, got: up"},
		{map[string]any{"server": "web1", "state": "drain", "shutdown_sessions": true}, "value of shutdown_sessions must be one of: never, on_timeout, immediately"},
		{map[string]any{"server": "web1", "state": "drain", "wait_interval": 5}, "Unsupported parameters for (haproxy_maint) module: wait_interval"},
		{map[string]any{"server": "web1", "state": "drain", "weight": "lots"}, "weight must be a number"},
		{map[string]any{"server": "web1", "state": "drain", "timeout": 0}, "timeout must be a positive number of seconds, got 0 (with wait: true)"},
		{map[string]any{"server": "web1", "state": "drain", "interval": 1e12}, "interval must be at most 31536000 seconds (a year), got 1000000000000 (with wait: true)"},
		{map[string]any{"server": "web1", "state": "drain", "worker": "first"}, "worker must be a worker number"},
		{map[string]any{"server": "web1", "state": "drain", "socket": "/nonexistent/haproxy.sock"}, "is HAProxy running"},
	}
	for _, tc := range cases {
		res, _ := runModule(t, tc.params)
		if res["failed"] != true || !strings.Contains(res["msg"].(string), tc.msg) {
			t.Errorf("%v: got %v, want msg with %q", tc.params, res["msg"], tc.msg)
		}
	}
}

// TestDocMatchesSpec compares the doc stub's options with the Go spec.
func TestDocMatchesSpec(t *testing.T) { doccheck.Check(t, spec) }
