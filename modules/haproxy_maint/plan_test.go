package haproxymaint

import (
	"reflect"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

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
