package lb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

const healthFilePlay = `
- hosts: localhost
  gather_facts: false
  vars:
    hz: &hz
      provider: hetzner
      api_token: "{{ token }}"
      endpoint: "{{ hcloud_api }}"
      load_balancer: web-lb
      target: app-1
      method: health
      health_file: "{{ health_file }}"
      timeout: 20
  tasks:
    - name: drain through a link
      zerodowntime.rolling.lb_drain: *hz
      ignore_errors: true
    - name: register through a link
      zerodowntime.rolling.lb_register: *hz
      ignore_errors: true
`

// TestHealthFileLinkRefused: through ansible-playbook against lbsim, a
// dangling link the app's user planted at health_file makes lb_drain and
// lb_register fail naming health_file; the file the link names is not
// created, the link stays, and the load balancer is left as it was.
func TestHealthFileLinkRefused(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	w := startWorld(t)
	dir := t.TempDir()
	victim := filepath.Join(dir, "nologin")
	link := filepath.Join(dir, "maintenance")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	run := coll.Playbook(t, healthFilePlay, ansibletest.Vars(map[string]any{"token": hzToken, "hcloud_api": w.ep.HetznerAPI, "health_file": link}))
	if run.ExitCode != 0 {
		t.Fatalf("ansible-playbook exit %d:\n%s\n%s", run.ExitCode, run.Stdout, run.Stderr)
	}
	for _, task := range []string{"drain through a link", "register through a link"} {
		res := run.Task(task)["localhost"]
		msg, _ := res["msg"].(string)
		if res["failed"] != true || res["changed"] != false || !strings.HasPrefix(msg, "health_file: "+link+" is a symbolic link (to "+victim+")") {
			t.Errorf("%s: failed %v, changed %v, msg %q; want a health_file error", task, res["failed"], res["changed"], msg)
		}
	}
	if b, err := os.ReadFile(victim); err == nil {
		t.Errorf("the link's target was created: %q", b)
	}
	if dest, err := os.Readlink(link); err != nil || dest != victim {
		t.Errorf("the link is now %q (%v)", dest, err)
	}
	if st := w.sim.State(); len(st.Hetzner.LoadBalancers[0].Targets) != 3 || len(st.Hetzner.Actions) != 0 {
		t.Errorf("lbsim changed: targets %v, actions %v", st.Hetzner.LoadBalancers[0].Targets, st.Hetzner.Actions)
	}
}
