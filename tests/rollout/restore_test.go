package rollout

import (
	"net/netip"
	"testing"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

// privateIPTargets makes each server a target of the load balancer by its
// private IP, the host's address where its app listens, and gives it a
// public address 100 above it where nothing answers.
func privateIPTargets(cfg *sim.Config) {
	lb := &cfg.Hetzner.LoadBalancers[0]
	lb.Network = &sim.PrivateNet{ID: 1, IP: "10.0.0.2"}
	for i := range lb.Targets {
		lb.Targets[i].UsePrivateIP = true
	}
	for i := range cfg.Hetzner.Servers {
		sv := &cfg.Hetzner.Servers[i]
		a := netip.MustParseAddr(sv.Address).As4()
		a[3] += 100
		sv.PrivateIP, sv.Address = sv.Address, netip.AddrFrom4(a).String()
	}
}

// checkPrivateIPKept: a zero-downtime rollout after which every server is
// still a target by its private IP, each register having restored what
// its drain returned.
func checkPrivateIPKept(t *testing.T, s *Scenario, r *Report) {
	t.Helper()
	checkZeroDowntime(t, s, r)
	st := s.Sim.State()
	for _, tg := range st.Hetzner.LoadBalancers[0].Targets {
		if !tg.UsePrivateIP {
			t.Errorf("server %d is a target by its public IP after the rollout", tg.Server.ID)
		}
	}
	registers := r.StepResults("register_lb")
	for _, h := range s.Hosts {
		host, results := h.Name, registers[h.Name]
		restored := 0
		for _, res := range results {
			for _, e := range asList(res["restored"]) {
				if m, _ := e.(map[string]any); m["use_private_ip"] == true {
					restored++
				}
			}
		}
		if restored != 1 {
			t.Errorf("register on %s restored %d private-IP registrations, want 1: %v", host, restored, results)
		}
	}
}
