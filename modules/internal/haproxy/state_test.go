package haproxy

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseServersState(t *testing.T) {
	rows, err := parseServersState(serversState)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name      string
		state     AdminState
		forced    AdminState
		inherited bool
		op        OpState
		check     bool
		checkOn   bool
		agentOn   bool
		weight    int
	}
	want := []row{
		{"web1", StateReady, StateReady, false, OpUp, true, true, false, 100},
		{"web2", StateReady, StateReady, false, OpDown, true, true, false, 50},
		{"web3", StateMaint, StateMaint, false, OpDown, false, false, false, 1},
		{"web4", StateReady, StateReady, false, OpUp, false, false, false, 1},
		// client-native reads 16 as hex (0x16: maint); it is IDRAIN.
		{"web5", StateDrain, StateDrain, false, OpUp, true, true, false, 1},
		{"web6", StateDrain, StateReady, true, OpUp, false, false, false, 1},
		{"web7", StateMaint, StateDrain, true, OpUp, true, false, true, 1},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		r := rows[i]
		got := row{r.Name, r.Admin.State(), r.Admin.Forced(), r.Admin.Inherited(), r.Op, r.HasCheck(), r.CheckEnabled(), r.AgentEnabled(), r.UserWeight}
		if got != w {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
}

func TestParseServersStateErrors(t *testing.T) {
	for name, tc := range map[string]struct{ in, err string }{
		"empty":          {"", ""},
		"other format":   {"2\n# be_id\n", "format"},
		"no header":      {"1\n3 www 1 web1\n", "no header"},
		"short line":     {"1\n# be_id be_name srv_id srv_name\n3\n", "unexpected line"},
		"only a header":  {"1\n# be_id be_name srv_id srv_name\n", ""},
		"newer, columns": {"1\n# be_id be_name srv_id srv_name srv_admin_state srv_new\n3 www 1 web1 8 x\n", ""},
	} {
		t.Run(name, func(t *testing.T) {
			rows, err := parseServersState(tc.in)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if name == "newer, columns" && (len(rows) != 1 || rows[0].Admin.State() != StateDrain) {
					t.Errorf("rows = %+v", rows)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want it to contain %q", err, tc.err)
			}
		})
	}
}

func ExampleAdminFlags_State() {
	for _, f := range []AdminFlags{0, 1, 5, 8, 16, 10, 2} {
		fmt.Println(uint(f), f.State(), f.Forced(), f.Inherited())
	}
	// Output:
	// 0 ready ready false
	// 1 maint maint false
	// 5 maint maint false
	// 8 drain drain false
	// 16 drain ready true
	// 10 maint drain true
	// 2 maint ready true
}
