package role

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// batchesRun runs the collection's playbook (strategy free) on hosts h1 to
// hN, serial at a time, with deploy_lb none and a deploy step that appends
// "host unix-time" to a log and fails on failHost. It returns the run and
// the deploy step's start time per host.
func batchesRun(t *testing.T, hosts int, serial any, failHost string, vars map[string]any) (*ansibletest.Run, map[string]float64) {
	t.Helper()
	coll := ansibletest.Install(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	log := filepath.Join(dir, "deployed")
	step := fmt.Sprintf(`- name: note the deploy
  ansible.builtin.shell: echo "{{ inventory_hostname }} $(date +%%s.%%N)" >> %s
  changed_when: true
- name: fail on one host
  ansible.builtin.fail:
    msg: broken release
  when: inventory_hostname == %q
`, log, failHost)
	tasks := filepath.Join(dir, "deploy.yml")
	if err := os.WriteFile(tasks, []byte(step), 0o644); err != nil {
		t.Fatal(err)
	}
	inv := "[app]\n"
	for i := 1; i <= hosts; i++ {
		inv += fmt.Sprintf("h%d ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n", i)
	}
	v := map[string]any{"deploy_lb": "none", "deploy_serial": serial, "deploy_tasks_file": tasks,
		"deploy_verify_url": srv.URL + "/", "deploy_run_name": runName(t)}
	for k, x := range vars {
		v[k] = x
	}
	r := coll.PlaybookFile(t, "zerodowntime.rolling.deploy", ansibletest.Inventory(inv), ansibletest.Vars(v))
	out, _ := os.ReadFile(log)
	started := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			started[f[0]], _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return r, started
}

// TestPlaybookStopsAtTheFirstFailedHost: under the playbook's free strategy
// (which ignores max_fail_percentage), a host that fails in one batch stops
// every later batch at the role's first task, before anything is touched,
// with a message naming the failed host; the failed host's own batch
// finishes.
func TestPlaybookStopsAtTheFirstFailedHost(t *testing.T) {
	r, started := batchesRun(t, 5, 2, "h2", nil)
	if r.ExitCode == 0 {
		t.Fatalf("exit 0, want the rollout to fail at h2")
	}
	for _, h := range []string{"h1", "h2"} {
		if _, ok := started[h]; !ok {
			t.Errorf("%s (first batch) never ran the deploy step; ran: %v", h, started)
		}
	}
	for _, h := range []string{"h3", "h4", "h5"} {
		if _, ok := started[h]; ok {
			t.Errorf("%s ran the deploy step after h2 failed in an earlier batch", h)
		}
	}
	if v := r.Step("h1", "verify"); v == nil || v["failed"] == true {
		t.Errorf("h1's Verify = %v: h1 shares h2's batch and must finish its cycle", v)
	}
	want := "the rollout stopped before h3 (not touched): h2 failed earlier in this play"
	if msg, _ := r.Step("h3", "check")["msg"].(string); msg != want {
		t.Errorf("h3's first task says %q, want %q", msg, want)
	}
	if strings.Contains(r.Stderr, "max_fail_percentage") {
		t.Errorf("ansible-playbook warned about max_fail_percentage:\n%s", r.Stderr)
	}
}

// TestCanaryPauseOnce: deploy_canary_pause holds the second batch back
// until that many seconds after the first batch's last host; the hosts of
// later batches do not pause.
func TestCanaryPauseOnce(t *testing.T) {
	const pause = 3
	r, started := batchesRun(t, 3, 2, "", map[string]any{"deploy_canary_pause": pause})
	if r.ExitCode != 0 {
		t.Fatalf("exit %d, want 0", r.ExitCode)
	}
	for h, want := range map[string]bool{"h1": true, "h2": true, "h3": false} {
		paused := r.Step(h, "pause")
		if got := paused != nil && paused["skipped"] != true && paused["failed"] != true; got != want {
			t.Errorf("%s paused: %v, want %v (%v)", h, got, want, paused)
		}
	}
	if len(started) != 3 {
		t.Fatalf("deploy step started on %v, want h1, h2 and h3", started)
	}
	// Lower bound only: the second batch starts at least the pause after
	// the first batch's deploy steps.
	if gap := started["h3"] - max(started["h1"], started["h2"]); gap < pause {
		t.Errorf("h3 started %.1fs after the first batch's deploys, want at least the %ds pause", gap, pause)
	}
}
