package awselb_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
)

const (
	webARN = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web/0123456789abcdef"
	apiARN = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/api/fedcba9876543210"
)

func awsArgs(srv *lbtest.Server, extra map[string]any) map[string]any {
	a := map[string]any{
		"provider": "aws", "region": "eu-central-1", "endpoint_url": srv.URL,
		"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": lbtest.AWSSecret, "session_token": lbtest.AWSSession,
		"target_group_names": []any{"web"}, "target": "i-1",
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

var (
	webGroup = lbtest.AWSGroup{ARN: webARN, Name: "web", Port: 80}
	apiGroup = lbtest.AWSGroup{ARN: apiARN, Name: "api", Port: 8080}
	i1       = lbtest.AWSMember{ID: "i-1", Port: 80, State: "healthy"}
	i2       = lbtest.AWSMember{ID: "i-2", Port: 80, State: "healthy"}
	i1drain  = lbtest.AWSMember{ID: "i-1", Port: 80, State: "draining", Reason: "Target.DeregistrationInProgress", Description: "Target deregistration is in progress"}
	i1init   = lbtest.AWSMember{ID: "i-1", Port: 80, State: "initial", Reason: "Elb.InitialHealthChecking"}
	i1bad    = lbtest.AWSMember{ID: "i-1", Port: 80, State: "unhealthy", Reason: "Target.ResponseCodeMismatch", Description: "Health checks failed with these codes: [503]"}
	i2bad    = lbtest.AWSMember{ID: "i-2", Port: 80, State: "unhealthy", Reason: "Target.Timeout"}
)

func health(arn string, ms ...lbtest.AWSMember) lbtest.Exchange {
	return lbtest.Exchange{Action: "DescribeTargetHealth", Form: map[string]string{"TargetGroupArn": arn}, Body: lbtest.AWSTargetHealth(ms...)}
}

func groups(names string, gs ...lbtest.AWSGroup) lbtest.Exchange {
	form := map[string]string{}
	for i, n := range strings.Split(names, ",") {
		form["Names.member."+string(rune('1'+i))] = n
	}
	return lbtest.Exchange{Action: "DescribeTargetGroups", Form: form, Body: lbtest.AWSTargetGroups(gs...)}
}

// drainingFor is a drain of i-1 from web whose deregistration delay is
// delay seconds: draining at polls polls, then gone.
func drainingFor(delay, polls int) []lbtest.Exchange {
	ex := []lbtest.Exchange{
		groups("web", webGroup),
		health(webARN, i1, i2),
		{Action: "DescribeTargetGroupAttributes", Body: lbtest.AWSAttributes(delay)},
		{Action: "DeregisterTargets", Body: lbtest.AWSEmpty("DeregisterTargets")},
	}
	for range polls {
		ex = append(ex, health(webARN, i1drain, i2))
	}
	return append(ex, health(webARN, i2))
}

func TestAWS(t *testing.T) {
	tests := []struct {
		name      string
		module    string
		args      map[string]any
		exchanges []lbtest.Exchange
		failed    bool
		changed   bool
		msg       []string
		code      string
		check     func(t *testing.T, r lbtest.Result)
	}{
		{
			name:   "drain deregisters and waits until the target is gone; timeout follows the delay",
			module: "lb_drain",
			args:   map[string]any{"timeout": nil},
			exchanges: []lbtest.Exchange{
				groups("web", webGroup),
				health(webARN, i1, i2),
				{Action: "DescribeTargetGroupAttributes", Body: lbtest.AWSAttributes(30)},
				{Action: "DeregisterTargets", Form: map[string]string{"TargetGroupArn": webARN, "Targets.member.1.Id": "i-1", "Targets.member.1.Port": "80"}, Body: lbtest.AWSEmpty("DeregisterTargets")},
				health(webARN, i1drain, i2),
				health(webARN, i2),
			},
			changed: true,
			check: func(t *testing.T, r lbtest.Result) {
				p := r.Pool(t, 0)
				if lbtest.Get(p, "before", "health", "80") != "healthy" || lbtest.Get(p, "after", "registered") != false || p["kind"] != "target_group" || p["id"] != webARN {
					t.Errorf("pool: %v", p)
				}
				if r.Out["api_requests"] != 6.0 {
					t.Errorf("api_requests %v", r.Out["api_requests"])
				}
			},
		},
		{
			name:   "drain from two groups",
			module: "lb_drain",
			args:   map[string]any{"target_group_names": []any{"web", "api"}, "target_port": 8080},
			// Each step goes to both groups at once: a pair answers only
			// when both requests have arrived.
			exchanges: []lbtest.Exchange{
				groups("web,api", webGroup, apiGroup),
				lbtest.AnyOrder(lbtest.Together(2,
					health(webARN, lbtest.AWSMember{ID: "i-1", Port: 8080, State: "healthy"}, i2),
					health(apiARN, lbtest.AWSMember{ID: "i-1", Port: 8080, State: "healthy"}, lbtest.AWSMember{ID: "i-2", Port: 8080, State: "healthy"}),
				)...),
				lbtest.AnyOrder(lbtest.Together(2,
					lbtest.Exchange{Action: "DescribeTargetGroupAttributes", Form: map[string]string{"TargetGroupArn": webARN}, Body: lbtest.AWSAttributes(30)},
					lbtest.Exchange{Action: "DescribeTargetGroupAttributes", Form: map[string]string{"TargetGroupArn": apiARN}, Body: lbtest.AWSAttributes(30)},
				)...),
				lbtest.AnyOrder(lbtest.Together(2,
					lbtest.Exchange{Action: "DeregisterTargets", Form: map[string]string{"TargetGroupArn": webARN, "Targets.member.1.Port": "8080"}, Body: lbtest.AWSEmpty("DeregisterTargets")},
					lbtest.Exchange{Action: "DeregisterTargets", Form: map[string]string{"TargetGroupArn": apiARN, "Targets.member.1.Port": "8080"}, Body: lbtest.AWSEmpty("DeregisterTargets")},
				)...),
				lbtest.AnyOrder(lbtest.Together(2,
					health(webARN, i2),
					health(apiARN, lbtest.AWSMember{ID: "i-1", Port: 8080, State: "draining"}, lbtest.AWSMember{ID: "i-2", Port: 8080, State: "healthy"}),
				)...),
				// web is done: only api is read again.
				health(apiARN, lbtest.AWSMember{ID: "i-2", Port: 8080, State: "healthy"}),
			},
			changed: true,
		},
		{
			name:   "a register refused in one group is named; the other group's stands",
			module: "lb_register",
			args:   map[string]any{"target_group_names": []any{"web", "api"}},
			exchanges: []lbtest.Exchange{
				groups("web,api", webGroup, apiGroup),
				lbtest.AnyOrder(health(webARN, i2), health(apiARN, i2)),
				lbtest.AnyOrder(
					lbtest.Exchange{Action: "RegisterTargets", Form: map[string]string{"TargetGroupArn": webARN}, Body: lbtest.AWSEmpty("RegisterTargets")},
					lbtest.Exchange{Action: "RegisterTargets", Form: map[string]string{"TargetGroupArn": apiARN}, Status: 403, Body: lbtest.AWSError("AccessDenied", "not allowed on api")},
				),
				// The groups are read again: the result shows each as it is.
				lbtest.AnyOrder(health(webARN, i1init, i2), health(apiARN, i2)),
			},
			failed:  true,
			changed: true,
			msg:     []string{"registered i-1 in target group web, but ", "registering i-1 in target group api", "AccessDenied: not allowed on api"},
			code:    "AccessDenied",
			check: func(t *testing.T, r lbtest.Result) {
				if r.Pool(t, 0)["changed"] != true || r.Pool(t, 1)["changed"] != false {
					t.Errorf("changed: web %v, api %v; want true, false", r.Pool(t, 0)["changed"], r.Pool(t, 1)["changed"])
				}
				if lbtest.Get(r.Pool(t, 0), "after", "registered") != true || lbtest.Get(r.Pool(t, 1), "after", "registered") != false {
					t.Errorf("after: web %v, api %v", r.Pool(t, 0)["after"], r.Pool(t, 1)["after"])
				}
			},
		},
		{
			name:   "a change cut short by the timeout says which group is done",
			module: "lb_drain",
			args:   map[string]any{"target_group_names": []any{"web", "api"}, "timeout": 1},
			exchanges: []lbtest.Exchange{
				groups("web,api", webGroup, apiGroup),
				lbtest.AnyOrder(health(webARN, i1, i2), health(apiARN, i1, i2)),
				lbtest.AnyOrder(
					lbtest.Exchange{Action: "DescribeTargetGroupAttributes", Form: map[string]string{"TargetGroupArn": webARN}, Body: lbtest.AWSAttributes(0)},
					lbtest.Exchange{Action: "DescribeTargetGroupAttributes", Form: map[string]string{"TargetGroupArn": apiARN}, Body: lbtest.AWSAttributes(0)},
				),
				lbtest.AnyOrder(
					lbtest.Exchange{Action: "DeregisterTargets", Form: map[string]string{"TargetGroupArn": webARN}, Body: lbtest.AWSEmpty("DeregisterTargets")},
					lbtest.Exchange{Action: "DeregisterTargets", Form: map[string]string{"TargetGroupArn": apiARN}, Body: lbtest.AWSEmpty("DeregisterTargets"),
						Check: func(testing.TB, *http.Request, string) { time.Sleep(1500 * time.Millisecond) }},
				),
				lbtest.AnyOrder(health(webARN, i1drain, i2), health(apiARN, i1, i2)),
			},
			failed:  true,
			changed: true,
			msg: []string{"timed out deregistering from target group api i-1:80 (deregistered i-1 from target group web): the ELBv2 API had not answered when timeout ran out; raise timeout",
				"state left: deregistering from target group api: i-1 (done: target group web)"},
			code: "timeout",
			check: func(t *testing.T, r lbtest.Result) {
				if msg, _ := r.Out["msg"].(string); strings.Contains(msg, "deadline exceeded") || strings.Contains(msg, "StatusCode") {
					t.Errorf("msg carries the SDK's error text: %s", msg)
				}
			},
		},
		{
			name:   "an already deregistered target is checked, not drained",
			module: "lb_drain",
			exchanges: []lbtest.Exchange{
				groups("web", webGroup),
				health(webARN, i2),
				{Action: "DescribeTargetHealth", Form: map[string]string{"Targets.member.1.Id": "i-1"}, Body: lbtest.AWSTargetHealth(lbtest.AWSMember{ID: "i-1", Port: 80, State: "unused", Reason: "Target.NotRegistered"})},
			},
		},
		{
			name:   "an unknown instance says so",
			module: "lb_drain",
			args:   map[string]any{"target": "i-nope"},
			exchanges: []lbtest.Exchange{
				groups("web", webGroup),
				health(webARN, i2),
				{Action: "DescribeTargetHealth", Status: 400, Body: lbtest.AWSError("InvalidTarget", "The following targets are not valid instances: i-nope")},
			},
			failed: true,
			msg:    []string{"target i-nope is not valid for target group web", "InvalidTarget"},
			code:   "target_unknown",
		},
		{
			name:   "min_healthy counts the group's other healthy targets",
			module: "lb_drain",
			args:   map[string]any{"min_healthy": 2},
			exchanges: []lbtest.Exchange{
				groups("web", webGroup),
				health(webARN, i1, i2, lbtest.AWSMember{ID: "i-3", Port: 80, State: "unhealthy"}),
			},
			failed: true,
			msg:    []string{"refusing to drain i-1", "target group web has 1 other healthy targets (of 2)"},
			code:   "min_healthy",
		},
		{
			name:   "register waits until healthy",
			module: "lb_register",
			exchanges: []lbtest.Exchange{
				groups("web", webGroup),
				health(webARN, i2),
				{Action: "RegisterTargets", Form: map[string]string{"Targets.member.1.Id": "i-1", "Targets.member.1.Port": ""}, Body: lbtest.AWSEmpty("RegisterTargets")},
				health(webARN, i1init, i2),
				health(webARN, i1, i2),
			},
			changed: true,
			// No check right after RegisterTargets (the target has passed
			// no health check yet): the first at 0.2 s.
			check: lbtest.WantSleeps(200*time.Millisecond, 250*time.Millisecond),
		},
		{
			// AWS health checks run 5 s or more apart: late checks come
			// a second apart, as elb_target's.
			name:   "register checks at least once a second by default",
			module: "lb_register",
			exchanges: append(append([]lbtest.Exchange{
				groups("web", webGroup),
				health(webARN, i2),
				{Action: "RegisterTargets", Body: lbtest.AWSEmpty("RegisterTargets")},
			}, lbtest.Repeat(health(webARN, i1init, i2), 14)...), health(webARN, i1, i2)),
			changed: true,
			check:   lbtest.WantLongestSleep(time.Second),
		},
		{
			name:   "register fails fast when the target turns unhealthy",
			module: "lb_register",
			exchanges: []lbtest.Exchange{
				groups("web", webGroup),
				health(webARN, i2),
				{Action: "RegisterTargets", Body: lbtest.AWSEmpty("RegisterTargets")},
				health(webARN, i1init, i2),
				health(webARN, i1bad, i2),
			},
			failed: true,
			msg:    []string{"turned unhealthy in target group web on port 80", "Target.ResponseCodeMismatch: Health checks failed with these codes: [503]"},
			code:   "unhealthy",
		},
		{
			name:   "check mode registers nothing",
			module: "lb_register",
			args:   map[string]any{"_ansible_check_mode": true},
			exchanges: []lbtest.Exchange{
				groups("web", webGroup),
				health(webARN, i2bad),
				{Action: "DescribeTargetHealth", Form: map[string]string{"Targets.member.1.Id": "i-1"}, Body: lbtest.AWSTargetHealth(lbtest.AWSMember{ID: "i-1", Port: 80, State: "unused", Reason: "Target.NotRegistered"})},
			},
			changed: true,
		},
		{
			name:   "throttling is retried",
			module: "lb_register",
			exchanges: []lbtest.Exchange{
				groups("web", webGroup),
				{Action: "DescribeTargetHealth", Status: 400, Body: lbtest.AWSError("Throttling", "Rate exceeded")},
				{Action: "DescribeTargetHealth", Status: 503, Body: lbtest.AWSError("ServiceUnavailable", "try again")},
				health(webARN, i1, i2),
			},
			check: func(t *testing.T, r lbtest.Result) {
				if r.Out["api_requests"] != 4.0 {
					t.Errorf("api_requests %v", r.Out["api_requests"])
				}
			},
		},
		{
			name:   "a missing group is named",
			module: "lb_drain",
			args:   map[string]any{"target_group_names": []any{"web", "nope"}},
			exchanges: []lbtest.Exchange{
				{Action: "DescribeTargetGroups", Status: 400, Body: lbtest.AWSError("TargetGroupNotFound", "One or more target groups not found")},
				{Action: "DescribeTargetGroups", Form: map[string]string{"Names.member.1": "web"}, Body: lbtest.AWSTargetGroups(webGroup)},
				{Action: "DescribeTargetGroups", Form: map[string]string{"Names.member.1": "nope"}, Status: 400, Body: lbtest.AWSError("TargetGroupNotFound", "One or more target groups not found")},
			},
			failed: true,
			msg:    []string{`target group "nope" not found in region eu-central-1`},
			code:   "not_found",
		},
		{
			name:   "rejected credentials say so without the secret",
			module: "lb_drain",
			exchanges: []lbtest.Exchange{
				{Action: "DescribeTargetGroups", Status: 403, Body: lbtest.AWSError("InvalidClientTokenId", "The security lbtest.HetznerToken included in the request is invalid: "+lbtest.AWSSession)},
			},
			failed: true,
			msg:    []string{"AWS rejected the credentials", "InvalidClientTokenId"},
			code:   "unauthorized",
		},
		{
			name:   "drain times out with the delay in the hint",
			module: "lb_drain",
			args:   map[string]any{"timeout": 1},
			exchanges: []lbtest.Exchange{
				groups("web", webGroup),
				health(webARN, i1, i2),
				// Read once, for the warning, the check at its end and the hint.
				{Action: "DescribeTargetGroupAttributes", Body: lbtest.AWSAttributes(300)},
				{Action: "DeregisterTargets", Body: lbtest.AWSEmpty("DeregisterTargets")},
				// Checks at 0, 0.2, 0.45, 0.76 and 1 s (the deadline).
				health(webARN, i1drain, i2), health(webARN, i1drain, i2), health(webARN, i1drain, i2), health(webARN, i1drain, i2), health(webARN, i1drain, i2),
			},
			failed: true,
			msg:    []string{"target i-1 still in rotation in target group web after 1s", `draining on port 80 (Target.DeregistrationInProgress`, "deregistration_delay (300s)"},
			code:   "timeout",
			check: func(t *testing.T, r lbtest.Result) {
				if w := fmt.Sprint(r.Out["warnings"]); !strings.Contains(w, "timeout (1s) does not exceed the deregistration delay (300s)") {
					t.Errorf("warnings %s", w)
				}
			},
		},
		{
			// AWS ends draining when the delay runs out at the latest (with
			// a keep-alive connection open it often does not end sooner):
			// a check lands 50 ms after it, not on the schedule (4.97 s,
			// then 5.97 s). Ten polls find it draining.
			name:      "drain checks as the deregistration delay runs out",
			module:    "lb_drain",
			args:      map[string]any{"timeout": nil},
			exchanges: drainingFor(5, 10),
			changed:   true,
			check: func(t *testing.T, r lbtest.Result) {
				var total time.Duration
				for _, d := range r.Clock.Slept {
					total += d
				}
				if total != 5050*time.Millisecond || lbtest.Get(r.Pool(t, 0), "waited") != 5.05 {
					t.Errorf("drain ended %s after the deregister call, pool %v; want 5.05s (delay 5 s + 50 ms); sleeps %v", total, r.Pool(t, 0), r.Clock.Slept)
				}
				if w := r.Out["warnings"]; w != nil {
					t.Errorf("warnings %v", w)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lbtest.AWSEnv(t)
			srv := lbtest.New(t, tc.exchanges...)
			args := awsArgs(srv, map[string]any{"timeout": 60})
			for k, v := range tc.args {
				if v == nil {
					delete(args, k)
				} else {
					args[k] = v
				}
			}
			r := lbtest.RunModule(t, tc.module, args)
			lbtest.CheckRun(t, r, tc.failed, tc.changed, tc.msg, tc.code)
			if tc.check != nil && !t.Failed() {
				tc.check(t, r)
			}
		})
	}
}
