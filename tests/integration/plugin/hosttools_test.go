package plugin

import (
	"fmt"
	"os"
	"os/exec"
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
	home := t.TempDir()
	vars := hostVars(t, sshd.Options{Home: home})
	vars["ansible_python_interpreter"] = "/nonexistent/python3"
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
	if msg, ok := drainRanFullBuild(r); !ok {
		t.Errorf("lb_drain without Python did not run: %q", msg)
	}
	py := r.Task("python module")["target"]
	if py["failed"] != true || !strings.Contains(fmt.Sprint(py["module_stdout"], py["module_stderr"], py["msg"]), "/nonexistent/python3") {
		t.Errorf("control: a Python module on the host should fail for the missing interpreter, got %v", py)
	}
}

// TestNoHashToolOnTheHost: on a host with neither sha256sum nor shasum a
// cached build cannot be checked before use, so the modules run as Ansible
// runs any module, through its temporary directory, and the first task on
// the host says why, once.
func TestNoHashToolOnTheHost(t *testing.T) {
	coll := ansibletest.Install(t)
	// Without the two hashing tools.
	bin := hostPath(t, "uname", "cut", "mkdir", "chmod", "gzip", "cat", "mv", "rm", "sleep")
	home := t.TempDir()
	vars := hostVars(t, sshd.Options{Home: home, Path: bin})

	r := runPlaybook(t, coll, "no hash tool", ansibletest.Inventory("target\n"), ansibletest.Vars(vars))
	checkFallback(t, r, "neither sha256sum nor shasum")
	// Nothing would ever go into the cache: the probe does not create it.
	if _, err := os.Stat(filepath.Join(home, ansibletest.RemoteCacheDir)); !os.IsNotExist(err) {
		t.Errorf("the probe created the module cache on a host that cannot use it (stat: %v)", err)
	}
}

// TestCacheDirCannotBeCreated: where the remote user cannot create the
// cache (here ~/.ansible is a file; Ansible's own temporary directory is
// elsewhere, as remote_tmp allows), the modules run through Ansible's
// temporary directory, and the first task on the host says why, once.
func TestCacheDirCannotBeCreated(t *testing.T) {
	coll := ansibletest.Install(t)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".ansible"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	vars := hostVars(t, sshd.Options{Home: home})
	vars["ansible_remote_tmp"] = filepath.Join(home, "tmp")

	r := runPlaybook(t, coll, "no cache dir", ansibletest.Inventory("target\n"), ansibletest.Vars(vars))
	checkFallback(t, r, filepath.Join(home, ansibletest.RemoteCacheDir)+" cannot be created")
}

// checkFallback checks a run of playbook (by runPlaybook) on a host whose
// cache cannot be used: every task ran through Ansible's temporary
// directory (a PUT each, no build sent into the cache), and the first task
// alone warned, saying why (its warning holds reason).
func checkFallback(t *testing.T, r *ansibletest.Run, reason string) {
	t.Helper()
	var warned []string
	for _, task := range []string{"verify 1", "verify 2"} {
		if w, _ := r.Task(task)["target"]["warnings"].([]any); len(w) > 0 {
			warned = append(warned, fmt.Sprint(task, ": ", w))
		}
	}
	if len(warned) != 1 || !strings.HasPrefix(warned[0], "verify 1: ") || !strings.Contains(warned[0], reason) {
		t.Errorf("warnings %q, want one, on the first task, saying %q", warned, reason)
	}
	if sent := sendRE.FindAllString(r.Stdout, -1); len(sent) != 0 {
		t.Errorf("builds sent into the cache, which cannot be used here: %v", sent)
	}
	if n := strings.Count(r.Stdout, "PUT "); n < 3 {
		t.Errorf("%d PUTs into Ansible's temporary directory, want one per task (3)", n)
	}
}

// TestMinimalHost: on a host without gzip, find and touch, which the
// plugin uses when they are there, the builds go to the cache as they are
// and a second run finds them. The cache needs ls, to check who can write
// its directories.
func TestMinimalHost(t *testing.T) {
	coll := ansibletest.Install(t)
	bin := hostPath(t, "uname", "cut", "mkdir", "chmod", "sha256sum", "cat", "mv", "rm", "sleep", "ls")
	vars := hostVars(t, sshd.Options{Home: t.TempDir(), Path: bin})
	for i, want := range []int{2, 0} {
		r := runPlaybook(t, coll, fmt.Sprintf("run %d without gzip", i+1), ansibletest.Inventory("target\n"), ansibletest.Vars(vars))
		sent := sendRE.FindAllString(r.Stdout, -1)
		if len(sent) != want {
			t.Errorf("run %d sent %d builds into the cache, want %d: %v", i+1, len(sent), want, sent)
		}
		for _, s := range sent {
			if !strings.HasPrefix(s, "cat > ") {
				t.Errorf("run %d: a build sent with %q on a host without gzip", i+1, s)
			}
		}
	}
}

// hostPath returns a directory of links to the named tools, the PATH of a
// host that has only those.
func hostPath(t *testing.T, tools ...string) string {
	t.Helper()
	bin := t.TempDir()
	for _, tool := range tools {
		path, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found: %v", tool, err)
		}
		if err := os.Symlink(path, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// hostVars starts an SSH host with opts (a byte-counting proxy in front,
// which ends the sessions and Ansible's ControlPersist master when the
// test ends) and returns the variables that reach it, with url set to an
// app that answers v2.
func hostVars(t *testing.T, opts sshd.Options) map[string]any {
	t.Helper()
	opts.Count = true
	vars := sshd.Start(t, opts).Vars()
	vars["url"] = v2App(t)
	return vars
}
