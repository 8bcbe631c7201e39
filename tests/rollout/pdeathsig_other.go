//go:build !linux

package rollout

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
