// Command lb_register is the zerodowntime.rolling.lb_register Ansible module.
package main

import (
	"os"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

func main() { os.Exit(ansible.Main(spec, run)) }
