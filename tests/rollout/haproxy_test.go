package rollout

import (
	"strings"
	"testing"
)

func TestParseServersState(t *testing.T) {
	out := `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 app 1 app-1 127.0.9.11 0 1 1 1 1 8 2 0 14 0 0 0 - 8081 - 0 0 - - 0
3 app 2 app-2 127.0.9.12 2 8 1 1 0 8 2 0 6 0 0 0 - 8081 - 0 0 - - 0
3 app 3 app-3 127.0.9.13 2 0 1 1 0 8 2 0 6 0 0 0 - 8081 - 0 0 - - 0
3 app 4 app-4 127.0.9.14 0 0 1 1 0 8 2 0 6 0 0 0 - 8081 - 0 0 - - 0
3 app 5 app-5 127.0.9.15 2 0 0 1 0 8 2 0 6 0 0 0 - 8081 - 0 0 - - 0
`
	st, err := parseServersState(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"app-1": "maint", "app-2": "drain", "app-3": "up", "app-4": "down", "app-5": "drain"}
	for name, w := range want {
		if got := st[name].String(); got != w {
			t.Errorf("%s: %s, want %s (%+v)", name, got, w, st[name])
		}
	}
	if !st["app-3"].InRotation() || st["app-2"].InRotation() {
		t.Errorf("in rotation: app-3 %v app-2 %v, want true false", st["app-3"].InRotation(), st["app-2"].InRotation())
	}
	if _, err := parseServersState("Unknown command\n"); err == nil || !strings.Contains(err.Error(), "unexpected answer") {
		t.Errorf("garbage: err = %v", err)
	}
}

func TestHAProxyConfig(t *testing.T) {
	cfg := haproxyConfig("/tmp/x/admin.sock", []Host{{Name: "app-1", Addr: "127.0.1.11:8081"}, {Name: "app-2", Addr: "127.0.1.12:8081"}})
	for _, want := range []string{
		"stats socket /tmp/x/admin.sock mode 600 level admin",
		"bind fd@3",
		"option httpchk GET /healthz",
		"server app-1 127.0.1.11:8081\n",
		"server app-2 127.0.1.12:8081\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
}

func TestJoinViews(t *testing.T) {
	up := TargetState{State: "up", InRotation: true}
	maint := TargetState{State: "maint"}
	for _, c := range []struct {
		views []TargetState
		want  TargetState
	}{
		{[]TargetState{up}, up},
		{[]TargetState{up, up}, up},
		{[]TargetState{maint, maint}, maint},
		{[]TargetState{up, maint}, TargetState{State: "lb1 up, lb2 maint"}},
		{[]TargetState{maint, up, up}, TargetState{State: "lb1 maint, lb2 up, lb3 up"}},
	} {
		if got := joinViews(c.views); got != c.want {
			t.Errorf("joinViews(%v) = %+v, want %+v", c.views, got, c.want)
		}
	}
}
