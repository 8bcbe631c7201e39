package rollout

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

// watchWindow is the watch of the scenarios below: long enough that a
// watch that waited it out would show, short enough for make test. The
// probe needs min_requests (20) probes 0.2 s apart before it judges.
const watchWindow = 12

// watchVars turn the watch on; behind a cloud load balancer the role also
// probes the app's own root URL (which the errors release fails), since
// Hetzner reports target health only.
func watchVars(lb, scope string) map[string]any {
	v := map[string]any{
		"deploy_watch_seconds":    watchWindow,
		"deploy_rollback_scope":   scope,
		"deploy_watch_interval":   0.5,
		"deploy_register_timeout": 30,
	}
	switch lb {
	case "hetzner":
		v["deploy_watch_probe_url"] = "http://{{ app_addr }}/"
	case "aws":
		v["deploy_watch_alarms"] = []string{watchAlarm}
	}
	return v
}

// watchAlarm is a CloudWatch alarm on the 5xx of the target group (lbsim
// counts those its listener proxies). Its period is short so that it is
// OK again when the rolled-back host's own watch starts, a restart later.
const watchAlarm = "web-5xx"

func alarmOn5xx(cfg *sim.Config) {
	cfg.AWS.Alarms = append(cfg.AWS.Alarms, sim.Alarm{Name: watchAlarm, TargetGroup: awsTG,
		Threshold: 5, Period: sim.Duration(2 * time.Second)})
}

// TestWatch: a release that boots, serves its token and passes the load
// balancer's health checks, but answers a fifth of real requests with 500
// (demoapp -broken errors), goes out on app-2. Verify and register pass;
// the watch must catch it under load, take app-2 out, roll it back and
// stop the rollout before app-3; with deploy_rollback_scope all, app-1
// (already on the new version) is rolled back too (scope host is the same
// up to there: tests/integration/role TestRollbackScopeAll). A good release
// passes the same watch.
func TestWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rollout under load; skipped with -short")
	}
	coll := ansibletest.Install(t)
	errors := map[string]string{"app-2": "errors"}
	cases := []rolloutCase{
		{name: "haproxy-errors-all", opts: Options{LB: "haproxy", Net: 82, Rollback: true, Broken: errors,
			Vars: watchVars("haproxy", "all")}, check: checkWatchCaught("all", "max_error_ratio")},
		{name: "hetzner-errors-all", opts: Options{LB: "hetzner", Net: 83, Rollback: true, Broken: errors,
			Vars: watchVars("hetzner", "all")}, check: checkWatchCaught("all", "max_error_ratio")},
		{name: "aws-errors-all", opts: Options{LB: "aws", Net: 84, Rollback: true, Broken: errors, SimConfig: alarmOn5xx,
			Vars: watchVars("aws", "all")}, check: checkWatchCaught("all", `alarm "web-5xx" `)},
		{name: "haproxy-good", opts: Options{LB: "haproxy", Net: 85, Rollback: true,
			Vars: map[string]any{"deploy_watch_seconds": 5, "deploy_watch_interval": 0.5}}, check: checkWatchPassed},
	}
	runWatchCases(t, coll, cases)
}

// TestWatchNoFalseAlarm rolls a good release out ten times behind HAProxy
// with the watch on: not one may fail it. ZDT_LONG=1 (make test-long).
func TestWatchNoFalseAlarm(t *testing.T) {
	if testing.Short() || os.Getenv("ZDT_LONG") == "" {
		t.Skip("ten rollouts under load; set ZDT_LONG=1 (make test-long)")
	}
	coll := ansibletest.Install(t)
	var cases []rolloutCase
	for i := range 10 {
		lb := []string{"haproxy", "hetzner"}[i%2]
		v := watchVars(lb, "host")
		v["deploy_watch_seconds"] = 10
		cases = append(cases, rolloutCase{name: fmt.Sprintf("%s-%d", lb, i+1),
			opts: Options{LB: lb, Net: 86 + i%4, Rollback: true, Vars: v}, check: checkWatchPassed})
	}
	// One at a time: the nets are reused.
	for _, c := range cases {
		runWatchCases(t, coll, []rolloutCase{c})
	}
}

func runWatchCases(t *testing.T, coll *ansibletest.Collection, cases []rolloutCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(cases) > 1 {
				t.Parallel()
			}
			opts := c.opts
			opts.Load.Clients, opts.Load.Pause = 20, 20*time.Millisecond
			// The watch of each host and of a rolled-back one, and the
			// probe's baseline.
			opts.ExtraPerHost = 2*time.Duration(asSeconds(opts.Vars["deploy_watch_seconds"]))*time.Second + 5*time.Second
			ctx, s := setUp(t, coll, opts)
			r, err := s.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d requests, %d failed, exit %d, %.1fs; hosts %v", c.name, r.Requests, r.Failed, r.ExitCode, r.Elapsed, r.Hosts)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("report: %s", r.JSON())
					t.Logf("stderr: %s", r.Stderr)
				}
			})
			c.check(t, s, r)
		})
	}
}

func asSeconds(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// watchOf is the result of host's first watch item: its watch block.
func watchOf(r *Report, host string) map[string]any {
	for _, res := range r.StepResults("watch")[host] {
		if w, ok := res["watch"].(map[string]any); ok {
			return w
		}
	}
	return nil
}

// checkWatchCaught: app-2's watch failed early on signal, the
// rollout stopped before app-3, and the hosts ended as scope says, all in
// rotation; the requests that failed are the bad release's, in a window
// the watch cut short.
func checkWatchCaught(scope, signal string) func(t *testing.T, s *Scenario, r *Report) {
	return func(t *testing.T, s *Scenario, r *Report) {
		t.Helper()
		if r.ExitCode == 0 {
			t.Errorf("ansible-playbook exit 0; the watch must fail the rollout")
		}
		t.Logf("rollout failed msg (%s): %s", r.FailedHost, r.FailedMsg)
		for _, want := range []string{"app-2", "the watch step failed", signal, "rolled back"} {
			if !strings.Contains(r.FailedMsg, want) {
				t.Errorf("rollout failed msg lacks %q: %q", want, r.FailedMsg)
			}
		}
		want := map[string]string{"app-1": "v2", "app-2": "v1", "app-3": "v1"}
		if scope == "all" {
			want["app-1"] = "v1"
			if !strings.Contains(r.FailedMsg, "Rolled back: app-1") {
				t.Errorf("the message does not say app-1 was rolled back: %q", r.FailedMsg)
			}
		}
		for h, v := range want {
			if r.DirectAfter[h] != v || !r.LBAfter[h].InRotation {
				t.Errorf("%s serves %q directly and is %q in the LB; want %s in rotation", h, r.DirectAfter[h], r.LBAfter[h].State, v)
			}
		}
		for _, h := range r.Drained {
			if h == "app-3" {
				t.Errorf("app-3 was drained; the rollout must stop at app-2")
			}
		}
		w := watchOf(r, "app-2")
		if w == nil {
			t.Fatalf("app-2 has no watch result")
		}
		elapsed := asSeconds(w["elapsed"])
		if w["passed"] != false || elapsed <= 0 || elapsed >= watchWindow*0.6 {
			t.Errorf("app-2's watch: passed %v after %.1fs; want a failure well inside the %ds window", w["passed"], elapsed, watchWindow)
		}
		// Every failed request is one the bad release answered with 500
		// while it was in rotation: from its register to the end of the
		// drain after the watch.
		bad := r.FailedByHost["app-2"]["v2"]
		if bad == 0 || bad != r.Failed {
			t.Errorf("%d requests failed, %d of them 500s of app-2's bad release; want some, and no other", r.Failed, bad)
		}
		span := r.FailedSpan["app-2"]
		served := r.ServedByHost["app-2"]["v2"] + bad
		t.Logf("bad window: the bad release answered %d requests, %d of them with 500, over %.1f s from the first "+
			"failure to the last; its watch ended it after %.1f s of its %d s window (%d of %d requests failed in the run)",
			served, bad, span[1]-span[0], elapsed, watchWindow, r.Failed, r.Requests)
	}
}

// checkWatchPassed: the rollout went through with every host's watch
// passed and no request lost.
func checkWatchPassed(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	checkZeroDowntime(t, s, r)
	for _, h := range s.Hosts {
		w := watchOf(r, h.Name)
		if w == nil || w["passed"] != true {
			t.Errorf("%s's watch: %v; want passed", h.Name, w)
		}
	}
}
