package providers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
)

const (
	webARN = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web/0123456789abcdef"
	apiARN = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/api/fedcba9876543210"
)

func awsEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, k := range []string{"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
	}
}

func awsArgs(srv *lbtest.Server, extra map[string]any) map[string]any {
	a := map[string]any{
		"provider": "aws", "region": "eu-central-1", "endpoint_url": srv.URL,
		"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": awsSecret, "session_token": awsSession,
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

// together makes the exchanges answer only once all of them have arrived,
// as requests sent at once do; one left waiting alone for a second fails
// the test (the client sent them one after the other) and is answered.
func together(n int, exchanges ...lbtest.Exchange) []lbtest.Exchange {
	arrived := make(chan struct{}, n)
	all := make(chan struct{})
	var once sync.Once
	for i := range exchanges {
		exchanges[i].Check = func(t testing.TB, r *http.Request, body string) {
			arrived <- struct{}{}
			if len(arrived) == n {
				once.Do(func() { close(all) })
			}
			select {
			case <-all:
			case <-time.After(time.Second):
				what := r.Method + " " + r.URL.RequestURI()
				if form, _ := url.ParseQuery(body); form.Get("Action") != "" {
					what = form.Get("Action") + " for " + form.Get("TargetGroupArn")
				}
				t.Errorf("%s waited alone for a second: the %d requests were not sent at once", what, n)
			}
		}
	}
	return exchanges
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
		check     func(t *testing.T, r run)
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
			check: func(t *testing.T, r run) {
				p := r.pool(t, 0)
				if get(p, "before", "health", "80") != "healthy" || get(p, "after", "registered") != false || p["kind"] != "target_group" || p["id"] != webARN {
					t.Errorf("pool: %v", p)
				}
				if r.out["api_requests"] != 6.0 {
					t.Errorf("api_requests %v", r.out["api_requests"])
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
				lbtest.AnyOrder(together(2,
					health(webARN, lbtest.AWSMember{ID: "i-1", Port: 8080, State: "healthy"}, i2),
					health(apiARN, lbtest.AWSMember{ID: "i-1", Port: 8080, State: "healthy"}, lbtest.AWSMember{ID: "i-2", Port: 8080, State: "healthy"}),
				)...),
				lbtest.AnyOrder(together(2,
					lbtest.Exchange{Action: "DescribeTargetGroupAttributes", Form: map[string]string{"TargetGroupArn": webARN}, Body: lbtest.AWSAttributes(30)},
					lbtest.Exchange{Action: "DescribeTargetGroupAttributes", Form: map[string]string{"TargetGroupArn": apiARN}, Body: lbtest.AWSAttributes(30)},
				)...),
				lbtest.AnyOrder(together(2,
					lbtest.Exchange{Action: "DeregisterTargets", Form: map[string]string{"TargetGroupArn": webARN, "Targets.member.1.Port": "8080"}, Body: lbtest.AWSEmpty("DeregisterTargets")},
					lbtest.Exchange{Action: "DeregisterTargets", Form: map[string]string{"TargetGroupArn": apiARN, "Targets.member.1.Port": "8080"}, Body: lbtest.AWSEmpty("DeregisterTargets")},
				)...),
				lbtest.AnyOrder(together(2,
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
			check: func(t *testing.T, r run) {
				if r.pool(t, 0)["changed"] != true || r.pool(t, 1)["changed"] != false {
					t.Errorf("changed: web %v, api %v; want true, false", r.pool(t, 0)["changed"], r.pool(t, 1)["changed"])
				}
				if get(r.pool(t, 0), "after", "registered") != true || get(r.pool(t, 1), "after", "registered") != false {
					t.Errorf("after: web %v, api %v", r.pool(t, 0)["after"], r.pool(t, 1)["after"])
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
			check: func(t *testing.T, r run) {
				if msg, _ := r.out["msg"].(string); strings.Contains(msg, "deadline exceeded") || strings.Contains(msg, "StatusCode") {
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
			check: wantSleeps(200*time.Millisecond, 250*time.Millisecond),
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
			}, repeat(health(webARN, i1init, i2), 14)...), health(webARN, i1, i2)),
			changed: true,
			check:   wantLongestSleep(time.Second),
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
			check: func(t *testing.T, r run) {
				if r.out["api_requests"] != 4.0 {
					t.Errorf("api_requests %v", r.out["api_requests"])
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
				{Action: "DescribeTargetGroups", Status: 403, Body: lbtest.AWSError("InvalidClientTokenId", "The security token included in the request is invalid: "+awsSession)},
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
			check: func(t *testing.T, r run) {
				if w := fmt.Sprint(r.out["warnings"]); !strings.Contains(w, "timeout (1s) does not exceed the deregistration delay (300s)") {
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
			check: func(t *testing.T, r run) {
				var total time.Duration
				for _, d := range r.clock.slept {
					total += d
				}
				if total != 5050*time.Millisecond || get(r.pool(t, 0), "waited") != 5.05 {
					t.Errorf("drain ended %s after the deregister call, pool %v; want 5.05s (delay 5 s + 50 ms); sleeps %v", total, r.pool(t, 0), r.clock.slept)
				}
				if w := r.out["warnings"]; w != nil {
					t.Errorf("warnings %v", w)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			awsEnv(t)
			srv := lbtest.New(t, tc.exchanges...)
			args := awsArgs(srv, map[string]any{"timeout": 60})
			for k, v := range tc.args {
				if v == nil {
					delete(args, k)
				} else {
					args[k] = v
				}
			}
			r := runModule(t, tc.module, args)
			checkRun(t, r, tc.failed, tc.changed, tc.msg, tc.code)
			if tc.check != nil && !t.Failed() {
				tc.check(t, r)
			}
		})
	}
}

func TestAWSAutoTargetIMDSv2(t *testing.T) {
	awsEnv(t)
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "PUT" && r.URL.Path == "/latest/api/token":
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
			w.Write([]byte("tok123"))
		case r.Method == "GET" && r.URL.Path == "/latest/meta-data/instance-id" && r.Header.Get("X-Aws-Ec2-Metadata-Token") == "tok123":
			w.Write([]byte("i-1"))
		default:
			http.Error(w, "no", http.StatusUnauthorized)
		}
	}))
	defer imds.Close()
	srv := lbtest.New(t, groups("web", webGroup), health(webARN, i1, i2))
	r := runModule(t, "lb_register", awsArgs(srv, map[string]any{"target": "auto", "metadata_url": imds.URL}))
	checkRun(t, r, false, false, nil, "")
	if get(r.out, "target", "id") != "i-1" {
		t.Errorf("target %v", r.out["target"])
	}
}
