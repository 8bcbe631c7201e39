package hetzner

import (
	"fmt"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// How Hetzner target states read during a wait.
var (
	_ lb.HealthJudge = (*Pool)(nil)
	_ lb.CheckTimer  = (*Pool)(nil)
)

// LoadBalancerRef names load balancer ref (a name or an id, as the options
// give it) for min_healthy's lock: names and ids are unique per API
// endpoint and project, and the lock is taken before the lookup.
func (c *Client) LoadBalancerRef(ref string) string {
	return c.endpoint + "/load_balancers/" + ref
}

// APIName names the API in messages.
const APIName = "Hetzner Cloud API"

// DefaultInterval is the largest delay between two checks of a wait: the
// API allows 3600 requests an hour per project, shared with every other
// tool using it.
const DefaultInterval = 3 * time.Second

// Judge lets a register end when the load balancer reports no health for
// the target at all (it has no services), with a warning. Otherwise it
// waits: a new target is unhealthy until enough checks passed, so
// unhealthy is no verdict here.
func (p *Pool) Judge(t lb.Target, _, st lb.State) lb.Verdict {
	if st.Registered && len(st.Health) == 0 {
		return lb.Verdict{Outcome: wait.Success,
			Msg: fmt.Sprintf("load balancer %s reports no health for %s (it has no services?); not waiting for health", p.Name(), t)}
	}
	return lb.Verdict{Outcome: wait.Retry}
}

// CheckTiming is the health check of the service listening on port. The
// API reports each target's verdict per service, never the checks behind
// it, so fail_after_checks counts by the check's interval and retries.
func (p *Pool) CheckTiming(port int) (lb.CheckTiming, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.checks[port]
	return t, ok
}

func checkTimings(services []hcloud.LoadBalancerService) map[int]lb.CheckTiming {
	m := make(map[int]lb.CheckTiming, len(services))
	for _, s := range services {
		hc := s.HealthCheck
		m[s.ListenPort] = lb.CheckTiming{Interval: hc.Interval, Timeout: hc.Timeout, Retries: hc.Retries}
	}
	return m
}
