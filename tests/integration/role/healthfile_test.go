package role

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// TestHealthFileRescue: with deploy_hetzner_method health, a drain that
// fails after the health file was made on the app host removes it again,
// so the host passes its health checks as before; a health file the role
// may not touch (a symbolic link) stops the drain before anything changed
// and is left as it was. The Hetzner API refuses the token, so lb_drain
// fails at its first request. With another method, the file is passed on
// to lb_drain, which refuses it.
func TestHealthFileRescue(t *testing.T) {
	coll := ansibletest.Install(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"unauthorized","message":"unable to authenticate"}}`))
	}))
	defer api.Close()
	dir := t.TempDir()
	deploy := filepath.Join(dir, "deploy.yml")
	if err := os.WriteFile(deploy, []byte("- name: Deploy\n  ansible.builtin.debug: {msg: deployed}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inv := "app1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n" +
		"localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
	play := "- hosts: app1\n  gather_facts: false\n  roles:\n    - zerodowntime.rolling.deploy\n"
	for _, c := range []struct {
		name, want, method string
		link, reserve      bool
	}{
		// The reserve before the file (min_healthy above 0) fails at the
		// API: nothing is made on the app host.
		{name: "reserve fails", want: "unauthorized", reserve: true},
		{name: "drain fails", want: "unauthorized"},
		{name: "link", want: "is a symbolic link", link: true},
		{name: "method remove", want: "health_file is only used with method: health", method: "remove"},
	} {
		if c.method == "" {
			c.method = "health"
		}
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "down")
			if c.link {
				if err := os.Symlink(filepath.Join(dir, "victim"), file); err != nil {
					t.Fatal(err)
				}
			}
			// min_healthy 0 skips the reserve, so that the file is made
			// and the drain after it is what fails.
			minHealthy := 0
			if c.reserve {
				minHealthy = 1
			}
			r := coll.Playbook(t, play, ansibletest.Inventory(inv), ansibletest.Vars(map[string]any{
				"deploy_lb": "hetzner", "deploy_hetzner_load_balancers": []string{"web-lb"},
				"deploy_hetzner_endpoint": api.URL + "/v1", "deploy_hetzner_api_token": "wrong-token",
				"deploy_hetzner_method": c.method, "deploy_hetzner_health_file": file,
				"deploy_tasks_file": deploy, "deploy_drain_timeout": 10, "deploy_min_healthy": minHealthy,
			}))
			msg, _ := r.Task("zerodowntime.rolling.deploy : Rollout failed")["app1"]["msg"].(string)
			if r.ExitCode == 0 || !strings.Contains(msg, "the drain step failed") || !strings.Contains(msg, c.want) {
				t.Fatalf("exit %d, failure %q; want the drain step to fail with %q:\n%s", r.ExitCode, msg, c.want, r.Stdout)
			}
			made := r.Step("app1", "fail_health")
			undone := r.Task("zerodowntime.rolling.deploy : Pass the health check again")["app1"]
			if c.method != "health" {
				if made != nil || undone["skipped"] != true {
					t.Errorf("method %s touched the health file: %v, %v", c.method, made, undone)
				}
				return
			}
			if c.reserve {
				// Its item comes after the reserve's, which failed.
				if made == nil || made["skipped"] != true {
					t.Errorf("the health file task ran after the reserve failed: %v", made)
				}
				if _, err := os.Lstat(file); !os.IsNotExist(err) {
					t.Errorf("a health file exists after the failed reserve: %v", err)
				}
				return
			}
			if c.link {
				if dest, err := os.Readlink(file); err != nil || dest != filepath.Join(dir, "victim") {
					t.Errorf("the link is now %q (%v)", dest, err)
				}
				if _, err := os.Lstat(filepath.Join(dir, "victim")); err == nil {
					t.Errorf("the link's target was created")
				}
				if undone["skipped"] != true {
					t.Errorf("the rescue touched the health file after its own task failed: %v", undone)
				}
				return
			}
			if made["changed"] != true || undone["changed"] != true {
				t.Errorf("made %v, removed %v; want the file made on the app host, then removed by the rescue", made, undone)
			}
			if _, err := os.Lstat(file); !os.IsNotExist(err) {
				t.Errorf("health file still there after the failed drain: %v", err)
			}
		})
	}
}
