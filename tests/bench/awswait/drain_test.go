package awswait

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/benchkit"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

const (
	drainDelay   = 12 * time.Second // the target group's deregistration delay
	drainRepeats = 3                // drains per module
)

func TestBenchAWSDrainToDelayEnd(t *testing.T) {
	benchkit.Gate(t)
	coll := ansibletest.Install(t)
	w := startWorld(t, drainDelay, 250*time.Millisecond, 2, sim.PhaseRegistration)
	register := task("zerodowntime.rolling.lb_register", w.ours...)
	variants := []struct{ name, drain string }{
		{"lb_drain (timeout unset: the delay + 60 s)", task("zerodowntime.rolling.lb_drain", w.ours...)},
		{"elb_target, target_status: unused (polls every 1 s)", task("community.aws.elb_target",
			w.peerArgs(w.groups[0], "state: absent", "target_status: unused", "target_status_timeout: 60")...)},
	}

	type row struct {
		name     string
		lags     []time.Duration
		med, max time.Duration
	}
	var rows []row
	for _, v := range variants {
		r := row{name: v.name}
		for range drainRepeats {
			r.lags = append(r.lags, w.drainLag(t, coll, v.drain, register))
		}
		slices.Sort(r.lags)
		r.med, r.max = r.lags[len(r.lags)/2], r.lags[len(r.lags)-1]
		rows = append(rows, r)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\nAWS drain lasting the whole deregistration delay (%s; a request stays in flight until lbsim cuts it at the delay):\n", drainDelay)
	fmt.Fprintf(&b, "target removed by lbsim -> drain task end, %d runs each, local connection\n", drainRepeats)
	fmt.Fprintf(&b, "%-58s %8s %8s\n", "module", "median", "max")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-58s %8s %8s\n", r.name, r.med.Round(time.Millisecond), r.max.Round(time.Millisecond))
	}
	t.Log(b.String())
}

// drainLag holds a request on the target, runs the drain task, and returns
// the time from lbsim removing the target to the task's end; then it puts
// the target back and waits until it is healthy.
func (w *world) drainLag(t *testing.T, coll *ansibletest.Collection, drain, register string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Requests of a minute each until one is on the target: lbsim spreads
	// them round robin.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, _, n := w.targetState(); n == 0; _, _, n = w.targetState() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.front+"/work?sleep=60s", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body) // in flight until lbsim cuts it
				resp.Body.Close()
			}
		}()
		time.Sleep(50 * time.Millisecond)
	}
	removed := w.when(ctx, func(present bool, _ string) bool { return !present })
	run := coll.Playbook(t, playbook([2]string{"drain", drain}, [2]string{"register", register}), w.vars, peersMayDeprecate)
	if run.ExitCode != 0 {
		t.Fatalf("drain and register: exit %d\n%s", run.ExitCode, run.Stdout)
	}
	end := taskEnd(t, run.Stdout, "drain")
	gone := <-removed
	if end.Before(gone) {
		t.Fatalf("drain task ended at %v, before lbsim removed the target at %v", end, gone)
	}
	simtest.WaitHealthy(t, w.s, 15*time.Second)
	return end.Sub(gone)
}

// taskEnd is when the named task of a json-callback run ended.
func taskEnd(t *testing.T, stdout, name string) time.Time {
	t.Helper()
	tasks, err := benchkit.Tasks(stdout)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if task.Name == name {
			return task.End
		}
	}
	t.Fatalf("no task %q in the run", name)
	return time.Time{}
}
