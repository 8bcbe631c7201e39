package reliability

import (
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/rollout"
)

// TestFaults rolls v2 over three hosts behind lbsim under load while the
// cloud misbehaves. Transient faults (bursts of 500/503 and 429, a slow
// API, a target whose health flaps but comes back) must be ridden out by
// the modules' retries inside their timeouts: the rollout completes.
// Lasting faults (every action failing, the metadata service down with
// target: auto, a target that never settles) must stop the rollout at the
// host they hit, with a message that says what was observed. Either way
// no user request fails, no host is left registered while broken, and the
// hosts not reached still serve v1 in rotation.
func TestFaults(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:  "hetzner-5xx-bursts",
			fault: "Hetzner API: bursts of 3 failed requests, in turn 500 server_error and 503 unavailable, after every 3 answered",
			opts:  rollout.Options{LB: "hetzner", Net: 101, ExtraPerHost: retries},
			arm: func(w *world) {
				bursts(w, 3, func(i int) sim.Faults {
					return sim.Faults{Hetzner: sim.APIFaults{FailNext: 3, FailCode: []string{"server_error", "unavailable"}[i%2]}}
				})
			},
			expect: completes,
			check:  sawAPI(func(c apiCounts) bool { return c.ByStatus[500] >= 6 && c.ByStatus[503] >= 6 }, "6 500s and 6 503s"),
		},
		{
			name:  "hetzner-429-bursts",
			fault: "Hetzner API: bursts of 2 answers 429 rate_limit_exceeded after every 4 answered",
			opts:  rollout.Options{LB: "hetzner", Net: 102, ExtraPerHost: retries},
			arm: func(w *world) {
				bursts(w, 4, func(int) sim.Faults { return sim.Faults{Hetzner: sim.APIFaults{ThrottleNext: 2}} })
			},
			expect: completes,
			check:  sawAPI(func(c apiCounts) bool { return c.Throttle >= 8 }, "8 429s"),
			// aws-5xx-and-throttle-bursts rides out throttling.
			long: covered,
		},
		{
			name:  "hetzner-slow-api",
			fault: "Hetzner API: 600ms added to every request",
			opts:  rollout.Options{LB: "hetzner", Net: 103, ExtraPerHost: slowAPI},
			arm: func(w *world) {
				w.setFaults(sim.Faults{Hetzner: sim.APIFaults{Latency: sim.Duration(600 * time.Millisecond)}})
			},
			expect: completes,
		},
		{
			name:  "aws-5xx-and-throttle-bursts",
			fault: "ELBv2 API: bursts of 2 failed requests, in turn 500 InternalFailure, 503 ServiceUnavailable and 400 Throttling, after every 2 answered",
			opts:  rollout.Options{LB: "aws", Net: 104, ExtraPerHost: retries},
			arm: func(w *world) {
				// Six bursts must fit in the rollout's API requests,
				// fewer on a busy machine (43 on one: the waits poll
				// less often while ansible-playbook is slow).
				bursts(w, 2, func(i int) sim.Faults {
					switch i % 3 {
					case 0:
						return sim.Faults{AWS: sim.APIFaults{FailNext: 2, FailCode: "InternalFailure"}}
					case 1:
						return sim.Faults{AWS: sim.APIFaults{FailNext: 2, FailCode: "ServiceUnavailable"}}
					}
					return sim.Faults{AWS: sim.APIFaults{ThrottleNext: 2}}
				})
			},
			expect: completes,
			check: sawAPI(func(c apiCounts) bool {
				return c.ByStatus[500] >= 4 && c.ByStatus[503] >= 4 && c.Throttle >= 4
			}, "4 each of 500, 503 and Throttling"),
		},
		{
			name:  "aws-slow-api",
			fault: "ELBv2 API: 600ms added to every request",
			opts:  rollout.Options{LB: "aws", Net: 105, ExtraPerHost: slowAPI},
			arm: func(w *world) {
				w.setFaults(sim.Faults{AWS: sim.APIFaults{Latency: sim.Duration(600 * time.Millisecond)}})
			},
			expect: completes,
			// hetzner-slow-api is the slow API in make test.
			long: covered,
		},
		{
			name:  "hetzner-flap-settles",
			fault: "app-2's health checks flap (1.5s passing, 1.5s failing) until app-2 is back in rotation on v2, then pass",
			// Until the flapping stops: a few periods.
			opts: rollout.Options{LB: "hetzner", Net: 106, ExtraPerHost: 6 * time.Second},
			arm: func(w *world) {
				w.setFaults(sim.Faults{Health: []sim.HealthFault{{Target: w.host("app-2").IP(), Mode: "flap", Period: sim.Duration(1500 * time.Millisecond)}}})
				var once sync.Once
				w.mon.then(func(st map[string]rollout.TargetState) {
					if w.mon.wasOut("app-2") && st["app-2"].InRotation && !w.down("app-2") {
						once.Do(func() {
							w.note("app-2 back in rotation: flapping stops")
							w.setFaults(sim.Faults{})
						})
					}
				})
			},
			expect: completes,
		},
		{
			name:  "hetzner-actions-fail",
			fault: "Hetzner actions: once app-1 is done, every action ends in error action_failed",
			opts:  rollout.Options{LB: "hetzner", Net: 107},
			arm: func(w *world) {
				afterFirstHost(w, func() {
					w.setFaults(sim.Faults{Actions: sim.ActionFaults{FailRate: 1}})
				})
			},
			expect:  stops,
			stopsAt: "app-2",
			step:    "drain",
			words:   []string{"remove_target", "web-lb", "action_failed"},
		},
		{
			name:  "hetzner-metadata-down",
			fault: "metadata service: down (connections closed) once app-1 is done; target: auto",
			opts:  rollout.Options{LB: "hetzner", Net: 108},
			arm: func(w *world) {
				targetAuto(w)
				afterFirstHost(w, func() {
					w.setFaults(sim.Faults{Metadata: sim.MetadataFaults{Down: true}})
				})
			},
			expect:  stops,
			stopsAt: "app-2",
			step:    "drain",
			words:   []string{"cannot read instance-id from the hetzner metadata service"},
		},
		{
			name:  "aws-flap-never-settles",
			fault: "app-2's health checks flap every 400ms, checked every 100ms with thresholds 6/6: it never settles",
			opts: rollout.Options{LB: "aws", Net: 109,
				Vars: map[string]any{"deploy_register_timeout": 8},
				SimConfig: func(c *sim.Config) {
					hc := &c.AWS.TargetGroups[0].HealthCheck
					hc.Interval = sim.Duration(100 * time.Millisecond)
					hc.HealthyThreshold, hc.UnhealthyThreshold = 6, 6
				}},
			arm: func(w *world) {
				w.setFaults(sim.Faults{Health: []sim.HealthFault{{Target: w.host("app-2").IP(), Mode: "flap", Period: sim.Duration(400 * time.Millisecond)}}})
			},
			expect:  stops,
			stopsAt: "app-2",
			step:    "register",
			// Whether the flapping checks leave it "initial" until the
			// timeout or line up into "unhealthy" depends on scheduling;
			// both stop the rollout at the register step, which is what
			// is asserted.
			words: []string{"web-tg", "i-0000000000000002"},
			// Whether a flapping target ever lines up enough passes to
			// settle depends on scheduling on a loaded machine.
			long: timingSensitive,
		},
	})
}

// What the faults that arm sets add to each host's steps, for the
// scenarios' deadlines (rollout.Options.ExtraPerHost): a burst's failed
// requests are retried after 250 ms, then 0.5, 1, 2 s; a slow API adds its
// 600 ms to each of a drain's and a register's dozen requests.
const (
	retries = 8 * time.Second
	slowAPI = 12 * 600 * time.Millisecond
)

// sawAPI checks that the fault really reached the modules.
func sawAPI(ok func(apiCounts) bool, what string) func(t *testing.T, w *world, r *rollout.Report) {
	return func(t *testing.T, w *world, r *rollout.Report) {
		t.Helper()
		if c := w.api.counts(); !ok(c) {
			t.Errorf("the modules never saw %s: %+v; the fault did not happen", what, c)
		}
	}
}

// bursts arms burst(0), burst(1), ... one after the other: each once the
// previous one is used up and the modules got gap answers since. A burst
// counts requests, not time, so every one of them reaches a module however
// the rollout's timing falls.
func bursts(w *world, gap int, burst func(i int) sim.Faults) {
	i, armed, okAt := 0, false, int64(0)
	w.every(100*time.Millisecond, func(int) {
		f := w.s.Sim.Faults()
		left := f.Hetzner.FailNext + f.Hetzner.ThrottleNext + f.AWS.FailNext + f.AWS.ThrottleNext
		ok := w.api.counts().ByStatus
		answered := ok[200] + ok[201]
		switch {
		case armed && left == 0:
			armed, okAt = false, answered
		case !armed && answered-okAt >= int64(gap):
			w.setFaults(burst(i))
			i++
			armed = true
		}
	})
}

// afterFirstHost calls f once, when app-1 is back in rotation on v2 (its
// drain and register are done).
func afterFirstHost(w *world, f func()) {
	var once sync.Once
	w.mon.then(func(st map[string]rollout.TargetState) {
		if !st["app-1"].InRotation || !w.mon.wasOut("app-1") {
			return
		}
		once.Do(func() {
			w.note("app-1 done: fault on")
			f()
		})
	})
}

// targetAuto makes every module ask its host's own lbsim metadata server
// for the target.
func targetAuto(w *world) {
	urls := map[string]string{}
	for _, h := range w.s.Sim.Endpoints().Hosts {
		urls[h.ServerName] = h.MetadataURL
	}
	w.s.Opts.Vars["deploy_lb_target"] = "auto"
	w.s.Opts.Vars["reliability_metadata_urls"] = urls
	w.s.Opts.Vars["deploy_metadata_url"] = "{{ reliability_metadata_urls[inventory_hostname] }}"
}
