package notices

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFromTaskAndStderr(t *testing.T) {
	var hosts map[string]map[string]any
	if err := json.Unmarshal([]byte(`{
	  "app-2": {"warnings": ["drain timeout below the deregistration delay"]},
	  "app-1": {"results": [{"deprecations": [{"msg": "x is deprecated", "version": "2.23"}]}, {"changed": true}]},
	  "app-3": {"changed": false}
	}`), &hosts); err != nil {
		t.Fatal(err)
	}
	got := FromTask("Drain", hosts)
	want := []string{
		`deprecation (task "Drain" on app-1): x is deprecated`,
		`warning (task "Drain" on app-2): drain timeout below the deregistration delay`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("notice %d = %q, want %q", i, got[i], want[i])
		}
	}
	if d := Deprecations(got); len(d) != 1 || !d[0].Deprecation {
		t.Errorf("Deprecations = %v, want the one deprecation", d)
	}

	stderr := "[WARNING]: one\n  continued\n[DEPRECATION WARNING]: two. This feature will be removed\nin version 2.23.\nsomething else\n"
	ns := FromStderr(stderr)
	if len(ns) != 2 || ns[0].Text != "one continued" || !ns[1].Deprecation || !strings.HasPrefix(ns[1].Text, "two.") {
		t.Errorf("FromStderr = %q", ns)
	}
	if len(FromStderr("PLAY RECAP\nok\n")) != 0 {
		t.Error("notices in a stderr without any")
	}
}
