package reliability

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/rollout"
)

// TestConcurrency drains hosts side by side: ten hosts five at a time
// against one simulated Hetzner load balancer whose API budget is small (6
// requests, refilled at 1.2 a second), and batches larger than the pool can
// spare behind each load balancer kind, where min_healthy must hold across
// the batch (see the package doc).
func TestConcurrency(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:  "hetzner-10-hosts-serial-5-rate-limited",
			fault: "10 hosts, serial 5, min_healthy 3; Hetzner rate limit 6 requests refilled at 1.2/s",
			// A batch's five drains and registers share the API budget:
			// five hosts' dozen requests each at 1.2 a second, on top. The
			// drains take turns under the pool's lock, each until its
			// target is gone, which the budget slows to half a minute:
			// the last one's timeout covers the turns before it. The
			// batch's five registers share it too (a dozen requests
			// each at 1.2 a second): 30 s ran out on a busy machine.
			opts: rollout.Options{LB: "hetzner", Net: 121, Hosts: 10, Serial: 5, ExtraPerHost: 30 * time.Second,
				Vars: map[string]any{"deploy_min_healthy": 3, "deploy_drain_timeout": 180, "deploy_register_timeout": 120},
				Load: rollout.LoadOptions{Clients: 16, Pause: 25 * time.Millisecond},
				SimConfig: func(c *sim.Config) {
					// Tighter than the drains' turns under the lock
					// leave it: the registers and waits still hit it.
					c.Hetzner.RateLimit = sim.RateLimit{Limit: 6, Window: sim.Duration(5 * time.Second)}
				}},
			expect: completes,
			check: func(t *testing.T, w *world, r *rollout.Report) {
				c := w.api.counts()
				if c.Throttle == 0 {
					t.Errorf("no 429 in %d API requests: the budget was never hit, the test proves nothing", c.Requests)
				}
				m := w.mon.stats()
				if m.OutTogether > 5 {
					t.Errorf("%d hosts out of rotation at once, want at most serial (5)", m.OutTogether)
				}
				if m.MinIn < 3 {
					t.Errorf("only %d hosts in rotation at one point (%v), want at least min_healthy (3)", m.MinIn, m.MinInAt)
				}
				if t.Failed() {
					logDrains(t, r)
				}
			},
		},
		{
			name:  "hetzner-3-hosts-serial-3-min-healthy-2",
			fault: "3 hosts, serial 3, min_healthy 2; 5s Hetzner actions: every drain reads the pool before the first removal lands",
			opts: rollout.Options{LB: "hetzner", Net: 122, Serial: 3,
				Vars: map[string]any{"deploy_min_healthy": 2},
				SimConfig: func(c *sim.Config) {
					c.Hetzner.ActionDelay = sim.Duration(5 * time.Second)
				}},
			expect: completes,
			check:  checkCapacityHeld(2),
			// The AWS and HAProxy serial-3 scenarios take the same path.
			long: covered,
		},
		{
			name:  "aws-3-hosts-serial-3-min-healthy-2",
			fault: "3 hosts, serial 3, min_healthy 2; 1s ELBv2 API latency: every drain reads the group before the first deregistration",
			opts: rollout.Options{LB: "aws", Net: 123, Serial: 3,
				Vars: map[string]any{"deploy_min_healthy": 2},
				SimConfig: func(c *sim.Config) {
					c.Faults.AWS.Latency = sim.Duration(time.Second)
				}},
			expect: completes,
			check:  checkCapacityHeld(2),
		},
		{
			// Method health fails the app's own check on the app host: the
			// role reserves each host's place on the controller before it
			// makes the file, or the batch's three files would take all
			// three targets out at once.
			name:  "hetzner-health-3-hosts-serial-3-min-healthy-2",
			fault: "3 hosts, serial 3, min_healthy 2, deploy_hetzner_method health: the files are made on the app hosts",
			opts: rollout.Options{LB: "hetzner", Net: 43, Serial: 3, PrivateDir: true,
				Vars: map[string]any{"deploy_min_healthy": 2, "deploy_hetzner_method": "health",
					"deploy_hetzner_health_file": "{{ app_private_dir }}/down"}},
			expect: completes,
			check:  checkCapacityHeld(2),
		},
		{
			name:   "haproxy-3-hosts-serial-3-min-healthy-2",
			fault:  "3 servers, serial 3, min_healthy 2: the three drains start together",
			opts:   rollout.Options{LB: "haproxy", Net: 41, Serial: 3, Vars: map[string]any{"deploy_min_healthy": 2}},
			expect: completes,
			check:  checkCapacityHeld(2),
		},
		{
			// The role in a play of the user's own, under the default
			// linear strategy: a host of the batch cannot come back while
			// the batch's drain task runs, so waiting would only burn the
			// timeout; the drains that would break min_healthy fail at
			// once, untouched, and say what to change.
			name:     "haproxy-linear-serial-3-min-healthy-2",
			fault:    "3 servers, the role in a linear play with serial 3, min_healthy 2",
			opts:     rollout.Options{LB: "haproxy", Net: 42, Vars: map[string]any{"deploy_min_healthy": 2}},
			playbook: "- name: Deploy\n  hosts: app\n  serial: 3\n  gather_facts: false\n  roles:\n    - zerodowntime.rolling.deploy\n",
			expect:   either,
			check:    checkFailsFast(2),
		},
	})
}

// checkCapacityHeld: with more hosts in a batch than the pool can spare,
// min_healthy held throughout (as the monitor saw the load balancer), and
// the drains that would have broken it waited for capacity (lb_drain's and
// haproxy_maint's capacity_wait) instead of going ahead.
func checkCapacityHeld(minHealthy int) func(t *testing.T, w *world, r *rollout.Report) {
	return func(t *testing.T, w *world, r *rollout.Report) {
		t.Helper()
		m := w.mon.stats()
		if m.MinIn < minHealthy {
			t.Errorf("only %d hosts in rotation at one point (%v), want at least min_healthy (%d)", m.MinIn, m.MinInAt, minHealthy)
		}
		spare := len(w.s.Hosts) - minHealthy
		if m.OutTogether > spare {
			t.Errorf("%d hosts out of rotation at once, want at most %d", m.OutTogether, spare)
		}
		waited := drainWaits(r)
		if want := w.s.Opts.Serial - spare; len(waited) != want {
			t.Errorf("drains that waited for capacity: %v, want %d of the batch's %d", waited, want, w.s.Opts.Serial)
		}
		t.Logf("min_healthy %d: at least %d in rotation, at most %d out at once; capacity waits %v",
			minHealthy, m.MinIn, m.OutTogether, waited)
		if t.Failed() {
			logDrains(t, r)
		}
	}
}

// logDrains logs what each drain reported, for a failed check.
func logDrains(t *testing.T, r *rollout.Report) {
	t.Helper()
	for host, results := range r.StepResults("reserve", "drain_haproxy_ahead", "drain_haproxy", "drain_lb") {
		for _, res := range results {
			if res["skipped"] == true {
				continue
			}
			b, _ := json.Marshal(res)
			t.Logf("%s drain: %s", host, b)
		}
	}
}

// drainWaits is each host's capacity_wait, from its drain's result or its
// loop items' (one per HAProxy node), for the drains that waited.
func drainWaits(r *rollout.Report) map[string]float64 {
	out := map[string]float64{}
	for host, results := range r.StepResults("reserve", "drain_haproxy_ahead", "drain_haproxy", "drain_lb") {
		for _, m := range results {
			if w, _ := m["capacity_wait"].(float64); w > 0 {
				out[host] += w
			}
		}
	}
	return out
}

// checkFailsFast: under the linear strategy one host of the batch goes
// through its cycle; the drains that would break min_healthy failed at
// once without touching the load balancer, their hosts serve v1 in
// rotation, and the failures give the advice.
func checkFailsFast(minHealthy int) func(t *testing.T, w *world, r *rollout.Report) {
	return func(t *testing.T, w *world, r *rollout.Report) {
		t.Helper()
		if r.ExitCode == 0 {
			t.Errorf("ansible-playbook exit 0, want the refused drains to fail the rollout")
		}
		if m := w.mon.stats(); m.MinIn < minHealthy {
			t.Errorf("only %d hosts in rotation at one point (%v), want at least min_healthy (%d)", m.MinIn, m.MinInAt, minHealthy)
		}
		msgs := map[string]string{}
		for h, rs := range r.TaskResults("rollout failed") {
			for _, res := range rs {
				msgs[h], _ = res["msg"].(string)
			}
		}
		// One batch of every host, of which the pool spares
		// hosts − min_healthy: the other min_healthy are refused.
		if len(msgs) != minHealthy {
			t.Errorf("%d hosts failed (%v), want %d", len(msgs), msgs, minHealthy)
		}
		for _, h := range w.s.Hosts {
			msg, failed := msgs[h.Name]
			if !failed {
				if r.DirectAfter[h.Name] != "v2" {
					t.Errorf("%s went through (no failure) but serves %q", h.Name, r.DirectAfter[h.Name])
				}
				continue
			}
			for _, want := range []string{"the drain step failed", "min_healthy is 2", "nothing was changed", "smaller serial", "wait_for_capacity is false", "linear strategy", "It was not touched"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s's failure lacks %q: %q", h.Name, want, msg)
				}
			}
			if r.DirectAfter[h.Name] != "v1" || !r.LBAfter[h.Name].InRotation || w.mon.wasOut(h.Name) {
				t.Errorf("%s (refused) serves %q, is %q in the LB, was out at some point: %v; want v1, never out",
					h.Name, r.DirectAfter[h.Name], r.LBAfter[h.Name].State, w.mon.wasOut(h.Name))
			}
		}
		if waited := drainWaits(r); len(waited) > 0 {
			t.Errorf("drains waited for capacity under linear: %v", waited)
		}
	}
}
