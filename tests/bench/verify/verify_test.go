// Package verify compares zerodowntime.rolling.deploy_verify with
// ansible.builtin.uri, task for task, in one ansible-playbook run each.
// It is a benchmark: it prints numbers and asserts only that the runs
// succeeded. Run it with `make bench` (ZDT_BENCH=1).
package verify

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

const tasks = 20

// playbook repeats one task n times after a warm-up task, so that the
// per-task figure excludes ansible-playbook's start-up and the first
// transfer of a build.
func playbook(task string, n int) string {
	var b strings.Builder
	b.WriteString("- hosts: localhost\n  gather_facts: false\n  tasks:\n")
	fmt.Fprintf(&b, "    - name: warm-up\n%s", task)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "    - name: task %d\n%s", i, task)
	}
	return b.String()
}

func TestBenchDeployVerifyVsURI(t *testing.T) {
	if os.Getenv("ZDT_BENCH") == "" {
		t.Skip("benchmark: run with ZDT_BENCH=1 (make bench)")
	}
	coll := ansibletest.Install(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "v2") }))
	defer srv.Close()

	ours := fmt.Sprintf("      zerodowntime.rolling.deploy_verify:\n        url: %s/\n        expect_body: v2\n", srv.URL)
	peer := fmt.Sprintf("      ansible.builtin.uri:\n        url: %s/\n        return_content: true\n      register: r\n      failed_when: r.content | trim != 'v2'\n", srv.URL)

	perTask := func(task string) time.Duration {
		runN := func(n int) time.Duration {
			run := coll.Playbook(t, playbook(task, n))
			if run.ExitCode != 0 {
				t.Fatalf("playbook failed with exit %d", run.ExitCode)
			}
			return run.Elapsed
		}
		// The difference between a long and a short run is the cost of the
		// extra tasks alone.
		return (runN(tasks) - runN(0)) / tasks
	}
	d, u := perTask(ours), perTask(peer)
	fmt.Printf("\n%-40s %10s\n", "per task, local connection", "ms")
	fmt.Printf("%-40s %10.1f\n", "zerodowntime.rolling.deploy_verify", float64(d.Microseconds())/1000)
	fmt.Printf("%-40s %10.1f\n", "ansible.builtin.uri", float64(u.Microseconds())/1000)
	fmt.Printf("%-40s %10.2f\n", "ratio uri / deploy_verify", float64(u)/float64(d))
}
