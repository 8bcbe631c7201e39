package haproxy

import (
	"reflect"
	"testing"
)

func TestParseStat(t *testing.T) {
	const out = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,weight,type,check_status,last_chk,check_desc,check_code,check_health
fe,FRONTEND,,,0,1,,3,OPEN,,0,,,,,
www,web1,0,0,2,3,,10,DRAIN,1,2,* L4OK,,Layer4 check passed,,4
www,web2,1,1,0,1,,4,DOWN 1/2,1,2,L7STS,"HTTP status check returned code <3C>503<3E>, or not",Layer7 wrong status,503,1
www,BACKEND,0,0,2,3,,14,UP,1,1,,,,,
`
	got, err := parseStat(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Stat{
		{Backend: "www", Server: "web1", Status: "DRAIN", CheckStatus: "L4OK", CheckDesc: "Layer4 check passed", CheckHealth: 4, Sessions: 2, Total: 10, Weight: 1},
		{Backend: "www", Server: "web2", Status: "DOWN 1/2", CheckStatus: "L7STS", CheckInfo: "HTTP status check returned code <3C>503<3E>, or not", CheckDesc: "Layer7 wrong status", CheckCode: "503", CheckHealth: 1, Queued: 1, Total: 4, Weight: 1},
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

func TestStatUpInMaint(t *testing.T) {
	cases := []struct {
		status      string
		up, inMaint bool
	}{
		{"UP", true, false},
		{"no check", true, false},
		{"UP 1/3", false, false},
		{"DOWN", false, false},
		{"DRAIN", false, false},
		{"MAINT", false, true},
		{"MAINT (via www/web0)", false, true},
		{"MAINT (resolution)", false, true},
	}
	for _, tc := range cases {
		s := Stat{Status: tc.status}
		if s.Up() != tc.up || s.InMaint() != tc.inMaint {
			t.Errorf("%q: Up %v InMaint %v, want %v %v", tc.status, s.Up(), s.InMaint(), tc.up, tc.inMaint)
		}
	}
}

func TestCheckFailedReason(t *testing.T) {
	cases := []struct {
		name   string
		s      Stat
		failed bool
		reason string
	}{
		{"http status", Stat{CheckStatus: "L7STS", CheckCode: "500", CheckDesc: "Layer7 wrong status", CheckInfo: "Internal Server Error"}, true, "L7STS/500 (Layer7 wrong status: Internal Server Error)"},
		{"refused", Stat{CheckStatus: "L4CON", CheckInfo: "Connection refused"}, true, "L4CON (Connection refused)"},
		{"passed", Stat{CheckStatus: "L7OK", CheckCode: "200"}, false, "L7OK/200"},
		{"not run yet", Stat{CheckStatus: "INI"}, false, "INI"},
		{"no check", Stat{}, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.CheckFailed(); got != tc.failed {
				t.Errorf("CheckFailed = %v, want %v", got, tc.failed)
			}
			if got := tc.s.CheckReason(); got != tc.reason {
				t.Errorf("CheckReason = %q, want %q", got, tc.reason)
			}
		})
	}
}
