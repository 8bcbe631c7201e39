package rollout

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

// TasksPerHost is how many Ansible tasks a host runs in a rollout that
// goes well: the role's eleven or so (argument check, drain, token, verify,
// register, the skipped tasks of other load-balancer kinds), the two of the
// harness's deploy step, and one for the batch's play to start.
const TasksPerHost = 14

// Margin multiplies a rollout's expected time into its deadline: the
// expectation counts what the rollout must wait for at the machine's
// measured pace, and a slow moment, a second rollout in the other slot or
// a busy CPU must not turn into a failure.
const Margin = 4

// Budget is how long one ansible-playbook run of a scenario may take: the
// Ansible tasks at the machine's pace plus what the rollout waits for on
// its hosts (in-flight requests to drain, cloud actions, the new version's
// boot, health checks to pass, and the timeouts of the steps a broken host
// fails), times Margin.
type Budget struct {
	Ansible time.Duration
	Waits   time.Duration
	// Terms says what Ansible and Waits are made of.
	Terms []string
}

// Total is the deadline the budget gives.
func (b Budget) Total() time.Duration { return Margin * (b.Ansible + b.Waits) }

func (b Budget) String() string {
	return fmt.Sprintf("%s = %d × (%s)", b.Total().Round(time.Second), Margin, strings.Join(b.Terms, " + "))
}

// Budget is the deadline of one ansible-playbook run of this scenario,
// given ansible-playbook's start-up and per-task cost on this machine now
// (tests/ansibletest's MeasurePace).
func (s *Scenario) Budget(startup, perTask time.Duration) Budget {
	o := s.Opts
	hosts := len(s.Hosts)
	tasks := hosts * TasksPerHost
	b := Budget{Ansible: startup + time.Duration(tasks)*perTask}
	b.Terms = append(b.Terms, fmt.Sprintf("ansible %s + %d tasks × %s", round(startup), tasks, round(perTask)))

	// One host's waits; the hosts of a batch wait side by side.
	var each []string
	host := time.Duration(0)
	add := func(what string, d time.Duration) {
		if d > 0 {
			host += d
			each = append(each, what+" "+round(d).String())
		}
	}
	if lo := o.Load.withDefaults(); lo.SlowEvery > 0 && lo.Clients >= lo.SlowEvery {
		add("drain", lo.SlowMax)
	}
	add("boot", o.BootDelay)
	checks, actions := s.lbTiming()
	add("checks", checks)
	add("actions", actions)
	add("faults", o.ExtraPerHost)
	// deploy_min_healthy lets at most hosts − min_healthy of a batch out at
	// once; the rest of the batch waits for them to come back.
	batches := (hosts + o.Serial - 1) / o.Serial
	rounds, per := batches, ""
	if out := hosts - s.minHealthy(); out > 0 && out < o.Serial {
		n := (o.Serial + out - 1) / out
		rounds, per = batches*n, fmt.Sprintf(" × %d rounds", n)
	}
	b.Waits = time.Duration(rounds) * host
	b.Terms = append(b.Terms, fmt.Sprintf("%d batches%s × (%s)", batches, per, strings.Join(each, " + ")))

	// A broken host fails a step only once that step's timeout is up, and a
	// rollback boots and verifies the old version again.
	if n := len(o.Broken); n > 0 {
		fail := s.varSeconds("deploy_verify_timeout") + s.varSeconds("deploy_register_timeout")
		if o.Rollback {
			fail += o.BootDelay + s.varSeconds("deploy_verify_timeout")
		}
		b.Waits += time.Duration(n) * fail
		b.Terms = append(b.Terms, fmt.Sprintf("%d broken × %s", n, round(fail)))
	}
	return b
}

// lbTiming is how long the load balancer takes to call a registered host
// healthy, and its actions' delays for one drain and one register, in the
// slowest of its pools.
func (s *Scenario) lbTiming() (checks, actions time.Duration) {
	if s.simCfg == nil {
		// The harness's HAProxy: default-server check inter 200 rise 2.
		return 2 * 200 * time.Millisecond, 0
	}
	c := s.simCfg
	for _, lb := range c.Hetzner.LoadBalancers {
		for _, svc := range lb.Services {
			hc := svc.HealthCheck
			checks = max(checks, time.Duration(hc.Retries)*(time.Duration(hc.Interval)+time.Duration(hc.Timeout)))
		}
	}
	if n := len(c.Hetzner.LoadBalancers); n > 0 {
		actions = 2 * time.Duration(n) * time.Duration(c.Hetzner.ActionDelay)
	}
	for _, tg := range c.AWS.TargetGroups {
		hc := tg.HealthCheck
		checks = max(checks, time.Duration(hc.HealthyThreshold)*(time.Duration(hc.Interval)+time.Duration(hc.Timeout)))
	}
	return checks, actions + faultLatency(c.Faults)
}

// faultLatency is what lbsim's configured API latency adds to a drain and
// a register: a dozen API requests between them.
func faultLatency(f sim.Faults) time.Duration {
	return 12 * max(time.Duration(f.Hetzner.Latency), time.Duration(f.AWS.Latency))
}

// minHealthy is the scenario's deploy_min_healthy (the role's default: 1).
func (s *Scenario) minHealthy() int {
	switch x := s.Opts.Vars["deploy_min_healthy"].(type) {
	case int:
		return x
	case float64:
		return int(x)
	}
	return 1
}

// varSeconds is a role timeout the harness sets, as the scenario's Vars
// override it.
func (s *Scenario) varSeconds(name string) time.Duration {
	v := s.Vars("", "")[name]
	var n float64
	switch x := v.(type) {
	case int:
		n = float64(x)
	case float64:
		n = x
	case string:
		n, _ = strconv.ParseFloat(x, 64)
	}
	return time.Duration(n * float64(time.Second))
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
