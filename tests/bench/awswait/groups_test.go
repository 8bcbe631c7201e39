package awswait

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/benchkit"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

// An instance in three target groups (say web, api and websocket), behind
// an ELBv2 API that answers each request 100 ms late, as it does for a
// controller some way from the region: lbsim on loopback answers in well
// under a millisecond, which hides what each request costs.
const (
	groupLatency = 100 * time.Millisecond
	groupRepeats = 5 // drain + register rounds per variant
)

var threeGroups = []string{"web-tg", "api-tg", "ws-tg"}

// healthyIn is the number of groups in which lbsim calls the target
// healthy.
func (w *world) healthyIn() int {
	n := 0
	for _, tg := range w.s.State().AWS.TargetGroups {
		for _, tt := range tg.Targets {
			if tt.ID == target && tt.State == "healthy" {
				n++
			}
		}
	}
	return n
}

func TestBenchAWSGroups(t *testing.T) {
	benchkit.Gate(t)
	coll := ansibletest.Install(t)
	w := startWorld(t, 300*time.Second, 250*time.Millisecond, 2, sim.PhaseRegistration, threeGroups...)
	if err := w.s.SetFaults(sim.Faults{AWS: sim.APIFaults{Latency: sim.Duration(groupLatency)}}); err != nil {
		t.Fatal(err)
	}
	loop := "      loop: [" + strings.Join(w.groups, ", ") + "]\n"
	perGroup := func() []string {
		args := make([]string, 0, len(w.ours))
		for _, a := range w.ours {
			if !strings.HasPrefix(a, "target_group_names:") {
				args = append(args, a)
			}
		}
		return append(args, `target_group_names: ["{{ item }}"]`)
	}
	variants := []struct{ name, drain, register string }{
		{"lb_drain / lb_register, one task for the 3 groups",
			task("zerodowntime.rolling.lb_drain", w.ours...), task("zerodowntime.rolling.lb_register", w.ours...)},
		{"lb_drain / lb_register, one task per group (loop)",
			task("zerodowntime.rolling.lb_drain", perGroup()...) + loop,
			task("zerodowntime.rolling.lb_register", perGroup()...) + loop},
		{"elb_target + target_status, one task per group (loop)",
			task("community.aws.elb_target", w.peerArgs("'{{ item }}'", "state: absent", "target_status: unused", "target_status_timeout: 60")...) + loop,
			task("community.aws.elb_target", w.peerArgs("'{{ item }}'", "state: present", "target_status: healthy", "target_status_timeout: 60")...) + loop},
	}

	tab := benchkit.Table{
		Title: fmt.Sprintf("AWS drain and register of one instance in %d target groups, every ELBv2 answer %s late (lbsim), no request in flight, health checks every 250ms, healthy threshold 2: task times, median of %d, local connection",
			len(w.groups), groupLatency, groupRepeats),
		Head: []string{"modules", "drain", "register", "both", "API requests per drain + register"},
	}
	var both []time.Duration
	for _, v := range variants {
		var drains, registers, sums []time.Duration
		var requests int64
		for range groupRepeats {
			before := w.apiRequests()
			run := coll.Playbook(t, playbook([2]string{"drain", v.drain}, [2]string{"register", v.register}), w.vars, peersMayDeprecate)
			if run.ExitCode != 0 {
				t.Fatalf("%s: exit %d\n%s", v.name, run.ExitCode, run.Stdout)
			}
			requests += w.apiRequests() - before
			tasks, err := benchkit.Tasks(run.Stdout)
			if err != nil || len(tasks) != 2 {
				t.Fatalf("%s: %d tasks, %v\n%s", v.name, len(tasks), err, run.Stdout)
			}
			if n := w.healthyIn(); n != len(w.groups) {
				t.Fatalf("%s: after the register the target is healthy in %d of %d groups", v.name, n, len(w.groups))
			}
			drains, registers = append(drains, tasks[0].Duration()), append(registers, tasks[1].Duration())
			sums = append(sums, tasks[0].Duration()+tasks[1].Duration())
		}
		both = append(both, benchkit.Median(sums))
		tab.Add(v.name, benchkit.Secs(benchkit.Median(drains)), benchkit.Secs(benchkit.Median(registers)),
			benchkit.Secs(benchkit.Median(sums)), fmt.Sprintf("%.1f", float64(requests)/groupRepeats))
	}
	tab.Print()
	fmt.Printf("  both, against one task for the groups: one task per group %s, elb_target %s\n",
		benchkit.Ratio(both[1], both[0]), benchkit.Ratio(both[2], both[0]))
}
