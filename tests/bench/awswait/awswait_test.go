// Package awswait times the AWS waits that last long on a real load
// balancer: a drain through the whole deregistration delay, as AWS drains
// while a connection stays open, and a register through health checks spaced
// as AWS spaces them (seconds apart, not lbsim's usual fraction of a
// second). Each measures the time from lbsim's change of state to the end of
// the task, for lb_drain / lb_register and for community.aws.elb_target
// waiting with target_status. It runs only with ZDT_BENCH=1 (make bench).
package awswait

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// peersMayDeprecate: the playbooks run community.aws.elb_target too, and
// what ansible-core deprecates in another collection is not this one's to
// fix.
var peersMayDeprecate = ansibletest.AllowDeprecations()

const (
	keyID  = "AKIAAWSWAITBENCH0001"
	secret = "awswaitBenchSecretKey000000000000000001"
	target = "i-0000000000000001" // simtest.AddTargets' first instance
)

// world is lbsim with target groups of the same two targets (web-tg unless
// named otherwise), and the task arguments that address them.
type world struct {
	s        *sim.Sim
	front    string             // the listener, of the first group
	backends []*simtest.Backend // backends[0] is target
	vars     ansibletest.Option
	groups   []string
	ours     []string // lb_drain / lb_register arguments, every group
	peer     []string // elb_target arguments but the group
}

// startWorld starts lbsim with the given deregistration delay, health
// check spacing and phase, and waits until every target is healthy.
func startWorld(t *testing.T, delay, interval time.Duration, healthy int, phase string, groups ...string) *world {
	t.Helper()
	if len(groups) == 0 {
		groups = []string{"web-tg"}
	}
	hosts := simtest.Hosts(2)
	backends, port := simtest.Backends(t, hosts...)
	d := sim.Duration(delay)
	cfg := &sim.Config{HealthCheckPhase: phase, AWS: sim.AWS{
		Region: "eu-central-1", AccessKeyID: keyID, SecretAccessKey: secret,
	}}
	for i, g := range groups {
		// A group no listener forwards to has its targets unused.
		cfg.AWS.Listeners = append(cfg.AWS.Listeners, sim.Listener{TargetGroup: g})
		cfg.AWS.TargetGroups = append(cfg.AWS.TargetGroups, sim.TargetGroup{
			ARN:  fmt.Sprintf("arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/%s/%016x", g, i+1),
			Name: g, Port: port, DeregistrationDelay: &d,
			HealthCheck: sim.AWSHealthCheck{Path: "/healthz", Interval: sim.Duration(interval),
				Timeout: sim.Duration(time.Second), HealthyThreshold: healthy, UnhealthyThreshold: 2, Matcher: "200"},
		})
	}
	simtest.AddTargets(cfg, hosts)
	s := simtest.Start(t, cfg)
	ep := s.Endpoints()
	simtest.WaitHealthy(t, s, time.Duration(healthy+2)*interval+5*time.Second)
	common := []string{"region: eu-central-1", `endpoint_url: "{{ aws_api }}"`,
		`access_key: "{{ aws_key_id }}"`, `secret_key: "{{ aws_secret }}"`}
	return &world{
		s: s, front: ep.Listeners[0].URL, backends: backends, groups: groups,
		vars: ansibletest.Vars(map[string]any{"aws_api": ep.AWSAPI, "aws_key_id": keyID, "aws_secret": secret}),
		ours: append([]string{"provider: aws", "target_group_names: [" + strings.Join(groups, ", ") + "]", "target: " + target}, common...),
		peer: append([]string{"target_id: " + target}, common...),
	}
}

// peerArgs are elb_target's arguments for group, then more.
func (w *world) peerArgs(group string, more ...string) []string {
	return append(append([]string{"target_group_name: " + group}, w.peer...), more...)
}

// targetState says whether lbsim still lists the target, its state, and
// how many requests it is proxying to it.
func (w *world) targetState() (present bool, state string, inFlight int) {
	for _, tg := range w.s.State().AWS.TargetGroups {
		for _, tt := range tg.Targets {
			if tt.ID == target {
				return true, tt.State, tt.InFlight
			}
		}
	}
	return false, "", 0
}

// when watches lbsim every 5 ms until ctx ends and sends the moment the
// target first matches cond (present: lbsim lists it; state: its state).
func (w *world) when(ctx context.Context, cond func(present bool, state string) bool) <-chan time.Time {
	at := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			if present, state, _ := w.targetState(); cond(present, state) {
				at <- time.Now()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return at
}

// apiRequests is how many ELBv2 requests lbsim has answered.
func (w *world) apiRequests() int64 {
	var n int64
	for op, c := range w.s.Counts().API {
		if strings.HasPrefix(op, "aws ") {
			n += c
		}
	}
	return n
}

// playbook is one play on localhost running the named tasks in order.
func playbook(tasks ...[2]string) string {
	var b strings.Builder
	b.WriteString("- hosts: localhost\n  gather_facts: false\n  tasks:\n")
	for _, tk := range tasks {
		fmt.Fprintf(&b, "    - name: %s\n%s", tk[0], tk[1])
	}
	return b.String()
}

func task(module string, args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "      %s:\n", module)
	for _, a := range args {
		fmt.Fprintf(&b, "        %s\n", a)
	}
	return b.String()
}
