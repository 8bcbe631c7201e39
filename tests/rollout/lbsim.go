package rollout

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// Names of the simulated cloud objects; the role gets them as variables.
const (
	hetznerLB = simtest.LBName
	awsTG     = simtest.TGName
)

// The simulated load balancers' timing, the same for both kinds: health
// checks every SimCheckInterval, SimCheckThreshold passing checks to turn
// healthy, and Hetzner actions (add, remove target) that complete after
// SimActionDelay. The benchmarks count them in a rollout's floor.
//
// The AWS target group keeps AWS's default deregistration delay,
// SimDeregistrationDelay: lbsim ends draining once no request is in flight,
// as AWS does, so it costs no time, and a role whose drain timeout does not
// exceed it gets lb_drain's warning, which checkZeroDowntime fails on.
const (
	SimCheckInterval       = 300 * time.Millisecond
	SimCheckThreshold      = 2
	SimActionDelay         = 300 * time.Millisecond
	SimDeregistrationDelay = 300 * time.Second
)

// simConfig is an lbsim world with only the load balancer kind asked for,
// in front of hosts. Checks are faster than the clouds allow, so that a
// rollout takes seconds; the AWS deregistration delay stays longer than the
// slowest request, as it must in production.
func simConfig(kind string, hosts []Host) (*sim.Config, error) {
	cfg := simtest.World{
		HetznerToken: "rollout-hcloud-token-000000000000000000000000000000000000000000000000000000000",
		AWSKeyID:     "AKIAROLLOUTEXAMPLE01", AWSSecret: "rolloutSecretAccessKeyExample000000000001",
		CheckInterval: SimCheckInterval, CheckTimeout: time.Second, Retries: SimCheckThreshold,
		ActionDelay: SimActionDelay, DeregistrationDelay: SimDeregistrationDelay,
	}.Config(hosts[0].Port())
	cfg.AWS.TargetGroups[0].HealthCheck.HealthyThreshold = SimCheckThreshold
	ips := make([]string, len(hosts))
	for i, h := range hosts {
		ips[i] = h.IP()
	}
	// Setup names the hosts as AddTargets does.
	simtest.AddTargets(cfg, ips)
	switch kind {
	case "hetzner":
		cfg.AWS = sim.AWS{}
	case "aws":
		cfg.Hetzner = sim.Hetzner{}
	default:
		return nil, fmt.Errorf("lbsim has no load balancer kind %q (want hetzner or aws)", kind)
	}
	return cfg, nil
}

// startSim starts lbsim in-process and returns it with the config it
// started with and its front URL; change, if set, may adjust the config
// first.
func startSim(ctx context.Context, kind string, hosts []Host, log *slog.Logger, change func(*sim.Config)) (*sim.Sim, *sim.Config, string, error) {
	cfg, err := simConfig(kind, hosts)
	if err != nil {
		return nil, nil, "", err
	}
	if change != nil {
		change(cfg)
	}
	s, err := sim.Start(ctx, cfg, sim.WithLogger(log))
	if err != nil {
		return nil, nil, "", fmt.Errorf("start lbsim: %w", err)
	}
	ep := s.Endpoints()
	switch {
	case kind == "hetzner" && len(ep.Services) > 0:
		return s, cfg, ep.Services[0].URL, nil
	case kind == "aws" && len(ep.Listeners) > 0:
		return s, cfg, ep.Listeners[0].URL, nil
	}
	s.Close()
	return nil, nil, "", fmt.Errorf("lbsim started without a %s front end: %+v", kind, ep)
}

// TargetState is a host as its load balancer sees it.
type TargetState struct {
	// State is the load balancer's word: HAProxy up/drain/maint/down,
	// Hetzner healthy/unhealthy/unknown (or removed while its in-flight
	// requests complete), AWS initial/healthy/unhealthy/
	// draining/unused; "absent" when the host is not a target at all.
	State string `json:"state"`
	// InRotation reports whether new requests may go to the host.
	InRotation bool `json:"in_rotation"`
	// InFlight is the requests the load balancer is proxying to the host
	// now (lbsim only; HAProxy's are in `show stat`).
	InFlight int `json:"in_flight,omitempty"`
}

func simStates(s *sim.Sim, kind string, hosts []Host) map[string]TargetState {
	st := s.State()
	out := map[string]TargetState{}
	for _, h := range hosts {
		out[h.Name] = TargetState{State: "absent"}
	}
	switch kind {
	case "hetzner":
		byID := map[int64]string{}
		for _, h := range hosts {
			byID[h.ServerID] = h.Name
		}
		for _, lb := range st.Hetzner.LoadBalancers {
			for _, svc := range lb.Services {
				// A removed target still finishing requests, unless it is
				// already a target again.
				for _, m := range svc.Leaving {
					if name, ok := byID[m.ServerID]; ok {
						out[name] = TargetState{State: "removed", InFlight: m.InFlight}
					}
				}
				for _, m := range svc.Members {
					if name, ok := byID[m.ServerID]; ok {
						out[name] = TargetState{State: m.Health, InRotation: m.InRotation, InFlight: m.InFlight}
					}
				}
			}
		}
	case "aws":
		byID := map[string]string{}
		for _, h := range hosts {
			byID[h.InstanceID] = h.Name
		}
		for _, tg := range st.AWS.TargetGroups {
			for _, t := range tg.Targets {
				if name, ok := byID[t.ID]; ok {
					out[name] = TargetState{State: t.State, InRotation: t.InRotation, InFlight: t.InFlight}
				}
			}
		}
	}
	return out
}
