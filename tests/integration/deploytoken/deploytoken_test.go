// Package deploytoken runs zerodowntime.rolling.deploy_token through real
// ansible and ansible-playbook against the installed collection: missing
// arguments, check mode, apply, re-apply, diff and bad input.
package deploytoken

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

const lifecycle = `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: missing path
      zerodowntime.rolling.deploy_token: {}
      ignore_errors: true

    - name: check mode
      zerodowntime.rolling.deploy_token:
        path: "{{ path }}"
      check_mode: true
      register: checked

    - name: generate
      zerodowntime.rolling.deploy_token:
        path: "{{ path }}"
      register: generated

    - name: same token again
      zerodowntime.rolling.deploy_token:
        path: "{{ path }}"
        token: "{{ generated.token }}"
      register: again

    - name: the app reads what the module returned
      ansible.builtin.assert:
        that:
          - lookup('ansible.builtin.file', path) == generated.token
          - again.token == generated.token
`

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)

func TestLifecycle(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "DEPLOY_TOKEN")
	run := coll.Playbook(t, lifecycle, ansibletest.Vars(map[string]any{"path": path}))
	if run.ExitCode != 0 {
		t.Fatalf("exit %d", run.ExitCode)
	}

	missing := run.Localhost(t, "missing path")
	if msg, _ := missing["msg"].(string); missing["failed"] != true || !strings.Contains(msg, "missing required arguments: path") {
		t.Errorf("missing path: %v", missing)
	}

	checked := run.Localhost(t, "check mode")
	if checked["changed"] != true || checked["skipped"] == true || !tokenRE.MatchString(str(checked["token"])) {
		t.Errorf("check mode: want changed, not skipped, with a 32-character token; got %v", checked)
	}

	generated := run.Localhost(t, "generate")
	token := str(generated["token"])
	if generated["changed"] != true || !tokenRE.MatchString(token) || generated["path"] != path || generated["mode"] != "0640" {
		t.Fatalf("generate: %v", generated)
	}
	if token == str(checked["token"]) {
		t.Errorf("check mode and the real run made the same token %q", token)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != token {
		t.Errorf("the file holds %q, the result says %q", b, token)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %04o, want 0640", st.Mode().Perm())
	}

	again := run.Localhost(t, "same token again")
	if again["changed"] != false || again["token"] != token {
		t.Errorf("the same token again: want changed=false and the same token; got %v", again)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want the token file only", len(entries))
	}

	// A separate run with the same token changes nothing either.
	rerun := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: re-apply
      zerodowntime.rolling.deploy_token:
        path: "{{ path }}"
        token: "{{ token }}"
        mode: '0640'
`, ansibletest.Vars(map[string]any{"path": path, "token": token}))
	res := rerun.Localhost(t, "re-apply")
	if rerun.ExitCode != 0 || res["changed"] != false {
		t.Errorf("re-apply: exit %d, %v", rerun.ExitCode, res)
	}
	if stats := rerun.Stats()["localhost"]; stats["changed"] != 0 {
		t.Errorf("re-apply recap: %v", stats)
	}
}

func TestCheckModeDiff(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	path := filepath.Join(t.TempDir(), "DEPLOY_TOKEN")
	if err := os.WriteFile(path, []byte("old-token"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: token
      zerodowntime.rolling.deploy_token:
        path: "{{ path }}"
        token: new-token
`, ansibletest.Vars(map[string]any{"path": path}), ansibletest.Check(), ansibletest.Diff())
	res := run.Localhost(t, "token")
	if run.ExitCode != 0 || res["changed"] != true {
		t.Fatalf("exit %d, %v", run.ExitCode, res)
	}
	d, _ := res["diff"].(map[string]any)
	before, _ := d["before"].(map[string]any)
	after, _ := d["after"].(map[string]any)
	if before["content"] != "old-token" || before["mode"] != "0644" || after["content"] != "new-token" || after["mode"] != "0640" {
		t.Errorf("diff = %v", d)
	}
	if b, _ := os.ReadFile(path); string(b) != "old-token" {
		t.Errorf("check mode wrote %q", b)
	}
}

func TestBadInputNamesTheParameter(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	dir := t.TempDir()
	cases := []struct {
		name, args string
		want       []string
	}{
		{"symbolic mode", "path=" + dir + "/T mode=u=rw,g=r", []string{"mode: symbolic modes", "give an octal mode such as '0640'"}},
		{"length", "path=" + dir + "/T length=8", []string{"length: 8 is out of range", "from 16 to 256"}},
		{"owner", "path=" + dir + "/T owner=no-such-user-zdt", []string{`owner: no user named "no-such-user-zdt"`}},
		{"missing directory", "path=" + dir + "/missing/T", []string{"path: the directory " + dir + "/missing does not exist"}},
		{"misspelled", "path=" + dir + "/T lenght=20", []string{"Unsupported parameters for (deploy_token) module: lenght"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run, res := coll.AdHoc(t, "zerodowntime.rolling.deploy_token", tc.args)
			if run.ExitCode == 0 {
				t.Fatalf("want failure, got %v", res)
			}
			msg, _ := res["msg"].(string)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("msg %q lacks %q", msg, w)
				}
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failing runs left %d entries in %s", len(entries), dir)
	}
}

// TestSymlinkRefused: a link at path, dangling or not, planted in a
// directory the app's user owns, is refused through Ansible too: the file it
// names is neither created nor changed, and the link stays.
func TestSymlinkRefused(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	dir := t.TempDir()
	for _, dangling := range []bool{true, false} {
		victim := filepath.Join(dir, "victim")
		os.Remove(victim)
		if !dangling {
			if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, "DEPLOY_TOKEN")
		os.Remove(path)
		if err := os.Symlink(victim, path); err != nil {
			t.Fatal(err)
		}
		run, res := coll.AdHoc(t, "zerodowntime.rolling.deploy_token", "path="+path)
		msg, _ := res["msg"].(string)
		if run.ExitCode == 0 || !strings.Contains(msg, "path: "+path+" is a symbolic link (to "+victim+")") {
			t.Errorf("dangling %v: exit %d, msg %q; want a path error about the link", dangling, run.ExitCode, msg)
		}
		b, err := os.ReadFile(victim)
		if dangling && err == nil || !dangling && string(b) != "keep" {
			t.Errorf("dangling %v: the link's target holds %q (%v)", dangling, b, err)
		}
		if dest, err := os.Readlink(path); err != nil || dest != victim {
			t.Errorf("dangling %v: the link is now %q (%v)", dangling, dest, err)
		}
	}
}

func str(v any) string { s, _ := v.(string); return s }
