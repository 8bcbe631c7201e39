// Command zdt holds the modules of zerodowntime.rolling in one build
// (`zdt MODULE ARGS_FILE|-`): the modules share the runtime, the HTTP stack
// and the SDKs, so one binary is far smaller than one per module, and a host
// receives it once however many of the modules it runs.
//
// Built with the tag zdt_host, it holds only the modules that run on app
// and load-balancer hosts (hostModules), without the cloud SDKs: less than
// half the size, which is what most hosts receive. The action plugins pick
// the smallest build that holds the module (bin/manifest.json says which).
package main

import (
	"os"

	"github.com/zerodowntime/rolling/modules/deploy_token"
	"github.com/zerodowntime/rolling/modules/deploy_verify"
	"github.com/zerodowntime/rolling/modules/deploy_watch"
	"github.com/zerodowntime/rolling/modules/haproxy_maint"
	"github.com/zerodowntime/rolling/modules/health_file"
	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// hostModules run on the hosts themselves; cloudModules (cloud.go) talk
// to the cloud load balancers and are left out of the host build.
var hostModules = []ansible.Entry{deploytoken.Module, deployverify.Module, deploywatch.Module, haproxymaint.Module, healthfile.Module}

func main() {
	os.Exit(ansible.Dispatch(append(hostModules, cloudModules...)...))
}
