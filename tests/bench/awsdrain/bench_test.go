// Package awsdrain times an AWS drain that lasts the whole deregistration
// delay, as AWS drains while a connection stays open: from the moment
// lbsim removes the target (the delay has run out, the request is cut) to
// the end of the drain task, for lb_drain and for community.aws.elb_target
// waiting with target_status. It runs only with ZDT_BENCH=1 (make bench).
package awsdrain

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
	delay   = 12 * time.Second // the target group's deregistration delay
	repeats = 3                // drains per module
	keyID   = "AKIAAWSDRAINBENCH001"
	secret  = "awsdrainBenchSecretKey00000000000000001"
	target  = "i-0000000000000001" // simtest.AddTargets' first instance
)

func TestBenchAWSDrainToDelayEnd(t *testing.T) {
	benchkit.Gate(t)
	coll := ansibletest.Install(t)
	hosts := simtest.Hosts(2)
	backends, port := simtest.Backends(t, hosts...)
	d := sim.Duration(delay)
	cfg := &sim.Config{AWS: sim.AWS{
		Region: "eu-central-1", AccessKeyID: keyID, SecretAccessKey: secret,
		TargetGroups: []sim.TargetGroup{{
			ARN:  "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web-tg/0123456789abcdef",
			Name: "web-tg", Port: port, DeregistrationDelay: &d,
			HealthCheck: sim.AWSHealthCheck{Path: "/healthz", Interval: sim.Duration(250 * time.Millisecond),
				Timeout: sim.Duration(time.Second), HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200"},
		}},
		Listeners: []sim.Listener{{TargetGroup: "web-tg"}},
	}}
	simtest.AddTargets(cfg, hosts)
	s := simtest.Start(t, cfg)
	ep := s.Endpoints()
	simtest.WaitHealthy(t, s, 15*time.Second)
	front := ep.Listeners[0].URL
	vars := ansibletest.Vars(map[string]any{"aws_api": ep.AWSAPI, "aws_key_id": keyID, "aws_secret": secret})

	common := []string{"region: eu-central-1", `endpoint_url: "{{ aws_api }}"`}
	ours := append([]string{"provider: aws", `access_key: "{{ aws_key_id }}"`, `secret_key: "{{ aws_secret }}"`,
		"target_group_names: [web-tg]", "target: " + target}, common...)
	peer := append([]string{`access_key: "{{ aws_key_id }}"`, `secret_key: "{{ aws_secret }}"`,
		"target_group_name: web-tg", "target_id: " + target}, common...)
	register := task("zerodowntime.rolling.lb_register", ours...)
	variants := []struct{ name, drain string }{
		{"lb_drain (timeout unset: the delay + 60 s)", task("zerodowntime.rolling.lb_drain", ours...)},
		{"elb_target, target_status: unused (polls every 1 s)", task("community.aws.elb_target",
			append(peer, "state: absent", "target_status: unused", "target_status_timeout: 60")...)},
	}

	type row struct {
		name     string
		lags     []time.Duration
		med, max time.Duration
	}
	var rows []row
	for _, v := range variants {
		r := row{name: v.name}
		for range repeats {
			r.lags = append(r.lags, drainLag(t, coll, s, front, backends[0], v.drain, register, vars))
		}
		slices.Sort(r.lags)
		r.med, r.max = r.lags[len(r.lags)/2], r.lags[len(r.lags)-1]
		rows = append(rows, r)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\nAWS drain lasting the whole deregistration delay (%s; a request stays in flight until lbsim cuts it at the delay):\n", delay)
	fmt.Fprintf(&b, "target removed by lbsim -> drain task end, %d runs each, local connection\n", repeats)
	fmt.Fprintf(&b, "%-58s %8s %8s\n", "module", "median", "max")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-58s %8s %8s\n", r.name, r.med.Round(time.Millisecond), r.max.Round(time.Millisecond))
	}
	t.Log(b.String())
}

// drainLag holds a request on the target, runs the drain task, and returns
// the time from lbsim removing the target to the task's end; then it puts
// the target back and waits until it is healthy.
func drainLag(t *testing.T, coll *ansibletest.Collection, s *sim.Sim, front string, b *simtest.Backend, drain, register string, vars ansibletest.Option) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Requests of a minute each until one is on the target: lbsim spreads
	// them round robin.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, n := targetState(s); n == 0; _, n = targetState(s) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, front+"/work?sleep=60s", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body) // in flight until lbsim cuts it
				resp.Body.Close()
			}
		}()
		time.Sleep(50 * time.Millisecond)
	}
	removed := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			if present, _ := targetState(s); !present {
				removed <- time.Now()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	run := coll.Playbook(t, "- hosts: localhost\n  gather_facts: false\n  tasks:\n"+
		"    - name: drain\n"+drain+"    - name: register\n"+register, vars)
	if run.ExitCode != 0 {
		t.Fatalf("drain and register: exit %d\n%s", run.ExitCode, run.Stdout)
	}
	tasks, err := benchkit.Tasks(run.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	var end time.Time
	for _, task := range tasks {
		if task.Name == "drain" {
			end = task.End
		}
	}
	gone := <-removed
	if end.IsZero() || end.Before(gone) {
		t.Fatalf("drain task ended at %v, before lbsim removed the target at %v", end, gone)
	}
	simtest.WaitHealthy(t, s, 15*time.Second)
	return end.Sub(gone)
}

// targetState says whether lbsim still lists the target, and how many
// requests it is proxying to it.
func targetState(s *sim.Sim) (present bool, inFlight int) {
	for _, tg := range s.State().AWS.TargetGroups {
		for _, tt := range tg.Targets {
			if tt.ID == target {
				return true, tt.InFlight
			}
		}
	}
	return false, 0
}

func task(module string, args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "      %s:\n", module)
	for _, a := range args {
		fmt.Fprintf(&b, "        %s\n", a)
	}
	return b.String()
}
