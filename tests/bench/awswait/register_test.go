package awswait

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/benchkit"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

// AWS's shortest health check spacing: an interval of 5 s and a healthy
// threshold of 2, so a registered target turns healthy 5 to 10 s later,
// with the first check at a random moment of the first interval (AWS's
// load balancer nodes check on their own clocks, not the registration's).
const (
	checkInterval   = 5 * time.Second
	healthyCount    = 2
	registerRepeats = 7 // registers per module
)

func TestBenchAWSRegisterHealthCheck(t *testing.T) {
	benchkit.Gate(t)
	coll := ansibletest.Install(t)
	w := startWorld(t, 300*time.Second, checkInterval, healthyCount, sim.PhaseRandom)
	drain := task("zerodowntime.rolling.lb_drain", w.ours...)
	variants := []struct{ name, register string }{
		{"lb_register (interval unset: 1 s on AWS)", task("zerodowntime.rolling.lb_register", w.ours...)},
		{"lb_register, interval: 3 (Hetzner's default)", task("zerodowntime.rolling.lb_register",
			append(slices.Clone(w.ours), "interval: 3")...)},
		{"elb_target, target_status: healthy (polls every 1 s)", task("community.aws.elb_target",
			w.peerArgs(w.groups[0], "state: present", "target_status: healthy", "target_status_timeout: 60")...)},
	}

	tab := benchkit.Table{
		Title: fmt.Sprintf("AWS register through health checks every %s, healthy threshold %d, first check at a random moment (lbsim): target healthy -> register task end, %d runs each, local connection",
			checkInterval, healthyCount, registerRepeats),
		Head: []string{"module", "mean", "median", "max", "task (median)", "API requests per register"},
	}
	for _, v := range variants {
		var lags, tasks []time.Duration
		var requests int64
		for range registerRepeats {
			lag, took, n := w.registerLag(t, coll, drain, v.register)
			lags, tasks = append(lags, lag), append(tasks, took)
			requests += n
		}
		slices.Sort(lags)
		tab.Add(v.name, benchkit.Ms(benchkit.Mean(lags)), benchkit.Ms(benchkit.Median(lags)), benchkit.Ms(lags[len(lags)-1]),
			benchkit.Secs(benchkit.Median(tasks)), fmt.Sprintf("%.1f", float64(requests)/registerRepeats))
	}
	tab.Print()
}

// registerLag drains the target (it has no requests in flight, so it goes
// at once), then runs the register task and returns the time from lbsim
// calling the target healthy to the task's end, the task's duration, and
// the ELBv2 requests the register made.
func (w *world) registerLag(t *testing.T, coll *ansibletest.Collection, drain, register string) (lag, took time.Duration, requests int64) {
	t.Helper()
	if run := coll.Playbook(t, playbook([2]string{"drain", drain}), w.vars, peersMayDeprecate); run.ExitCode != 0 {
		t.Fatalf("drain: exit %d\n%s", run.ExitCode, run.Stdout)
	}
	if present, state, _ := w.targetState(); present {
		t.Fatalf("the drained target is still listed (%s)", state)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	healthy := w.when(ctx, func(_ bool, state string) bool { return state == "healthy" })
	before := w.apiRequests()
	run := coll.Playbook(t, playbook([2]string{"register", register}), w.vars, peersMayDeprecate)
	if run.ExitCode != 0 {
		t.Fatalf("register: exit %d\n%s", run.ExitCode, run.Stdout)
	}
	requests = w.apiRequests() - before
	tasks, err := benchkit.Tasks(run.Stdout)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("register run: %d tasks, %v\n%s", len(tasks), err, run.Stdout)
	}
	var at time.Time
	select {
	case at = <-healthy:
	case <-time.After(time.Second):
		t.Fatalf("the register task ended, but lbsim never called the target healthy:\n%s", run.Stdout)
	}
	if tasks[0].End.Before(at) {
		t.Fatalf("register task ended at %v, before the target turned healthy at %v", tasks[0].End, at)
	}
	return tasks[0].End.Sub(at), tasks[0].Duration(), requests
}
