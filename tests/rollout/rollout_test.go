package rollout

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/notices"
	"github.com/zerodowntime/rolling/tests/slots"
)

// minRequests is the least traffic a rollout must have carried for "no
// request failed" to mean something: a 3-host rollout takes well over 10s
// and the clients send hundreds of requests a second.
const minRequests = 1000

// setUp holds one of the machine's end-to-end slots, sets the scenario up
// and gives it a context whose deadline is its Budget at the pace
// ansible-playbook runs now. The deadline starts once the slot is held:
// waiting for one is not the rollout's time.
func setUp(t *testing.T, coll *ansibletest.Collection, opts Options) (context.Context, *Scenario) {
	t.Helper()
	slots.Hold(t)
	pace := coll.MeasurePace(t)
	setup, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Setup(setup, opts)
	if err != nil {
		t.Fatalf("setting up the scenario: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	s.Opts.Playbook = ExecPlaybook(coll.CollectionsPath, s.Dir())
	b := s.Budget(pace.Startup, pace.PerTask)
	t.Logf("deadline %s", b)
	ctx, cancelRun := context.WithTimeoutCause(context.Background(), b.Total(), fmt.Errorf("deadline %s", b))
	t.Cleanup(cancelRun)
	return ctx, s
}

// rolloutCase is one scenario and what must hold after it.
type rolloutCase struct {
	name  string
	opts  Options
	check func(t *testing.T, s *Scenario, r *Report)
}

// TestRollout is the zero-downtime proof: real ansible-playbook, real
// HAProxy or lbsim, real demoapp processes, continuous traffic with slow
// requests. Each case has its own loopback addresses (127.0.Net.x), so they
// run in parallel.
func TestRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rollout under load; skipped with -short")
	}
	coll := ansibletest.Install(t)
	cases := []rolloutCase{
		{name: "haproxy", opts: Options{LB: "haproxy", Net: 11}, check: checkZeroDowntime},
		// Behind two load balancers (the load goes through the first):
		// one lb_drain and one lb_register task take each host out of
		// both and put it back in both.
		{name: "hetzner", opts: Options{LB: "hetzner", Net: 12, SimConfig: secondHetznerLB,
			Vars: map[string]any{"deploy_hetzner_load_balancers": []string{hetznerLB, "int-lb"}}}, check: checkBothPools},
		// deploy_lb_interval set: the role passes it to lb_drain and
		// lb_register (the other cloud cases leave it to the module).
		// Two target groups (the load goes through the first's listener),
		// one lb_drain and one lb_register task for both.
		{name: "aws", opts: Options{LB: "aws", Net: 13, SimConfig: secondTargetGroup,
			Vars: map[string]any{"deploy_lb_interval": 0.5, "deploy_aws_target_group_names": []string{awsTG, "api-tg"}}}, check: checkBothPools},
		// The servers are targets by their private IP, where the apps
		// listen; nothing answers on their public one. The role must put
		// each back by its private IP (the drain's restore), or its
		// register never sees it healthy.
		{name: "hetzner-private-ip", opts: Options{LB: "hetzner", Net: 44, Hosts: 2, SimConfig: privateIPTargets}, check: checkPrivateIPKept},
		// The start returns at once and the app boots later (systemd
		// Type=simple): the verify, not the start, must wait for it.
		{name: "haproxy-start-no-wait", opts: Options{LB: "haproxy", Net: 14, StartNoWait: true, BootDelay: time.Second},
			check: checkZeroDowntime},
		// An active/active HAProxy pair, the load through both front ends:
		// each host must leave and rejoin both nodes. Its control drains
		// through lb1 only, and the requests through lb2 must fail.
		{name: "haproxy-pair", opts: Options{LB: "haproxy", Net: 15, HAProxyNodes: 2}, check: checkPair},
		{name: "haproxy-pair-one-node", opts: Options{LB: "haproxy", Net: 23, HAProxyNodes: 2,
			Vars: map[string]any{"deploy_haproxy_hosts": []string{"lb1"}}}, check: checkOneNodeFails},
		{name: "naive-haproxy", opts: Options{LB: "haproxy", Net: 21, Naive: true}, check: checkNaiveFails},
		{name: "naive-hetzner", opts: Options{LB: "hetzner", Net: 22, Naive: true}, check: checkNaiveFails},
		{name: "nostart-haproxy", opts: Options{LB: "haproxy", Net: 31, Broken: map[string]string{"app-2": "nostart"}},
			check: checkBotched("deploy", "refusing to start")},
		{name: "stale-token-haproxy", opts: Options{LB: "haproxy", Net: 32, Broken: map[string]string{"app-2": "stale-token"}},
			check: checkBotched("verify", "stale")},
		{name: "nostart-hetzner", opts: Options{LB: "hetzner", Net: 33, Broken: map[string]string{"app-2": "nostart"}},
			check: checkBotched("deploy", "refusing to start")},
		{name: "stale-token-aws", opts: Options{LB: "aws", Net: 34, Broken: map[string]string{"app-2": "stale-token"}},
			check: checkBotched("verify", "stale")},
		{name: "nostart-rollback-haproxy", opts: Options{LB: "haproxy", Net: 35, Rollback: true, Broken: map[string]string{"app-2": "nostart"}},
			check: checkRolledBack},
		// The rolled-back app serves the token but fails its health URL:
		// the rollback's verify must catch it before the host goes back.
		{name: "unhealthy-rollback-haproxy", opts: Options{LB: "haproxy", Net: 36, Rollback: true,
			Broken: map[string]string{"app-2": "nostart"}, RollbackBroken: map[string]string{"app-2": "unhealthy"},
			Vars: map[string]any{"deploy_verify_url": "http://{{ app_addr }}/healthz", "deploy_verify_expect_json": map[string]any{}}},
			check: checkBotched("deploy", "the rollback failed too: http://127.0.36.12:8081/healthz did not answer as expected")},
		// The rolled-back app answers the verify URL but fails the load
		// balancer's health check: its register fails, and it must be
		// taken out again rather than left registered.
		{name: "rollback-never-healthy-haproxy", opts: Options{LB: "haproxy", Net: 37, Rollback: true,
			Broken: map[string]string{"app-2": "nostart"}, RollbackBroken: map[string]string{"app-2": "unhealthy"},
			Vars: map[string]any{"deploy_register_timeout": 4}},
			check: checkBotched("deploy", "taken out of the load balancer again")},
		// The new release fails the load balancer's health check, so the
		// register fails; then taking it out again fails too (the backend
		// it names is gone once a step has failed). The looped drain
		// says only "One or more items failed": the message must carry
		// haproxy_maint's own words.
		{name: "take-out-fails-haproxy", opts: Options{LB: "haproxy", Net: 38,
			Broken: map[string]string{"app-2": "unhealthy"},
			Vars: map[string]any{"deploy_register_timeout": 3,
				"deploy_haproxy_backend": "{{ 'gone' if _deploy_failed_step is defined else '" + HAProxyBackend + "' }}"}},
			check: checkTakeOutFailed},
		// Ansible cannot reach app-3 while its app still serves: the
		// rollout must stop without taking it out of rotation.
		{name: "unreachable-haproxy", opts: Options{LB: "haproxy", Net: 39, Unreachable: []string{"app-3"}},
			check: checkUnreachable},
		// The token is served over HTTPS with basic auth, by a CA of the
		// scenario's own: the role verifies it with its credentials and
		// CA inputs; with a wrong password the verify fails, saying why
		// without the password.
		{name: "https-token-haproxy", opts: Options{LB: "haproxy", Net: 50, HTTPSToken: true}, check: checkZeroDowntime},
		{name: "https-token-wrong-password-haproxy", opts: Options{LB: "haproxy", Net: 51, HTTPSToken: true,
			Vars: map[string]any{"deploy_verify_url_password": wrongPassword}}, check: checkWrongPassword},
		// The rollback's token and verify get the same owner, credentials
		// and CA: app-2's new release does not start, the old one comes
		// back and verifies over HTTPS.
		{name: "https-token-rollback-haproxy", opts: Options{LB: "haproxy", Net: 52, HTTPSToken: true, Rollback: true,
			Broken: map[string]string{"app-2": "nostart"}, Vars: map[string]any{"deploy_token_owner": "nobody", "deploy_token_group": "nogroup"}},
			check: checkRolledBackOwned},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := c.opts
			opts.Load.Clients, opts.Load.Pause = 20, 20*time.Millisecond
			ctx, s := setUp(t, coll, opts)
			r, err := s.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d requests (%d slow), %d failed, exit %d, %.1fs; hosts %v",
				c.name, r.Requests, r.Slow, r.Failed, r.ExitCode, r.Elapsed, r.Hosts)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("report: %s", r.JSON())
					for i, h := range s.HAProxies {
						t.Logf("%s log:\n%s", haproxyNode(i), h.Log())
					}
				}
			})
			if !sameVersions(r.VersionsBefore, s.Hosts, "v1") {
				t.Errorf("versions before = %v, want v1 everywhere", r.VersionsBefore)
			}
			// Whatever the outcome, ansible-core deprecates nothing the
			// role or the plugins do.
			for _, d := range notices.Deprecations(r.Notices()) {
				t.Errorf("the rollout printed a %s", d)
			}
			c.check(t, s, r)
		})
	}
}

// secondHetznerLB adds load balancer int-lb, a copy of the first with its
// own front end, to an lbsim world.
func secondHetznerLB(cfg *sim.Config) {
	lb := cfg.Hetzner.LoadBalancers[0]
	lb.ID, lb.Name = 2, "int-lb"
	lb.Services = slices.Clone(lb.Services)
	lb.Targets = slices.Clone(lb.Targets)
	cfg.Hetzner.LoadBalancers = append(cfg.Hetzner.LoadBalancers, lb)
}

// secondTargetGroup adds target group api-tg, a copy of the first with
// its own listener, to an lbsim world.
func secondTargetGroup(cfg *sim.Config) {
	tg := cfg.AWS.TargetGroups[0]
	tg.Name = "api-tg"
	tg.ARN = strings.Replace(tg.ARN, "/"+awsTG+"/", "/api-tg/", 1)
	tg.Targets = slices.Clone(tg.Targets)
	cfg.AWS.TargetGroups = append(cfg.AWS.TargetGroups, tg)
	cfg.AWS.Listeners = append(cfg.AWS.Listeners, sim.Listener{Address: "127.0.0.1:0", TargetGroup: tg.Name})
}

// checkBothPools: a zero-downtime rollout in which each host's drain and
// register worked on both load balancers (or target groups) in one task,
// and every host ends healthy in both.
func checkBothPools(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	checkZeroDowntime(t, s, r)
	for _, step := range []string{"drain", "register"} {
		done := r.StepResults(step + "_lb")
		for _, h := range s.Hosts {
			host, results := h.Name, done[h.Name]
			acted := false
			for _, res := range results {
				pools := asList(res["pools"])
				acted = len(pools) == 2
				for _, p := range pools {
					if m, _ := p.(map[string]any); m["changed"] != true {
						t.Errorf("%s on %s: %v did not change", step, host, p)
					}
				}
			}
			if !acted {
				t.Errorf("%s on %s: no task worked on both load balancers", step, host)
			}
		}
	}
	healthy := map[string]int{}
	st := s.Sim.State()
	for _, lb := range st.Hetzner.LoadBalancers {
		for _, m := range lb.Services[0].Members {
			if m.Health == "healthy" && m.InRotation {
				healthy[lb.Name]++
			}
		}
	}
	for _, tg := range st.AWS.TargetGroups {
		for _, tt := range tg.Targets {
			if tt.State == "healthy" {
				healthy[tg.Name]++
			}
		}
	}
	if len(healthy) != 2 {
		t.Errorf("want two load balancers with healthy hosts at the end, got %v", healthy)
	}
	for name, n := range healthy {
		if n != len(s.Hosts) {
			t.Errorf("load balancer %s: %d of %d hosts healthy at the end", name, n, len(s.Hosts))
		}
	}
}

// checkPair: a zero-downtime rollout behind two HAProxy nodes that both
// carried traffic, in which each host's drain and register went to lb2
// without waiting, then to lb1 and lb2 waiting, and every host ends in
// rotation on both (checkZeroDowntime reads both nodes).
func checkPair(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	checkZeroDowntime(t, s, r)
	for i, h := range s.HAProxies {
		if n := cumReq(t, h); n < minRequests/4 {
			t.Errorf("%s carried %d requests; want the load spread over both nodes", haproxyNode(i), n)
		}
	}
	want := []string{"lb2", "lb1", "lb2"}
	for _, step := range []string{"drain", "register"} {
		done := r.StepResults(step+"_haproxy_ahead", step+"_haproxy")
		for _, h := range s.Hosts {
			host := h.Name
			var items []string
			for _, m := range done[host] {
				items = append(items, fmt.Sprint(m["zdt_host"]))
			}
			if !slices.Equal(items, want) {
				t.Errorf("%s on %s went to HAProxy nodes %v, want %v (the other node first, without waiting)", step, host, items, want)
			}
		}
	}
}

// checkOneNodeFails: drained through lb1 only, the restarts show as failed
// requests, every one of them through lb2's front end.
func checkOneNodeFails(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	if r.Failed == 0 {
		t.Errorf("pair drained on lb1 only: 0 of %d requests failed; the harness must see the restarts through lb2", r.Requests)
	}
	lb2 := s.HAProxies[1].Frontend + "/"
	for _, e := range r.Errors {
		if !strings.Contains(e, lb2) {
			t.Errorf("failure %q did not come through lb2 (%s); lb1 had the host drained", e, lb2)
		}
	}
	t.Logf("pair drained on lb1 only: %d of %d failed, e.g. %q", r.Failed, r.Requests, r.Errors)
}

// cumReq is how many requests an HAProxy node has received (show info).
func cumReq(t *testing.T, h *HAProxy) int {
	t.Helper()
	out, err := h.Command("show info")
	if err != nil {
		t.Fatalf("show info: %v", err)
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "CumReq: "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("show info CumReq %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("show info has no CumReq: %q", out)
	return 0
}

// checkZeroDowntime: the playbook succeeded, every host runs v2, and not
// one request out of many failed.
func checkZeroDowntime(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	if r.ExitCode != 0 {
		t.Errorf("ansible-playbook exit %d: %s: %s", r.ExitCode, r.FailedHost, r.FailedMsg)
	}
	if r.Failed != 0 {
		t.Errorf("%d of %d requests failed: %q", r.Failed, r.Requests, r.Errors)
	}
	if r.Requests < minRequests || r.Slow < 10 {
		t.Errorf("only %d requests (%d slow) were sent; want at least %d (10 slow) for the proof to count",
			r.Requests, r.Slow, minRequests)
	}
	if !sameVersions(r.VersionsAfter, s.Hosts, "v2") {
		t.Errorf("versions through the LB after = %v, want v2 from every host", r.VersionsAfter)
	}
	if !sameVersions(r.DirectAfter, s.Hosts, "v2") {
		t.Errorf("versions asked directly after = %v, want v2 on every host", r.DirectAfter)
	}
	// Neither the role nor the modules warn about anything (a drain
	// timeout shorter than AWS's deregistration delay would; so would
	// ansible-core about a pattern it deprecates).
	for _, n := range r.Notices() {
		// ansible-core 2.14 says this of every collection playbook it
		// runs (later versions do not): the user's command, not ours.
		if n.Where == "stderr" && strings.HasPrefix(n.Text, "running playbook inside collection ") {
			continue
		}
		t.Errorf("the rollout printed a %s", n)
	}
	for _, h := range s.Hosts {
		if !r.LBAfter[h.Name].InRotation {
			t.Errorf("%s is %s in the LB at the end, want in rotation", h.Name, r.LBAfter[h.Name].State)
		}
		tm, ok := r.Hosts[h.Name]
		if !ok || tm.Drain <= 0 || tm.Deploy <= 0 || tm.Verify <= 0 || tm.Register <= 0 {
			t.Errorf("%s step times %+v (found %v), want every step timed", h.Name, tm, ok)
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// checkNaiveFails: restarting without draining must cost requests, or the
// harness could not see downtime at all.
func checkNaiveFails(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	if r.Failed == 0 {
		t.Errorf("naive rollout: 0 of %d requests failed; the harness must see the restarts", r.Requests)
	}
	if !sameVersions(r.DirectAfter, s.Hosts, "v2") {
		t.Errorf("versions asked directly after = %v, want v2 on every host", r.DirectAfter)
	}
	t.Logf("naive rollout: %d of %d failed, e.g. %q", r.Failed, r.Requests, r.Errors)
}

// checkBotched returns the checks for a bad release on app-2: the rollout
// stops at app-2 with a message naming it, the failed step and what was
// observed; app-2 stays out of rotation; app-3 was never touched; users saw
// no failure.
func checkBotched(step, observed string) func(t *testing.T, s *Scenario, r *Report) {
	return func(t *testing.T, s *Scenario, r *Report) {
		t.Helper()
		if r.ExitCode == 0 {
			t.Errorf("ansible-playbook exit 0, want a failure for the broken release on app-2")
		}
		if r.FailedHost != "app-2" {
			t.Errorf("failed host %q, want app-2 (msg %q)", r.FailedHost, r.FailedMsg)
		}
		t.Logf("rollout failed msg: %s", r.FailedMsg)
		for _, want := range []string{"app-2", step, observed} {
			if !strings.Contains(r.FailedMsg, want) {
				t.Errorf("rollout failed msg lacks %q: %q", want, r.FailedMsg)
			}
		}
		if r.Failed != 0 {
			t.Errorf("%d of %d requests failed: %q", r.Failed, r.Requests, r.Errors)
		}
		if r.Requests < minRequests/2 {
			t.Errorf("only %d requests were sent", r.Requests)
		}
		if st := r.LBAfter["app-2"]; st.InRotation || !okOutState(s.Opts.LB, st.State) {
			t.Errorf("app-2 is %q (in rotation %v) in the LB, want out of rotation", st.State, st.InRotation)
		}
		if slices.Contains(r.Drained, "app-3") {
			t.Errorf("app-3 has a drain result; the rollout must stop before it (drained: %v)", r.Drained)
		}
		if r.DirectAfter["app-3"] != "v1" || !r.LBAfter["app-3"].InRotation {
			t.Errorf("app-3 serves %q and is %q in the LB, want v1 in rotation", r.DirectAfter["app-3"], r.LBAfter["app-3"].State)
		}
		if r.DirectAfter["app-1"] != "v2" || !r.LBAfter["app-1"].InRotation {
			t.Errorf("app-1 serves %q and is %q in the LB, want v2 in rotation", r.DirectAfter["app-1"], r.LBAfter["app-1"].State)
		}
		if _, ok := r.VersionsAfter["app-2"]; ok {
			t.Errorf("app-2 answered through the LB after the failed rollout: %v", r.VersionsAfter)
		}
	}
}

// wrongPassword is a password the apps of an HTTPSToken scenario refuse.
const wrongPassword = "zdt-wrong-Pw7/x+y"

// checkWrongPassword: the first host fails its verify with the app's 401,
// the message does not hold the password, the host stays out and the rest
// are not touched; users saw no failure.
func checkWrongPassword(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	t.Logf("rollout failed msg: %s", r.FailedMsg)
	if r.ExitCode == 0 || r.FailedHost != "app-1" {
		t.Fatalf("exit %d, failed host %q; want app-1 to fail its verify", r.ExitCode, r.FailedHost)
	}
	for _, want := range []string{"the verify step failed", "did not serve the deploy token", "refused the request (status 401): check url_username and url_password"} {
		if !strings.Contains(r.FailedMsg, want) {
			t.Errorf("rollout failed msg lacks %q", want)
		}
	}
	// Every task's result, the Verify's invocation and the rescue's
	// facts included.
	doc, _ := json.Marshal(r.doc)
	for _, pw := range []string{wrongPassword, s.tls.password} {
		for _, form := range []string{pw, base64.StdEncoding.EncodeToString([]byte(tokenUser + ":" + pw))} {
			if i := strings.Index(string(doc), form); i >= 0 {
				t.Errorf("the playbook's output holds the password: %s", doc[max(0, i-200):i])
			}
		}
	}
	if r.Failed != 0 {
		t.Errorf("%d of %d requests failed: %q", r.Failed, r.Requests, r.Errors)
	}
	if st := r.LBAfter["app-1"]; st.InRotation {
		t.Errorf("app-1 is %q in the LB, want out of rotation", st.State)
	}
	for _, h := range []string{"app-2", "app-3"} {
		if r.DirectAfter[h] != "v1" || !r.LBAfter[h].InRotation {
			t.Errorf("%s serves %q and is %q in the LB, want v1 in rotation", h, r.DirectAfter[h], r.LBAfter[h].State)
		}
	}
}

// checkTakeOutFailed: the register failed and so did taking the host out
// again; the message has both failures in haproxy_maint's words and does not
// claim the host is out.
func checkTakeOutFailed(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	if r.ExitCode == 0 || r.FailedHost != "app-2" {
		t.Fatalf("exit %d, failed host %q (msg %q); want app-2 to fail", r.ExitCode, r.FailedHost, r.FailedMsg)
	}
	t.Logf("rollout failed msg: %s", r.FailedMsg)
	for _, want := range []string{"register step failed", "taking it out again failed too: ", `backend "gone" not found`,
		"still registered with the load balancer"} {
		if !strings.Contains(r.FailedMsg, want) {
			t.Errorf("rollout failed msg lacks %q: %q", want, r.FailedMsg)
		}
	}
	for _, wrong := range []string{"One or more items failed", "..", "left out of rotation", "taken out of the load balancer again"} {
		if strings.Contains(r.FailedMsg, wrong) {
			t.Errorf("rollout failed msg says %q: %q", wrong, r.FailedMsg)
		}
	}
	if r.Failed != 0 {
		t.Errorf("%d of %d requests failed: %q", r.Failed, r.Requests, r.Errors)
	}
	if st := r.LBAfter["app-2"]; st.InRotation {
		t.Errorf("app-2 is %q in rotation; its health check fails, so HAProxy must keep it out", st.State)
	}
	if slices.Contains(r.Drained, "app-3") {
		t.Errorf("app-3 has a drain result; the rollout must stop before it (drained: %v)", r.Drained)
	}
}

// checkUnreachable: app-3 cannot be reached. The rollout deploys app-1
// and app-2, then stops at app-3 before draining it: it keeps serving v1
// in rotation, as it did, rather than being left out by a drain whose
// deploy could never run.
func checkUnreachable(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	if r.ExitCode == 0 || r.FailedHost != "app-3" || !strings.Contains(r.FailedMsg, "Failed to connect") {
		t.Errorf("exit %d, failed %s %q; want app-3 unreachable at its checks, before its drain", r.ExitCode, r.FailedHost, r.FailedMsg)
	}
	t.Logf("rollout failed msg: %s", r.FailedMsg)
	checkServingInRotation(t, r, map[string]string{"app-1": "v2", "app-2": "v2", "app-3": "v1"})
	if slices.Contains(r.Drained, "app-3") {
		t.Errorf("app-3 has a drain result; an unreachable host must not be drained (drained: %v)", r.Drained)
	}
}

// checkServingInRotation: no request failed, and each host serves its
// version, asked directly and through the load balancer, in rotation.
func checkServingInRotation(t *testing.T, r *Report, want map[string]string) {
	t.Helper()
	if r.Failed != 0 {
		t.Errorf("%d of %d requests failed: %q", r.Failed, r.Requests, r.Errors)
	}
	for h, v := range want {
		if r.DirectAfter[h] != v || r.VersionsAfter[h] != v || !r.LBAfter[h].InRotation {
			t.Errorf("%s serves %q directly, %q through the LB, %q in the LB; want %s in rotation",
				h, r.DirectAfter[h], r.VersionsAfter[h], r.LBAfter[h].State, v)
		}
	}
}

// checkRolledBack: with a rollback tasks file, the broken host gets the
// old version back and rejoins; the rollout still stops there.
func checkRolledBack(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	if r.ExitCode == 0 || r.FailedHost != "app-2" || !strings.Contains(r.FailedMsg, "rolled back") {
		t.Errorf("exit %d, failed %s %q; want a failure on app-2 saying it was rolled back", r.ExitCode, r.FailedHost, r.FailedMsg)
	}
	checkServingInRotation(t, r, map[string]string{"app-1": "v2", "app-2": "v1", "app-3": "v1"})
	if slices.Contains(r.Drained, "app-3") {
		t.Errorf("app-3 was drained; the rollout must stop at app-2")
	}
}

// checkRolledBackOwned: checkRolledBack, and the token files the role
// wrote (app-2's by the rollback) belong to nobody:nogroup. The harness
// runs as root, which giving a file away needs.
func checkRolledBackOwned(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	checkRolledBack(t, s, r)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	nogroup, err := user.LookupGroup("nogroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range s.Hosts[:2] {
		st, err := os.Stat(h.TokenFile())
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if got := fmt.Sprintf("%d:%d", sys.Uid, sys.Gid); got != nobody.Uid+":"+nogroup.Gid {
			t.Errorf("%s's token file belongs to %s, want nobody:nogroup (%s:%s)", h.Name, got, nobody.Uid, nogroup.Gid)
		}
	}
}

// okOutState: the states in which a load balancer keeps a host out.
func okOutState(lb, state string) bool {
	switch lb {
	case "haproxy":
		return state == "maint" || state == "drain"
	case "hetzner":
		return state == "absent" || state == "removed" || state == "unhealthy"
	default:
		return state == "absent" || state == "unused" || state == "unhealthy"
	}
}

func sameVersions(got map[string]string, hosts []Host, want string) bool {
	if len(got) != len(hosts) {
		return false
	}
	for _, h := range hosts {
		if got[h.Name] != want {
			return false
		}
	}
	return true
}
