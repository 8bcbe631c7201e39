// Command deploy_verify is the zerodowntime.rolling.deploy_verify module: it
// polls a URL until the response proves the new version answers.
package main

import (
	"os"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

func main() { os.Exit(ansible.Main(spec, run)) }
