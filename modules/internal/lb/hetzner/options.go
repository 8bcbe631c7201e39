package hetzner

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
)

// OptionRules are provider hetzner's option checks.
type OptionRules struct{}

var _ lb.OptionRules = OptionRules{}

// CheckOptions warns about the aws options and target_port, which Hetzner
// ignores, and checks the load_balancer list and an ip target.
func (OptionRules) CheckOptions(m *ansible.Module, a *lb.Args, given lb.Given) error {
	given.WarnIgnored(m, lb.Hetzner, slices.Sorted(maps.Keys(lb.AWSOptions))...)
	if err := checkLoadBalancers(a.LoadBalancers); err != nil {
		return err
	}
	given.WarnIgnored(m, lb.Hetzner, "target_port")
	if a.TargetType == lb.TypeIP && a.Target != lb.Auto {
		if _, err := netip.ParseAddr(a.Target); err != nil {
			return fmt.Errorf("target %q is not an IP address, but target_type is ip: give the IP, or use target_type: server for a server name or id", a.Target)
		}
	}
	if a.Target == lb.Auto && a.TargetType == lb.TypeIP {
		return fmt.Errorf("target: auto reads the server id from the metadata service and needs target_type: server; give the IP itself for target_type: ip")
	}
	return nil
}

// checkLoadBalancers refuses an empty list, an empty name and a load
// balancer named twice.
func checkLoadBalancers(lbs []string) error {
	if len(lbs) == 0 {
		return fmt.Errorf("load_balancer is empty: give the name or id of a load balancer, or a list of them")
	}
	seen := map[string]bool{}
	for _, l := range lbs {
		switch {
		case strings.TrimSpace(l) == "":
			return fmt.Errorf("load_balancer %q holds an empty name: give names or ids of load balancers", strings.Join(lbs, ","))
		case seen[l]:
			return fmt.Errorf("load_balancer names %q twice: give each load balancer once", l)
		}
		seen[l] = true
	}
	return nil
}
