// Command lb_drain is the zerodowntime.rolling.lb_drain Ansible module.
package main

import (
	"os"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

func main() { os.Exit(ansible.Main(spec, run)) }
