package awselb

import (
	"fmt"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// How ELBv2 target states read during a wait.
var (
	_ lb.DrainJudge  = (*Pool)(nil)
	_ lb.HealthJudge = (*Pool)(nil)
	_ lb.LateChecker = (*Pool)(nil)
	_ lb.Identifier  = (*Pool)(nil)
)

// Identity names the group for min_healthy's lock: its ARN holds the
// region and the account; a custom endpoint (lbsim) is another world.
func (p *Pool) Identity() string { return p.c.endpoint + " " + p.arn }

// APIName names the API in messages.
const APIName = "ELBv2 API"

// DefaultInterval is the largest delay between two checks of a wait. A
// health check comes every 5 s or more and a target turns healthy some
// seconds to minutes after it is registered, so the spacing of the late
// checks decides how soon a register ends: 1 s, as community.aws.elb_target
// polls, one DescribeTargetHealth a second per target group, well inside
// ELBv2's budget (Describe calls refill at 10 a second per account and
// region).
const DefaultInterval = time.Second

// Drained counts an unused target as drained, as the SDK's
// TargetDeregistered waiter does.
func (p *Pool) Drained(st lb.State) bool { return st.AllPorts(lb.StateUnused) }

// ChecksLate is true: RegisterTargets returns at once and the target stays
// initial until it passes a health check, so a check right after it would
// only spend a request.
func (p *Pool) ChecksLate() bool { return true }

// Judge fails a registering target that turned unhealthy since the last
// observation, or that is unused for a reason other than not being
// registered yet (Target.NotRegistered): neither heals by waiting.
func (p *Pool) Judge(t lb.Target, prev, st lb.State) lb.Verdict {
	for port, state := range st.Health {
		reason := st.Reasons[port]
		turned := prev.Health[port] != state
		switch {
		case state == lb.StateUnhealthy && turned:
			return lb.Verdict{Outcome: wait.Failure, Checks: true, Msg: fmt.Sprintf("target %s turned unhealthy in %s on port %s (%s); the load balancer's health check fails: check the application and the group's health check settings",
				t, lb.Label(p), port, orUnknown(reason))}
		case state == lb.StateUnused && !strings.HasPrefix(reason, "Target.NotRegistered"):
			return lb.Verdict{Outcome: wait.Failure, Msg: fmt.Sprintf("target %s is registered in %s but unused on port %s (%s); it will not become healthy until that is fixed",
				t, lb.Label(p), port, orUnknown(reason))}
		}
	}
	return lb.Verdict{Outcome: wait.Retry}
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}
