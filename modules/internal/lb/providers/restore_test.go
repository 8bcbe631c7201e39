package providers_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// restoreWorld is lbsim with app-1 in the Hetzner load balancer by its
// private IP, and the IP of app-1 in an ip target group on two ports, both
// in availability zone eu-central-1b; app-2 is the other healthy target of
// each. It returns app-1's public and private addresses and its two ports.
func restoreWorld(t *testing.T) (s *sim.Sim, app1, private string, ports [2]int) {
	t.Helper()
	hosts := simtest.Hosts(3) // app-1, app-1's private IP, app-2
	_, port := simtest.Backends(t, hosts...)
	_, second := simtest.Backends(t, hosts[0])
	w := simtest.World{
		HetznerToken: simToken, AWSKeyID: simKeyID, AWSSecret: simSecret,
		CheckInterval: 200 * time.Millisecond, CheckTimeout: 500 * time.Millisecond, Retries: 2,
		ActionDelay: 100 * time.Millisecond, DeregistrationDelay: time.Second,
	}
	cfg := w.Config(port)
	simtest.AddTargets(cfg, []string{hosts[0], hosts[2]})
	lb := &cfg.Hetzner.LoadBalancers[0]
	lb.Network = &sim.PrivateNet{ID: 1, IP: "10.0.0.2"}
	lb.Targets[0].UsePrivateIP = true
	cfg.Hetzner.Servers[0].PrivateIP = hosts[1]
	tg := &cfg.AWS.TargetGroups[0]
	tg.TargetType = "ip"
	tg.Targets = []sim.AWSTarget{
		{ID: hosts[0], Port: port, AvailabilityZone: "eu-central-1b"},
		{ID: hosts[0], Port: second, AvailabilityZone: "eu-central-1b"},
		{ID: hosts[2]},
	}
	s = simtest.Start(t, cfg)
	simtest.WaitHealthy(t, s, 10*time.Second)
	return s, hosts[0], hosts[1], [2]int{port, second}
}

// registrations words how lbsim holds app-1: "private" or "public" in the
// load balancer, and each port:zone in the target group.
func registrations(st sim.State, app1 string) (hz, aws string) {
	for _, tg := range st.Hetzner.LoadBalancers[0].Targets {
		if tg.Server != nil && tg.Server.ID == simtest.ServerID(0) {
			hz = map[bool]string{true: "private", false: "public"}[tg.UsePrivateIP]
		}
	}
	var regs []string
	for _, tg := range st.AWS.TargetGroups[0].Targets {
		if tg.ID == app1 && tg.State != "draining" {
			regs = append(regs, fmt.Sprintf("%d:%s", tg.Port, tg.AvailabilityZone))
		}
	}
	sort.Strings(regs)
	return hz, strings.Join(regs, " ")
}

// TestLbsimRestore drains app-1 and registers it again with the drain's
// restore result: it comes back by its private IP, and on both ports in
// its zone. The control registers without restore, as the role did, and
// shows what that loses: the public IP, one port, no zone.
func TestLbsimRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim: a few seconds of real health checks")
	}
	s, app1, private, ports := restoreWorld(t)
	ep := s.Endpoints()
	args := map[string]map[string]any{
		"hetzner": {"provider": "hetzner", "api_token": simToken, "endpoint": ep.HetznerAPI, "load_balancer": simtest.LBName, "target": "app-1", "timeout": 30},
		"aws": {"provider": "aws", "region": simtest.Region, "endpoint_url": ep.AWSAPI, "target_group_names": []any{simtest.TGName},
			"access_key": simKeyID, "secret_key": simSecret, "target": app1, "timeout": 30},
	}
	want := []string{fmt.Sprintf("%d:eu-central-1b", ports[0]), fmt.Sprintf("%d:eu-central-1b", ports[1])}
	sort.Strings(want)
	wantHz, wantAWS := "private", strings.Join(want, " ")
	if hz, aws := registrations(s.State(), app1); hz != wantHz || aws != wantAWS {
		t.Fatalf("before the drain: %s, %q", hz, aws)
	}
	drain := func(kind string) []any {
		t.Helper()
		out, raw := realRun(t, "lb_drain", args[kind])
		restore, _ := out["restore"].([]any)
		if out["failed"] != false || out["changed"] != true || len(restore) == 0 {
			t.Fatalf("%s drain: %s", kind, raw)
		}
		return restore
	}
	register := func(kind string, restore []any) {
		t.Helper()
		a := map[string]any{}
		for k, v := range args[kind] {
			a[k] = v
		}
		if restore != nil {
			a["restore"] = restore
		}
		if out, raw := realRun(t, "lb_register", a); out["failed"] != false || out["changed"] != true {
			t.Fatalf("%s register: %s", kind, raw)
		}
	}

	hzRestore, awsRestore := drain("hetzner"), drain("aws")
	if len(hzRestore) != 1 || lbtest.Get(hzRestore[0], "use_private_ip") != true || len(awsRestore) != 2 ||
		lbtest.Get(awsRestore[1], "availability_zone") != "eu-central-1b" || lbtest.Get(awsRestore[1], "port") != float64(ports[1]) {
		t.Fatalf("restore: hetzner %v, aws %v", hzRestore, awsRestore)
	}
	if hz, aws := registrations(s.State(), app1); hz != "" || aws != "" {
		t.Fatalf("after the drain: %q, %q", hz, aws)
	}
	before := s.Counts().ProxiedByHost[private]
	register("hetzner", hzRestore)
	register("aws", awsRestore)
	if hz, aws := registrations(s.State(), app1); hz != wantHz || aws != wantAWS {
		t.Errorf("restored: load balancer by its %s IP, target group %q; want %s, %q", hz, aws, wantHz, wantAWS)
	}
	l := simtest.StartLoad(ep.Services[0].URL, 2, 0)
	simtest.Eventually(t, 5*time.Second, "requests reach app-1 at its private IP", func() bool {
		return s.Counts().ProxiedByHost[private] > before
	})
	l.Finish(t)

	// Idempotent: a second restore changes nothing.
	for kind, r := range map[string][]any{"hetzner": hzRestore, "aws": awsRestore} {
		a := map[string]any{"restore": r}
		for k, v := range args[kind] {
			a[k] = v
		}
		if out, raw := realRun(t, "lb_register", a); out["failed"] != false || out["changed"] != false {
			t.Errorf("%s restore again: %s", kind, raw)
		}
	}

	// The control: without restore the target comes back by its public IP,
	// on the group's port only.
	drain("hetzner")
	drain("aws")
	register("hetzner", nil)
	register("aws", nil)
	hz, aws := registrations(s.State(), app1)
	t.Logf("without restore: load balancer by its %s IP, target group %q", hz, aws)
	if hz == wantHz || aws == wantAWS {
		t.Errorf("control: registering without restore kept the %s IP and %q, so the test cannot tell", hz, aws)
	}
}
