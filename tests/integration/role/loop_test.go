package role

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// TestLoopItemsRunAfterAFailedOne: the premise of the role's step loops.
// ansible-core goes on with a loop's items after one failed, so a put-back
// loop of plain modules would register a host whose verify had just failed;
// zerodowntime.rolling.rollout_step skips them instead
// (TestRescueNamesTheFailedStep checks the register item after a failed
// verify).
func TestLoopItemsRunAfterAFailedOne(t *testing.T) {
	coll := ansibletest.Install(t)
	marker := filepath.Join(t.TempDir(), "registered")
	r := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Verify, then register
      ansible.builtin.command: "{{ item }}"
      loop: ["false", "touch `+marker+`"]
`)
	if r.ExitCode == 0 {
		t.Fatalf("exit 0, want the loop to fail at its first item")
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the second item did not run after the first failed (%v): ansible-core's loops stop at a failed item now, and the step loops' own rule is no longer the only guard", err)
	}
}
