package awselb

import (
	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
)

// OptionRules are provider aws's option checks.
type OptionRules struct{}

var _ lb.OptionRules = OptionRules{}

// CheckOptions warns about the Hetzner options, target_type and
// use_private_ip, which ELBv2 ignores, and forces method: remove, the only
// way out of a target group.
func (OptionRules) CheckOptions(m *ansible.Module, a *lb.Args, given lb.Given) error {
	given.WarnIgnored(m, lb.AWS, "api_token", "endpoint", "load_balancer", "method")
	if given("target_type") {
		m.Warn("option target_type is ignored with provider aws: the target group's target type decides whether target is an instance id or an IP")
	}
	given.WarnIgnored(m, lb.AWS, "use_private_ip")
	a.Method = lb.MethodRemove
	return nil
}
