package haproxy

import (
	"reflect"
	"testing"
)

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
