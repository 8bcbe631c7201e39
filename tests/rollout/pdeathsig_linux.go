package rollout

import (
	"os/exec"
	"syscall"
)

// setPdeathsig kills a child (HAProxy) when the harness dies without
// cleaning up, so a killed test or demo leaves no HAProxy behind.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
