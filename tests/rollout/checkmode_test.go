package rollout

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/notices"
)

// TestCheckMode: ansible-playbook --check on the demo's inventory, under
// load, ends in about the time its tasks take, none of the role's waits
// (their timeouts are set longer than that), prints each host's plan and
// changes nothing: every host stays in rotation on v1 with its token file.
func TestCheckMode(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end dry run under load; skipped with -short")
	}
	coll := ansibletest.Install(t)
	for _, c := range []struct {
		name string
		opts Options
		want func(h Host) []string // in the host's plan
		// fail is what the run must fail with on app-1 instead
		fail string
	}{
		{"haproxy", Options{LB: "haproxy", Net: 46}, func(h Host) []string {
			return []string{"drain haproxy on lb1: check mode: would set " + HAProxyBackend + "/" + h.Name + " to maint",
				"then wait", "register haproxy on lb1: check mode: " + HAProxyBackend + "/" + h.Name + " is ready already"}
		}, ""},
		{"hetzner", Options{LB: "hetzner", Net: 47}, func(Host) []string {
			return []string{"check mode: would deregister server", "from load balancer " + hetznerLB,
				"min_healthy 1", "is registered already in load balancer " + hetznerLB}
		}, ""},
		// A drain that min_healthy would refuse fails as it would in a
		// run, at once, and the message says nothing was changed. Behind
		// HAProxy a drained server stays listed, so a backend too small
		// for min_healthy is known at once (a cloud pool that a drain
		// shrinks waits for capacity instead).
		{"haproxy-min-healthy", Options{LB: "haproxy", Net: 48, Vars: map[string]any{"deploy_min_healthy": 3}}, nil,
			"the pool can never keep 3 other targets healthy while " + HAProxyBackend + "/app-1 is out: " +
				"lower min_healthy to 2 or less, or add targets; nothing was changed. Check mode: nothing was changed."},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := c.opts
			opts.Load.Clients, opts.Load.Pause = 10, 20*time.Millisecond
			_, s := setUp(t, coll, opts)
			s.Opts.Playbook = ExecPlaybook(coll.CollectionsPath, s.Dir(), "--check", "--diff")
			pace := coll.MeasurePace(t)
			// The run may take what its tasks take at this machine's pace
			// (times Margin); every timeout of the role is longer, so that
			// a step that waits on what check mode did not do breaks it.
			bound := Margin * s.Budget(pace.Startup, pace.PerTask).Ansible
			timeout := int((bound + 30*time.Second) / time.Second)
			s.Opts.Vars = map[string]any{"deploy_verify_timeout": timeout, "deploy_register_timeout": timeout,
				"deploy_drain_timeout": timeout}
			maps.Copy(s.Opts.Vars, c.opts.Vars)

			lbBefore, err := s.LBStates()
			if err != nil {
				t.Fatal(err)
			}
			tokens := readTokens(t, s)
			// Room for the old code's wait on the first host to end in
			// its own failure rather than this deadline.
			ctx, cancelRun := context.WithTimeout(context.Background(), bound+2*time.Duration(timeout)*time.Second)
			defer cancelRun()
			start := time.Now()
			r, err := s.Run(ctx)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s --check: exit %d in %.1fs (bound %s); %d requests, %d failed",
				c.name, r.ExitCode, took.Seconds(), bound.Round(time.Second), r.Requests, r.Failed)
			switch {
			case c.fail != "" && (r.ExitCode == 0 || !strings.Contains(r.FailedMsg, c.fail)):
				t.Errorf("exit %d, %s: %s; want a failure saying %q", r.ExitCode, r.FailedHost, r.FailedMsg, c.fail)
			case c.fail == "" && r.ExitCode != 0:
				t.Errorf("exit %d, want 0: %s: %s", r.ExitCode, r.FailedHost, r.FailedMsg)
			}
			if took > bound {
				t.Errorf("the dry run took %s, more than its tasks' %s: a step waited (timeouts %ds)",
					took.Round(100*time.Millisecond), bound.Round(time.Second), timeout)
			}

			plans := r.StepResults("plan")
			for _, h := range s.Hosts {
				if c.want == nil {
					break
				}
				var lines []string
				if rs := plans[h.Name]; len(rs) == 1 {
					for _, l := range asList(rs[0]["msg"]) {
						lines = append(lines, fmt.Sprint(l))
					}
				}
				plan := strings.Join(lines, "\n")
				t.Logf("plan of %s:\n%s", h.Name, plan)
				want := append(c.want(h),
					"check mode: would poll http://"+h.Addr+"/version",
					"after http://"+h.Addr+"/token serves the new deploy token",
					`JSON version = "v2"`,
					"would write the token to "+h.TokenFile())
				for _, w := range want {
					if !strings.Contains(plan, w) {
						t.Errorf("the plan of %s does not say %q:\n%s", h.Name, w, plan)
					}
				}
			}

			// Nothing changed: the load balancer, the apps, the token files.
			if !maps.Equal(r.LBAfter, lbBefore) {
				t.Errorf("load balancer after the dry run = %v, want it as before: %v", r.LBAfter, lbBefore)
			}
			if !sameVersions(r.DirectAfter, s.Hosts, "v1") {
				t.Errorf("versions asked directly after = %v, want v1 on every host", r.DirectAfter)
			}
			if after := readTokens(t, s); !maps.Equal(after, tokens) {
				t.Errorf("token files after the dry run = %v, want them as before: %v", after, tokens)
			}
			if r.Failed != 0 {
				t.Errorf("%d of %d requests failed: %q", r.Failed, r.Requests, r.Errors)
			}
			for _, d := range notices.Deprecations(r.Notices()) {
				t.Errorf("the dry run printed a %s", d)
			}
		})
	}
}

// readTokens is each host's token file's content.
func readTokens(t *testing.T, s *Scenario) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range s.Hosts {
		b, err := os.ReadFile(h.TokenFile())
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = string(b)
	}
	return out
}
