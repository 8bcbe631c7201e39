// Command zdt holds every module of zerodowntime.rolling in one build
// (`zdt MODULE ARGS_FILE|-`): the modules share the runtime, the HTTP stack
// and the SDKs, so one binary is far smaller than one per module, and a host
// receives it once however many of the modules it runs.
package main

import (
	"os"

	"github.com/zerodowntime/rolling/modules/deploy_verify"
	"github.com/zerodowntime/rolling/modules/haproxy_maint"
	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/lb_drain"
	"github.com/zerodowntime/rolling/modules/lb_register"
)

func main() {
	os.Exit(ansible.Dispatch(deployverify.Module, haproxymaint.Module, lbdrain.Module, lbregister.Module))
}
