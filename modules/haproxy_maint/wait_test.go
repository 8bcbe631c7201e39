package haproxymaint

import (
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

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
