package childproc

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes cmd's process get SIGKILL when the test binary (or
// make demo) dies without cleaning up, so a killed run leaves no daemon
// behind. It also gets its own process group, which callers rely on: a
// terminal's Ctrl-C does not stop it before the harness has stopped what
// depends on it, and kill(-pid) reaches its children.
func DieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr.Setpgid = true
}
