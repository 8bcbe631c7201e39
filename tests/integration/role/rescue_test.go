package role

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// renamedTask matches a task's name line in the role's tasks files.
var renamedTask = regexp.MustCompile(`(?m)^(\s*- name: )(.+)$`)

// renamed copies the installed collection with every task of the role
// renamed, so that a rescue that knows the failed step from a task's name
// reports them all as "deploy".
func renamed(t *testing.T, coll *ansibletest.Collection) *ansibletest.Collection {
	t.Helper()
	dst := t.TempDir()
	tasks := filepath.Join("ansible_collections", "zerodowntime", "rolling", "roles", "deploy", "tasks")
	n := 0
	err := filepath.WalkDir(coll.CollectionsPath, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(coll.CollectionsPath, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if filepath.Dir(rel) == tasks {
			n += len(renamedTask.FindAll(b, -1))
			b = renamedTask.ReplaceAll(b, []byte("${1}${2} (renamed)"))
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying the collection: %v", err)
	}
	if n == 0 {
		t.Fatalf("no task renamed in %s", tasks)
	}
	return &ansibletest.Collection{
		CollectionsPath: dst,
		Root:            filepath.Join(dst, "ansible_collections", "zerodowntime", "rolling"),
		Tarball:         coll.Tarball,
	}
}

// TestRescueNamesTheFailedStep: when the drain, the verify or the register
// fails, the rollout's failure names that step, and the rescue does what
// that step calls for (a failed register takes the host out again, also
// after a rollback), with every task of the role renamed.
func TestRescueNamesTheFailedStep(t *testing.T) {
	coll := renamed(t, ansibletest.Install(t))
	// web2 keeps the backend above the role's default min_healthy (1).
	app, app2 := haproxytest.StartApp(t, "web1"), haproxytest.StartApp(t, "web2")
	lb := haproxytest.Start(t, haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www",
		Servers: []haproxytest.Server{{Name: "web1", Addr: app.Addr}, {Name: "web2", Addr: app2.Addr}}}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()

	// The deploy and the rollback step each leave a fact behind, which
	// the variables below turn into a failure of a later step.
	dir := t.TempDir()
	deploy, rollback := filepath.Join(dir, "deploy.yml"), filepath.Join(dir, "rollback.yml")
	for f, fact := range map[string]string{deploy: "deployed", rollback: "rolled_back"} {
		step := fmt.Sprintf("- name: Leave %s\n  ansible.builtin.set_fact:\n    %s: true\n", fact, fact)
		if err := os.WriteFile(f, []byte(step), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inv := fmt.Sprintf(`all:
  vars: {ansible_connection: local, ansible_python_interpreter: /usr/bin/python3}
  hosts:
    app1: {}
    lb1: {deploy_haproxy_socket: %q}
`, lb.Socket)
	play := "- hosts: app1\n  gather_facts: false\n  roles:\n    - zerodowntime.rolling.deploy\n"

	for _, c := range []struct {
		name string
		vars map[string]any
		want []string
		// drains is the min_healthy of each drain that ran, in order.
		drains []float64
	}{
		{"drain", map[string]any{"deploy_haproxy_backend": "gone"},
			[]string{"the drain step failed (drain haproxy on lb1)", `backend "gone" not found`, "It may be partly drained"}, nil},
		{"verify", map[string]any{},
			[]string{"the verify step failed (verify on app1)", "It was left out of rotation"}, nil},
		{"register", map[string]any{"deploy_haproxy_backend": "{{ 'gone' if deployed | default(false) else 'www' }}",
			"deploy_verify_url": srv.URL + "/ok"},
			[]string{"the register step failed (register haproxy on lb1)", "taking it out again failed too"},
			// Taken out again without min_healthy: it is not healthy.
			[]float64{1, 0}},
		{"register after a rollback", map[string]any{"deploy_rollback_tasks_file": rollback,
			"deploy_haproxy_backend": "{{ 'gone' if rolled_back | default(false) else 'www' }}",
			"deploy_verify_url":      "{{ '" + srv.URL + "/' ~ ('ok' if rolled_back | default(false) else 'bad') }}"},
			[]string{"the verify step failed (verify on app1)", "the rollback failed too", "taking it out again failed too"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]any{
				"deploy_lb": "haproxy", "deploy_haproxy_hosts": []string{"lb1"},
				"deploy_haproxy_server": "web1", "deploy_haproxy_backend": "www",
				"deploy_tasks_file": deploy, "deploy_verify_url": srv.URL + "/bad",
				"deploy_verify_timeout": 1, "deploy_drain_timeout": 30, "deploy_register_timeout": 30,
			}
			for k, v := range c.vars {
				vars[k] = v
			}
			r := coll.Playbook(t, play, ansibletest.Inventory(inv), ansibletest.Vars(vars))
			res := r.Task("zerodowntime.rolling.deploy : Rollout failed (renamed)")["app1"]
			msg, _ := res["msg"].(string)
			if r.ExitCode == 0 || msg == "" {
				t.Fatalf("exit %d, want the rollout to fail with a message:\n%s", r.ExitCode, r.Stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the failure says\n%s\nwant it to say %q", msg, w)
				}
			}
			// An item runs only after every earlier item of its loop
			// passed: after a failed verify, the register never ran
			// (TestLoopItemsRunAfterAFailedOne shows that a plain loop
			// would have run it).
			if c.name == "verify" {
				if reg := r.Step("app1", "register_haproxy"); reg == nil || reg["skipped"] != true {
					t.Errorf("the register item after the failed verify: %v, want it skipped", reg)
				}
			}
			if c.drains != nil {
				if got := drainMinHealthy(r); !slices.Equal(got, c.drains) {
					t.Errorf("the drains ran with min_healthy %v, want %v", got, c.drains)
				}
			}
		})
	}
}

// drainMinHealthy is the min_healthy each HAProxy drain of app1 ran with,
// in order (from the items' invocations).
func drainMinHealthy(r *ansibletest.Run) []float64 {
	var out []float64
	for _, m := range r.Steps("app1", "drain_haproxy") {
		inv, _ := m["invocation"].(map[string]any)
		args, _ := inv["module_args"].(map[string]any)
		if v, ok := args["min_healthy"].(float64); ok {
			out = append(out, v)
		}
	}
	return out
}
