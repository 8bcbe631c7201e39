package plugin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/sshd"
)

// noPythonPlaybook runs the modules an app host runs, then a cloud module,
// on a host whose Python interpreter does not exist, and, as the control, a
// Python module that must fail there.
const noPythonPlaybook = `
- hosts: target
  gather_facts: false
  tasks:
    - name: token
      zerodowntime.rolling.deploy_token:
        path: "{{ token_path }}"
    - name: verify
      zerodowntime.rolling.deploy_verify:
        url: "{{ url }}"
        expect_body: v2
    - name: drain
      zerodowntime.rolling.lb_drain:
      ignore_errors: true
    - name: python module
      ansible.builtin.command: "true"
      ignore_errors: true
`

// TestNoPythonOnTheHost runs the modules over SSH with
// ansible_python_interpreter pointing nowhere: they need only a POSIX shell
// on the host, where any Python module fails.
func TestNoPythonOnTheHost(t *testing.T) {
	coll := ansibletest.Install(t)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "v2") }))
	defer app.Close()
	home := t.TempDir()
	// Count puts a proxy in front of sshd, which ends the sessions (and
	// Ansible's ControlPersist master) when the test ends.
	srv := sshd.Start(t, sshd.Options{Home: home, Count: true})
	vars := srv.Vars()
	vars["ansible_python_interpreter"] = "/nonexistent/python3"
	vars["url"] = app.URL
	vars["token_path"] = filepath.Join(home, "token")

	r := coll.Playbook(t, noPythonPlaybook, ansibletest.Inventory("target\n"), ansibletest.Vars(vars))

	token := r.Task("token")["target"]
	if token["failed"] == true {
		t.Fatalf("deploy_token without Python: %v", token)
	}
	if b, err := os.ReadFile(filepath.Join(home, "token")); err != nil || strings.TrimSpace(string(b)) != token["token"] {
		t.Errorf("deploy_token without Python: file %q (%v), task returned token %v", b, err, token["token"])
	}
	if res := r.Task("verify")["target"]; res["failed"] == true || res["status"] != float64(200) {
		t.Errorf("deploy_verify without Python: %v", res)
	}
	// lb_drain without options fails in the module itself: the full build ran.
	if msg, _ := r.Task("drain")["target"]["msg"].(string); !strings.Contains(msg, "missing required arguments") {
		t.Errorf("lb_drain without Python did not run: %q", msg)
	}
	py := r.Task("python module")["target"]
	if py["failed"] != true || !strings.Contains(fmt.Sprint(py["module_stdout"], py["module_stderr"], py["msg"]), "/nonexistent/python3") {
		t.Errorf("control: a Python module on the host should fail for the missing interpreter, got %v", py)
	}
}
