//go:build !zdt_host

package main

import (
	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/lb_drain"
	"github.com/zerodowntime/rolling/modules/lb_register"
)

var cloudModules = []ansible.Entry{lbdrain.Module, lbregister.Module}
