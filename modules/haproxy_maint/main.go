// Command haproxy_maint is the zerodowntime.rolling.haproxy_maint Ansible
// module: it takes an HAProxy server out of rotation (drain, maint) and puts
// it back (ready) through the runtime API, waiting for sessions to end or for
// the health check to pass.
package main

import (
	"os"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

func main() { os.Exit(ansible.Main(spec, run)) }
