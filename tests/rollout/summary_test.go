package rollout

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// summaryJSON is a rollout callback summary as the callback writes it
// (tests/unit/plugins/callback runs the real one): app-2's watch failed
// and it was rolled back, app-3 was never reached.
const summaryJSON = `{
  "version": 1, "playbook": "deploy.yml", "check_mode": false, "elapsed": 41.3, "ok": false,
  "failed": {"host": "app-2", "phase": "deploy", "step": "watch", "reason": "app-2: the watch step failed"},
  "untouched": ["app-3"],
  "hosts": [
    {"name": "app-1", "status": "ok", "phases": {"deploy": {"drain": 0.3, "deploy": 3.4, "verify": 0.2, "register": 0.4, "watch": 10.1}},
     "version_before": null, "version_after": "v2", "load_balancers": [{"kind": "haproxy", "name": "app", "on": "lb1"}],
     "failed_step": null, "reason": null, "watch": [{"passed": true, "window": 10, "elapsed": 10.1, "signals": []}]},
    {"name": "app-2", "status": "failed", "phases": {"deploy": {"drain": 0.3, "deploy": 3.3, "verify": 0.2, "register": 0.4, "watch": 4.2},
     "rollback": {"rollback": 3.1, "verify": 0.2}}, "version_before": null, "version_after": "v1", "load_balancers": [],
     "failed_step": "watch", "reason": "app-2: the watch step failed",
     "watch": [{"passed": false, "window": 10, "elapsed": 4.2, "signals": [{"name": "probe", "errors": 3}], "msg": "..."}]},
    {"name": "app-3", "status": "untouched", "phases": {}, "version_before": null, "version_after": null,
     "load_balancers": [], "failed_step": null, "reason": null, "watch": []}
  ]
}`

func TestReadSummary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SummaryFileName)
	if err := os.WriteFile(path, []byte(summaryJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSummary(path)
	if err != nil {
		t.Fatal(err)
	}
	times := s.hostTimes()
	if want := (HostTimes{Drain: 0.3, Deploy: 3.3, Verify: 0.2, Register: 0.4, Watch: 4.2}); times["app-2"] != want {
		t.Errorf("app-2 times %+v, want %+v (the deploy phase only)", times["app-2"], want)
	}
	if _, ok := times["app-3"]; ok || len(times) != 2 {
		t.Errorf("times for %v, want app-1 and app-2", times)
	}
	if s.Failed.Step != "watch" || *s.Hosts[1].Watch[0].Passed || s.Hosts[0].VersionAfter != "v2" || s.Untouched[0] != "app-3" {
		t.Errorf("summary read as %+v", s)
	}

	if err := os.WriteFile(path, []byte(`{"version": 2}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSummary(path); err == nil || !strings.Contains(err.Error(), "version 2, want 1") {
		t.Errorf("ReadSummary of version 2: %v, want an error naming the version", err)
	}
}

// TestWriteSummaryShowsTheBadWindow: the demo's summary is the callback's
// table, then the clients' figures, with how long the bad release served
// against its watch window.
func TestWriteSummaryShowsTheBadWindow(t *testing.T) {
	s, err := func() (*Summary, error) {
		path := filepath.Join(t.TempDir(), SummaryFileName)
		if err := os.WriteFile(path, []byte(summaryJSON), 0o600); err != nil {
			return nil, err
		}
		return ReadSummary(path)
	}()
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{LB: "haproxy", Requests: 5000, Failed: 57, ExitCode: 2, Summary: s, Table: strings.TrimSpace(summaryFixture),
		ServedByHost: map[string]map[string]int64{"app-2": {"v1": 900, "v2": 233}},
		FailedByHost: map[string]map[string]int64{"app-2": {"v2": 57}}, FailedSpan: map[string][2]float64{"app-2": {31.25, 35.5}},
		FailedHost: "app-2", FailedMsg: "app-2: the watch step failed"}
	var b bytes.Buffer
	r.WriteSummary(&b, []string{"app-1", "app-2", "app-3"})
	out := b.String()
	for _, want := range []string{
		"\nROLLOUT SUMMARY, 23.0 s\n",
		"bad release     app-2 v2 answered 290 requests, 57 of them failed, from +31.2s to +35.5s (4.2 s); the watch window is 10 s\n",
		"DOWNTIME: 57 of 5000 requests failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "rollout failed on") {
		t.Errorf("the failure is said twice (the table says it):\n%s", out)
	}
}
