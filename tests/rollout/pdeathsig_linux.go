package rollout

import (
	"os/exec"
	"syscall"
)

// setPdeathsig kills a child (HAProxy) when the harness dies without
// cleaning up, so a killed test or demo leaves no HAProxy behind. Its own
// process group keeps a terminal's Ctrl-C from stopping it before the
// harness has stopped the apps behind it.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
