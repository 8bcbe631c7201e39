package haproxymaint

import (
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// TestCheckModeMsg: check mode's msg says what a run would set and what it
// would wait for, or that there is nothing to change, and changes nothing.
func TestCheckModeMsg(t *testing.T) {
	h, _, _ := twoApps(t, "check inter 200 rise 1 fall 1", haproxytest.Config{})
	for _, c := range []struct {
		state string
		want  string
	}{
		{"maint", "check mode: would set www/web1 to maint (state ready -> maint, 0 sessions now); then wait up to 7s until its sessions end"},
		{"ready", "check mode: www/web1 is ready already: nothing to change"},
	} {
		res, _ := runModule(t, map[string]any{"socket": h.Socket, "server": "web1", "backend": "www", "state": c.state, "timeout": 7, "_ansible_check_mode": true})
		mustSucceed(t, res)
		if msg, _ := res["msg"].(string); !strings.Contains(msg, c.want) {
			t.Errorf("state %s: msg %q, want %q", c.state, msg, c.want)
		}
		if st := h.ServerStat(t, "www", "web1")["status"]; st != "UP" {
			t.Errorf("state %s in check mode: web1 is %s, want UP (nothing done)", c.state, st)
		}
	}
}
