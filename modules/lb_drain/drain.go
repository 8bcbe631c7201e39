// Package lbdrain is the zerodowntime.rolling.lb_drain module: it takes a
// target out of a Hetzner Cloud load balancer or AWS target groups and waits
// until it carries no traffic.
package lbdrain

import (
	"context"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
)

// spec is lb_drain's options: the shared load balancer options plus
// min_healthy.
var spec = lb.NewSpec("lb_drain", lb.DrainOptions)

var runner = lb.NewRunner(providers.Open)

// run takes the target out of rotation and waits until it carries no
// traffic.
func run(ctx context.Context, m *ansible.Module, a lb.Args) (ansible.Result, error) {
	return runner.Drain(ctx, m, a)
}

// Module is zerodowntime.rolling.lb_drain.
var Module = ansible.NewModule(spec, run)
