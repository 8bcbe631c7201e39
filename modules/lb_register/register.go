// Package lbregister is the zerodowntime.rolling.lb_register module: it puts
// a target back and waits until the load balancer calls it healthy.
package lbregister

import (
	"context"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
)

// spec is lb_register's options: the shared load balancer options plus
// use_private_ip.
var spec = lb.NewSpec("lb_register", lb.RegisterOptions)

var runner = lb.NewRunner(providers.Open)

// run puts the target into rotation and waits until the load balancer
// calls it healthy.
func run(ctx context.Context, m *ansible.Module, a lb.Args) (ansible.Result, error) {
	return runner.Register(ctx, m, a)
}

// Module is zerodowntime.rolling.lb_register.
var Module = ansible.NewModule(spec, run)
