package ansibletest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Errorf says instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// A run whose module reports a deprecation fails the test, unless the test
// allows it; either way the run's Notices carry it.
func TestDeprecationsFailTheRun(t *testing.T) {
	lib := t.TempDir()
	// A module that returns a deprecation, as ansible-core's own do.
	module := `#!/usr/bin/python3
import json
print(json.dumps({"changed": False, "deprecations": [{"msg": "option x is going away", "version": "9.99"}]}))
`
	if err := os.WriteFile(filepath.Join(lib, "old_module.py"), []byte(module), 0o755); err != nil {
		t.Fatal(err)
	}
	e := &Collection{CollectionsPath: t.TempDir()}
	play := "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: old\n      old_module: {}\n"

	rec := &recorder{TB: t}
	r := e.Playbook(rec, play, Env("ANSIBLE_LIBRARY="+lib))
	if r.ExitCode != 0 {
		t.Fatalf("exit %d:\n%s\n%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	if len(rec.errors) == 0 || !strings.Contains(rec.errors[0], "option x is going away") {
		t.Errorf("the deprecation did not fail the run: errors %q, notices %v", rec.errors, r.Notices)
	}

	rec = &recorder{TB: t}
	r = e.Playbook(rec, play, Env("ANSIBLE_LIBRARY="+lib), AllowDeprecations())
	if len(rec.errors) != 0 {
		t.Errorf("AllowDeprecations: errors %q", rec.errors)
	}
	found := false
	for _, n := range r.Notices {
		found = found || (n.Deprecation && strings.Contains(n.Text, "option x is going away"))
	}
	if !found {
		t.Errorf("Notices %v lack the deprecation", r.Notices)
	}
}
