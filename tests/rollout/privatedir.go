package rollout

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The harness's hosts all run on the controller, so a file one of them
// makes is a file every one of them sees. Options.PrivateDir gives the app
// hosts separate filesystems where it matters: PrivateDir() is one path on
// every host, as a fleet's /srv/app would be, which on an app host is that
// host's Dir and on the controller (localhost, where the role delegates)
// an empty directory of its own. Ansible runs each app host's commands
// through a shell (ansible_shell_executable) that enters a mount namespace
// with the host's Dir bound there; the apps themselves run outside it and
// see their Dir, so a health file made on the controller reaches no app.

// PrivateDir is the path that each app host sees as its own Dir (with
// Options.PrivateDir), and the controller as a directory of its own.
func (s *Scenario) PrivateDir() string { return filepath.Join(s.dir, "private") }

// hostShell is where app host h's shell for Ansible is written.
func (s *Scenario) hostShell(h Host) string { return filepath.Join(s.dir, h.Name+"-shell") }

// setupPrivateDir writes every app host's shell and makes sure mount
// namespaces work here, with one run of the first.
func (s *Scenario) setupPrivateDir() error {
	if err := os.MkdirAll(s.PrivateDir(), 0o755); err != nil {
		return err
	}
	unshare := "unshare --mount --propagation private"
	if os.Geteuid() != 0 {
		unshare = "unshare --user --map-root-user --mount --propagation private"
	}
	for _, h := range s.Hosts {
		script := fmt.Sprintf("#!/bin/sh\n# written by tests/rollout: %s's shell, where %s is %s\n"+
			"exec %s /bin/sh -c 'mount --bind \"$0\" \"$1\" && shift && exec /bin/sh \"$@\"' %s %s \"$@\"\n",
			h.Name, s.PrivateDir(), h.Dir, unshare, shellQuote(h.Dir), shellQuote(s.PrivateDir()))
		if err := os.WriteFile(s.hostShell(h), []byte(script), 0o755); err != nil {
			return err
		}
	}
	probe := filepath.Join(s.PrivateDir(), filepath.Base(s.Hosts[0].PIDFile()))
	out, err := exec.Command(s.hostShell(s.Hosts[0]), "-c", "test -f "+shellQuote(probe)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("PrivateDir needs mount namespaces (unshare(1)): %s's shell: %v %s", s.Hosts[0].Name, err, out)
	}
	return nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
