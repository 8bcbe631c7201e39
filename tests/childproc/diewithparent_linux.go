package childproc

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes cmd's process get SIGKILL when the test binary (or
// make demo) dies without cleaning up, so a killed run leaves no daemon
// behind. Its own process group keeps a terminal's Ctrl-C from stopping it
// before the harness has stopped what depends on it.
func DieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr.Setpgid = true
}
