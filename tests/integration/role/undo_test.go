package role

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// runName gives a test its own deploy_run_name, so that runs side by side
// keep apart records, and removes the record when the test ends.
func runName(t *testing.T) string {
	name := "tests-role-" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
	t.Cleanup(func() { _ = os.Remove(recordPath(name)) })
	return name
}

func recordPath(name string) string {
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".ansible", "zerodowntime_rolling", "runs", name+".json")
}

// undoWorld is hosts h1..hN with deploy_lb none: the deploy step writes
// "v2" to the host's version file and logs "deploy HOST", the rollback
// writes "v1" and logs "rollback HOST", in order. failHost's deploy fails
// after writing; slowHost's sleeps after writing (and touches a marker).
type undoWorld struct {
	dir, log, inv string
	vars          map[string]any
}

func newUndoWorld(t *testing.T, hosts int, failHost, slowHost string) *undoWorld {
	t.Helper()
	w := &undoWorld{dir: t.TempDir()}
	// The app of host H serves its deploy token at /H.
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := os.ReadFile(filepath.Join(w.dir, filepath.Base(r.URL.Path)+".token"))
		_, _ = rw.Write(b)
	}))
	t.Cleanup(srv.Close)
	w.log = filepath.Join(w.dir, "log")
	write := func(name, text string) string {
		p := filepath.Join(w.dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	deploy := write("deploy.yml", fmt.Sprintf(`- name: install v2
  ansible.builtin.shell: echo v2 > %[1]s/{{ inventory_hostname }}.version && echo "deploy {{ inventory_hostname }}" >> %[2]s
  changed_when: true
- name: hang
  ansible.builtin.shell: touch %[1]s/hanging && sleep 120
  when: inventory_hostname == %[3]q
- name: fail
  ansible.builtin.fail:
    msg: broken release
  when: inventory_hostname == %[4]q
`, w.dir, w.log, slowHost, failHost))
	rollback := write("rollback.yml", fmt.Sprintf(`- name: install v1
  ansible.builtin.shell: echo v1 > %s/{{ inventory_hostname }}.version && echo "rollback {{ inventory_hostname }}" >> %s
  changed_when: true
`, w.dir, w.log))
	w.inv = "[app]\n"
	for i := 1; i <= hosts; i++ {
		w.inv += fmt.Sprintf("h%d ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n", i)
		write(fmt.Sprintf("h%d.version", i), "v1\n")
	}
	w.vars = map[string]any{"deploy_lb": "none", "deploy_tasks_file": deploy, "deploy_rollback_tasks_file": rollback,
		"deploy_verify_url": srv.URL + "/{{ inventory_hostname }}", "deploy_run_name": runName(t),
		"deploy_token_file": w.dir + "/{{ inventory_hostname }}.token"}
	return w
}

func (w *undoWorld) versions(t *testing.T, hosts int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := 1; i <= hosts; i++ {
		b, err := os.ReadFile(filepath.Join(w.dir, fmt.Sprintf("h%d.version", i)))
		if err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("h%d", i)] = strings.TrimSpace(string(b))
	}
	return out
}

func (w *undoWorld) steps(t *testing.T) string {
	t.Helper()
	b, _ := os.ReadFile(w.log)
	return strings.Join(strings.Split(strings.TrimSpace(string(b)), "\n"), ", ")
}

// TestRollbackScopeAll: h3's release fails; with deploy_rollback_scope all
// the run rolls h3 back, then h2 and h1 (last moved first), and fails
// with h3's message; h4 is never touched. With scope host (today's
// behaviour) h1 and h2 stay on the new version.
func TestRollbackScopeAll(t *testing.T) {
	coll := ansibletest.Install(t)
	for _, tc := range []struct {
		scope, steps string
		want         map[string]string
	}{
		{"all", "deploy h1, deploy h2, deploy h3, rollback h3, rollback h2, rollback h1",
			map[string]string{"h1": "v1", "h2": "v1", "h3": "v1", "h4": "v1"}},
		{"host", "deploy h1, deploy h2, deploy h3, rollback h3",
			map[string]string{"h1": "v2", "h2": "v2", "h3": "v1", "h4": "v1"}},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			w := newUndoWorld(t, 4, "h3", "")
			w.vars["deploy_rollback_scope"] = tc.scope
			r := coll.PlaybookFile(t, "zerodowntime.rolling.deploy", ansibletest.Inventory(w.inv), ansibletest.Vars(w.vars))
			if r.ExitCode == 0 {
				t.Errorf("exit 0, want the failure of h3")
			}
			if got := w.steps(t); got != tc.steps {
				t.Errorf("steps ran: %s\nwant:      %s", got, tc.steps)
			}
			if got := w.versions(t, 4); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("versions at the end %v, want %v", got, tc.want)
			}
			msg := failMsg(r)
			for _, want := range []string{"h3: the deploy step failed", "broken release", "It was rolled back"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the failure %q lacks %q", msg, want)
				}
			}
			if tc.scope == "all" && !strings.Contains(msg, "Rolled back: h2, h1.") {
				t.Errorf("the failure %q does not say h2 and h1 were rolled back", msg)
			}
		})
	}
}

// failMsg is the message of the run's "Rollout failed" task, whichever
// host ran it.
func failMsg(r *ansibletest.Run) string {
	var msgs []string
	for _, hosts := range r.Tasks("Rollout failed") {
		for _, res := range hosts {
			if m, ok := res["msg"].(string); ok && res["failed"] == true {
				msgs = append(msgs, m)
			}
		}
	}
	for _, hosts := range r.Tasks("zerodowntime.rolling.deploy : Rollout failed") {
		for _, res := range hosts {
			if m, ok := res["msg"].(string); ok && res["failed"] == true {
				msgs = append(msgs, m)
			}
		}
	}
	return strings.Join(msgs, " | ")
}

// TestUndoAfterInterruption: ansible-playbook is killed while h2's deploy
// step runs (h1 done, h3 not reached). The undo playbook, with the same
// variables, rolls back h2 then h1 from the run record and leaves h3
// alone; run again, it finds nothing left to do.
func TestUndoAfterInterruption(t *testing.T) {
	coll := ansibletest.Install(t)
	w := newUndoWorld(t, 3, "", "h2")
	vars, _ := json.Marshal(w.vars)
	inv := filepath.Join(w.dir, "inventory")
	if err := os.WriteFile(inv, []byte(w.inv), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ansible-playbook", "-i", inv, "zerodowntime.rolling.deploy", "-e", string(vars))
	cmd.Env = coll.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Bounded by the rollout of h1 and the start of h2's step.
	deadline := time.After(3 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(w.dir, "hanging")); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the rollout ended (%v) before h2's deploy step hung; steps: %s", err, w.steps(t))
		case <-deadline:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("waiting for h2's deploy step: it did not start within 3 minutes; steps: %s", w.steps(t))
		case <-time.After(100 * time.Millisecond):
		}
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	if got := w.steps(t); got != "deploy h1, deploy h2" {
		t.Fatalf("before the kill: %s, want h1 and h2 deployed", got)
	}

	undo := func() *ansibletest.Run {
		return coll.PlaybookFile(t, "zerodowntime.rolling.undo", ansibletest.Inventory(w.inv), ansibletest.Vars(w.vars))
	}
	if r := undo(); r.ExitCode != 0 {
		t.Fatalf("undo exit %d", r.ExitCode)
	}
	if got, want := w.steps(t), "deploy h1, deploy h2, rollback h2, rollback h1"; got != want {
		t.Errorf("steps: %s\nwant:  %s", got, want)
	}
	if got := w.versions(t, 3); fmt.Sprint(got) != fmt.Sprint(map[string]string{"h1": "v1", "h2": "v1", "h3": "v1"}) {
		t.Errorf("versions after the undo: %v", got)
	}
	r := undo()
	if r.ExitCode != 0 || w.steps(t) != "deploy h1, deploy h2, rollback h2, rollback h1" {
		t.Errorf("a second undo (exit %d) ran steps: %s", r.ExitCode, w.steps(t))
	}
	if msg := r.Localhost(t, "Say what is rolled back")["msg"]; msg != "every host the run touched is back on the old version" {
		t.Errorf("the second undo says %q", msg)
	}
}

// TestScopeAllNeedsTheUndo: in a play of one's own, scope all without the
// undo playbook after it would turn a failed rollout into a run that ends
// as if it had succeeded: the role refuses it before touching a host.
func TestScopeAllNeedsTheUndo(t *testing.T) {
	coll := ansibletest.Install(t)
	w := newUndoWorld(t, 2, "h1", "")
	w.vars["deploy_rollback_scope"] = "all"
	r := coll.Playbook(t, `
- hosts: app
  gather_facts: false
  roles:
    - zerodowntime.rolling.deploy
`, ansibletest.Inventory(w.inv), ansibletest.Vars(w.vars))
	if r.ExitCode == 0 {
		t.Errorf("exit 0: a play with scope all and no undo playbook after it went ahead")
	}
	if got := w.steps(t); got != "" {
		t.Errorf("steps ran: %s; want none", got)
	}
	if msg, _ := r.Step("h1", "check")["msg"].(string); !strings.Contains(msg, "needs the playbook zerodowntime.rolling.undo imported after this play") {
		t.Errorf("h1's first task says %q", msg)
	}
}
