package rollout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

// scenarioFor is a Scenario as Setup makes it, without starting anything.
func scenarioFor(t *testing.T, o Options) *Scenario {
	t.Helper()
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	s := &Scenario{Opts: o}
	for i := range o.Hosts {
		s.Hosts = append(s.Hosts, Host{Name: fmt.Sprintf("app-%d", i+1), Addr: fmt.Sprintf("127.0.%d.%d:%d", o.Net, 11+i, o.Port),
			InstanceID: fmt.Sprintf("i-%016x", i+1), ServerID: int64(101 + i)})
	}
	if o.LB != "haproxy" {
		cfg, err := simConfig(o.LB, s.Hosts)
		if err != nil {
			t.Fatal(err)
		}
		if o.SimConfig != nil {
			o.SimConfig(cfg)
		}
		s.simCfg = cfg
	}
	return s
}

func TestBudget(t *testing.T) {
	const startup, perTask = time.Second, 300 * time.Millisecond
	ansible3 := startup + 3*TasksPerHost*perTask // three hosts' tasks
	for _, c := range []struct {
		name      string
		opts      Options
		wantWaits time.Duration
		wantTerms []string
	}{
		{
			// Each host: the longest slow request (2 s), the 3 s boot,
			// HAProxy's rise 2 × inter 200 ms.
			name:      "haproxy",
			opts:      Options{LB: "haproxy"},
			wantWaits: 3 * (2*time.Second + 3*time.Second + 400*time.Millisecond),
			wantTerms: []string{"3 batches × (drain 2s + boot 3s + checks 400ms)"},
		},
		{
			// lbsim's checks: 2 × (interval 300 ms + timeout 1 s); a
			// remove and an add action of 300 ms each.
			name:      "hetzner, no slow requests",
			opts:      Options{LB: "hetzner", BootDelay: time.Second, Load: LoadOptions{SlowEvery: -1}},
			wantWaits: 3 * (time.Second + 2600*time.Millisecond + 600*time.Millisecond),
			wantTerms: []string{"3 batches × (boot 1s + checks 2.6s + actions 600ms)"},
		},
		{
			// Two batches; 1 s of API latency for each of a dozen requests.
			name:      "aws, serial 2, slow API",
			opts:      Options{LB: "aws", Serial: 2, SimConfig: func(c *sim.Config) { c.Faults.AWS.Latency = sim.Duration(time.Second) }},
			wantWaits: 2 * (2*time.Second + 3*time.Second + 2600*time.Millisecond + 12*time.Second),
			wantTerms: []string{"2 batches × (drain 2s + boot 3s + checks 2.6s + actions 12s)"},
		},
		{
			// min_healthy 2 of 3 lets one host out at a time: the batch
			// of 3 takes three hosts' waits, as serial 1 does.
			name:      "haproxy, serial 3, min_healthy 2",
			opts:      Options{LB: "haproxy", Serial: 3, Vars: map[string]any{"deploy_min_healthy": 2}},
			wantWaits: 3 * (2*time.Second + 3*time.Second + 400*time.Millisecond),
			wantTerms: []string{"1 batches × 3 rounds × (drain 2s"},
		},
		{
			// A broken host waits out the verify (8 s) and the register
			// (30 s) timeouts the harness sets; with a rollback, a boot
			// and a verify more.
			name:      "broken host with rollback",
			opts:      Options{LB: "haproxy", Broken: map[string]string{"app-2": "nostart"}, Rollback: true},
			wantWaits: 3*(5*time.Second+400*time.Millisecond) + 8*time.Second + 30*time.Second + 3*time.Second + 8*time.Second,
			wantTerms: []string{"1 broken × 49s"},
		},
		{
			name: "register timeout from the scenario's vars, faults per host",
			opts: Options{LB: "haproxy", Broken: map[string]string{"app-2": "unhealthy"}, ExtraPerHost: 5 * time.Second,
				Vars: map[string]any{"deploy_register_timeout": 4}},
			wantWaits: 3*(5*time.Second+400*time.Millisecond+5*time.Second) + 8*time.Second + 4*time.Second,
			wantTerms: []string{"faults 5s", "1 broken × 12s"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := scenarioFor(t, c.opts).Budget(startup, perTask)
			if b.Ansible != ansible3 {
				t.Errorf("Ansible = %s, want %s", b.Ansible, ansible3)
			}
			if b.Waits != c.wantWaits {
				t.Errorf("Waits = %s, want %s (%s)", b.Waits, c.wantWaits, b)
			}
			if b.Total() != Margin*(ansible3+c.wantWaits) {
				t.Errorf("Total = %s, want %d × (%s + %s)", b.Total(), Margin, ansible3, c.wantWaits)
			}
			for _, w := range append(c.wantTerms, "ansible 1s + 42 tasks × 300ms") {
				if !strings.Contains(b.String(), w) {
					t.Errorf("String() = %q, lacks %q", b, w)
				}
			}
		})
	}
}

// A rollout that outlives its deadline fails with what was happening at
// that moment: the step each host was in, the load balancer's view, what
// the apps answer, and the deadline's own reason.
func TestRunSaysWhereItWasAtTheDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts HAProxy and three apps; skipped with -short")
	}
	setup, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Setup(setup, Options{LB: "haproxy", Net: 211})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A playbook that drained app-2, says it is registering it, and then
	// hangs until it is stopped.
	s.Opts.Playbook = func(ctx context.Context, _ string, _ map[string]any) (PlaybookRun, error) {
		if _, err := s.HAProxy.Command("set server app/app-2 state maint"); err != nil {
			return PlaybookRun{}, err
		}
		line := fmt.Sprintf(`{"event": "start", "host": "app-2", "task": "zerodowntime.rolling.deploy : Register", "time": %d}`+"\n",
			time.Now().Unix())
		if err := os.WriteFile(s.ProgressFile(), []byte(line), 0o644); err != nil {
			return PlaybookRun{}, err
		}
		<-ctx.Done()
		return PlaybookRun{ExitCode: 130}, nil
	}
	ctx, stop := context.WithTimeoutCause(context.Background(), 3*time.Second, errors.New("deadline 3s = the test's"))
	defer stop()
	_, err = s.Run(ctx)
	if err == nil {
		t.Fatal("Run returned no error for a playbook that outlived its deadline")
	}
	t.Logf("the error: %v", err)
	for _, want := range []string{
		"deadline 3s = the test's",
		`app-2: in "zerodowntime.rolling.deploy : Register" for`,
		`app-2 serves v1, haproxy "maint" out of rotation`,
		`app-1 serves v1, haproxy "up" in rotation`,
		"load: ",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
