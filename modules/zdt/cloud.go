//go:build !zdt_host

package main

import (
	"github.com/zerodowntime/rolling/modules/deploy_watch"
	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
	"github.com/zerodowntime/rolling/modules/lb_drain"
	"github.com/zerodowntime/rolling/modules/lb_register"
)

var cloudModules = []ansible.Entry{lbdrain.Module, lbregister.Module}

// The cloud signals of deploy_watch need the SDKs, so only this build has
// them; the host build's deploy_watch refuses provider hetzner and aws.
func init() {
	deploywatch.CloudSignals = lb.NewRunner(providers.Open).WatchSignals
}
