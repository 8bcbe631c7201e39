// Package role tests the deploy role's own flow through real
// ansible-playbook, without a load balancer (deploy_lb: none).
package role

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// TestDeployStep: the deploy step given as a tasks file or as a role runs
// once, between the drain and the verify; both or neither is refused
// before anything runs.
func TestDeployStep(t *testing.T) {
	coll := ansibletest.Install(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	dir := t.TempDir()
	marker := filepath.Join(dir, "deployed")
	step := fmt.Sprintf("- name: write the marker\n  ansible.builtin.shell: echo ran >> %s\n  changed_when: true\n", marker)
	tasksFile := filepath.Join(dir, "deploy.yml")
	roleTasks := filepath.Join(dir, "roles", "myapp", "tasks", "main.yml")
	if err := os.MkdirAll(filepath.Dir(roleTasks), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{tasksFile, roleTasks} {
		if err := os.WriteFile(f, []byte(step), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	play := "- hosts: localhost\n  gather_facts: false\n  roles:\n    - zerodowntime.rolling.deploy\n"

	for _, c := range []struct {
		name      string
		vars      map[string]any
		wantRuns  int
		wantError string
	}{
		{"tasks file", map[string]any{"deploy_tasks_file": tasksFile}, 1, ""},
		{"role", map[string]any{"deploy_role": "myapp"}, 1, ""},
		{"both", map[string]any{"deploy_tasks_file": tasksFile, "deploy_role": "myapp"}, 0, "set exactly one of deploy_tasks_file and deploy_role"},
		{"neither", map[string]any{}, 0, "set exactly one of deploy_tasks_file and deploy_role"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_ = os.Remove(marker)
			vars := map[string]any{"deploy_lb": "none", "deploy_verify_url": srv.URL + "/"}
			for k, v := range c.vars {
				vars[k] = v
			}
			r := coll.Playbook(t, play, ansibletest.Vars(vars), ansibletest.Env("ANSIBLE_ROLES_PATH="+filepath.Join(dir, "roles")))
			out, _ := os.ReadFile(marker)
			if runs := strings.Count(string(out), "ran"); runs != c.wantRuns {
				t.Errorf("the deploy step ran %d times, want %d", runs, c.wantRuns)
			}
			if c.wantError == "" {
				if r.ExitCode != 0 {
					t.Errorf("exit %d, want 0:\n%s", r.ExitCode, r.Stdout)
				}
				if v := r.Step("localhost", "verify"); v == nil || v["failed"] == true {
					t.Errorf("Verify result %v, want it run after the step", v)
				}
				return
			}
			if r.ExitCode == 0 || !strings.Contains(r.Stdout, c.wantError) {
				t.Errorf("exit %d, want a failure saying %q:\n%s", r.ExitCode, c.wantError, r.Stdout)
			}
		})
	}
}
