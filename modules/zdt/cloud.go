//go:build !zdt_host

package main

import (
	"context"
	"errors"

	"github.com/zerodowntime/rolling/modules/deploy_watch"
	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/watch"
	"github.com/zerodowntime/rolling/modules/lb_drain"
	"github.com/zerodowntime/rolling/modules/lb_register"
)

var cloudModules = []ansible.Entry{lbdrain.Module, lbregister.Module}

// The cloud signals of deploy_watch need the SDKs, so only this build has
// them. Until lb grows its watch signals (issue 33, part B) they fail.
func init() {
	deploywatch.CloudSignals = func(context.Context, *ansible.Module, lb.Args) ([]watch.Signal, error) {
		return nil, errors.New("deploy_watch: the cloud load balancer signals are not built yet")
	}
}
