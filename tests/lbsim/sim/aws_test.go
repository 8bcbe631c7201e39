package sim_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

func target(id string) types.TargetDescription { return types.TargetDescription{Id: aws.String(id)} }

func TestAWSDescribe(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, nil)
	w.backends[1].SetHealthy(false)
	c := w.aws()
	ctx := ctxT(t, 10*time.Second)

	byName, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"web-tg"}})
	if err != nil {
		t.Fatal(err)
	}
	tg := byName.TargetGroups[0]
	if aws.ToString(tg.TargetGroupArn) != testTGARN || aws.ToInt32(tg.Port) != int32(w.port) ||
		aws.ToString(tg.HealthCheckPath) != "/healthz" || aws.ToInt32(tg.HealthyThresholdCount) != 2 ||
		aws.ToString(tg.Matcher.HttpCode) != "200" || len(tg.LoadBalancerArns) != 1 {
		t.Errorf("target group = %+v", tg)
	}
	byARN, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{testTGARN}})
	if err != nil || aws.ToString(byARN.TargetGroups[0].TargetGroupName) != "web-tg" {
		t.Errorf("by arn: %v %v", byARN, err)
	}
	attrs, err := c.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(testTGARN)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range attrs.Attributes {
		got[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	if got["deregistration_delay.timeout_seconds"] != "1" || got["slow_start.duration_seconds"] != "0" {
		t.Errorf("attributes = %v", got)
	}

	simtest.Eventually(t, 3*time.Second, "app-1 healthy, app-2 unhealthy", func() bool {
		st := w.sim.State()
		return st.AWSTarget("web-tg", instanceID(0)).State == "healthy" && st.AWSTarget("web-tg", instanceID(1)).State == "unhealthy"
	})
	out, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(testTGARN),
		Targets:        []types.TargetDescription{target(instanceID(0)), target(instanceID(1))},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantHealth := []struct {
		state  types.TargetHealthStateEnum
		reason types.TargetHealthReasonEnum
	}{{"healthy", ""}, {"unhealthy", "Target.ResponseCodeMismatch"}}
	for i, want := range wantHealth {
		th := out.TargetHealthDescriptions[i]
		if th.TargetHealth.State != want.state || th.TargetHealth.Reason != want.reason || aws.ToInt32(th.Target.Port) != int32(w.port) {
			t.Errorf("target %d health = %+v %+v, want %v", i, th.Target, th.TargetHealth, want)
		}
	}
	if d := aws.ToString(out.TargetHealthDescriptions[1].TargetHealth.Description); d != "Health checks failed with these codes: [503]" {
		t.Errorf("unhealthy description = %q", d)
	}

	errCases := []struct {
		name string
		call func() error
		code string
		typ  any
	}{
		{"unknown group by name", func() error {
			_, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"nope"}})
			return err
		}, "TargetGroupNotFound", &types.TargetGroupNotFoundException{}},
		{"unknown group arn", func() error {
			_, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(strings.Replace(testTGARN, "web-tg", "nope", 1))})
			return err
		}, "TargetGroupNotFound", &types.TargetGroupNotFoundException{}},
		{"malformed arn", func() error {
			_, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String("web-tg")})
			return err
		}, "ValidationError", nil},
		{"unknown instance", func() error {
			_, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(testTGARN), Targets: []types.TargetDescription{target("i-0badbadbadbadbad0")}})
			return err
		}, "InvalidTarget", &types.InvalidTargetException{}},
		{"wrong access key", func() error {
			_, err := w.elbv2("AKIAWRONGWRONGWRONG0", testSecret).DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
			return err
		}, "InvalidClientTokenId", nil},
		{"wrong secret", func() error {
			_, err := w.elbv2(testKeyID, "wrong").DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
			return err
		}, "SignatureDoesNotMatch", nil},
	}
	for _, tc := range errCases {
		err := tc.call()
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != tc.code {
			t.Errorf("%s: err = %v, want %s", tc.name, err, tc.code)
			continue
		}
		if tc.typ != nil && !errors.As(err, &tc.typ) {
			t.Errorf("%s: err %T is not the SDK's typed error", tc.name, err)
		}
	}

	// Not registered, asked explicitly: unused/Target.NotRegistered; the
	// unfiltered list leaves it out.
	if _, err := c.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(testTGARN), Targets: []types.TargetDescription{target(instanceID(1))}}); err != nil {
		t.Fatal(err)
	}
	out, err = c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(testTGARN), Targets: []types.TargetDescription{target(instanceID(1))}})
	if err != nil || out.TargetHealthDescriptions[0].TargetHealth.State != "unused" || out.TargetHealthDescriptions[0].TargetHealth.Reason != "Target.NotRegistered" {
		t.Errorf("deregistered target: %+v %v", out, err)
	}
	out, err = c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(testTGARN)})
	if err != nil || len(out.TargetHealthDescriptions) != 1 || aws.ToString(out.TargetHealthDescriptions[0].Target.Id) != instanceID(0) {
		t.Errorf("unfiltered list after deregistering app-2: %+v %v", out, err)
	}
}

func TestAWSFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, func(c *sim.Config) {
		c.Faults.AWS = sim.APIFaults{ThrottleNext: 2}
	})
	c := w.aws()
	ctx := ctxT(t, 10*time.Second)
	// The SDK's standard retryer retries Throttling (3 attempts).
	if _, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(testTGARN)}); err != nil {
		t.Fatalf("through 2 Throttling replies: %v", err)
	}
	if n := w.sim.Counts().API["aws DescribeTargetHealth"]; n != 3 {
		t.Errorf("DescribeTargetHealth count = %d, want 3", n)
	}
	_ = w.sim.SetFaults(sim.Faults{AWS: sim.APIFaults{ThrottleNext: 5}})
	_, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(testTGARN)})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "Throttling" || api.ErrorMessage() != "Rate exceeded" {
		t.Errorf("5 throttles: %v, want Throttling after 3 attempts", err)
	}
	_ = w.sim.SetFaults(sim.Faults{AWS: sim.APIFaults{FailNext: 1, FailCode: "InvalidTarget", Operations: []string{"DeregisterTargets"}}})
	_, err = c.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(testTGARN), Targets: []types.TargetDescription{target(instanceID(0))}})
	var it *types.InvalidTargetException
	if !errors.As(err, &it) {
		t.Errorf("fail_next InvalidTarget: %v", err)
	}
	_ = w.sim.SetFaults(sim.Faults{AWS: sim.APIFaults{ErrorRate: 1, ErrorStatus: 503}})
	_, err = c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(testTGARN)})
	if !errors.As(err, &api) || api.ErrorCode() != "ServiceUnavailable" {
		t.Errorf("error_rate 503: %v", err)
	}
}

// TestAWSStateMachineTiming: interval 1s, healthy threshold 2 → healthy
// about 2s after registering; the SDK waiter sees it.
func TestAWSStateMachineTiming(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, func(c *sim.Config) {
		tg := &c.AWS.TargetGroups[0]
		tg.Targets = nil
		tg.HealthCheck.Interval = sim.Duration(time.Second)
		tg.HealthCheck.Timeout = sim.Duration(time.Second)
	})
	c := w.aws()
	ctx := ctxT(t, 15*time.Second)
	in := &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(testTGARN), Targets: []types.TargetDescription{target(instanceID(0))}}

	start := time.Now()
	if _, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(testTGARN), Targets: in.Targets}); err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeTargetHealth(ctx, in)
	if err != nil || out.TargetHealthDescriptions[0].TargetHealth.State != "initial" || out.TargetHealthDescriptions[0].TargetHealth.Reason != "Elb.RegistrationInProgress" {
		t.Fatalf("right after register: %+v %v", out.TargetHealthDescriptions[0].TargetHealth, err)
	}
	time.Sleep(1500 * time.Millisecond)
	out, _ = c.DescribeTargetHealth(ctx, in)
	if th := out.TargetHealthDescriptions[0].TargetHealth; th.State != "initial" || th.Reason != "Elb.InitialHealthChecking" {
		t.Errorf("after one passed check: %s %s, want initial Elb.InitialHealthChecking", th.State, th.Reason)
	}
	waiter := elbv2.NewTargetInServiceWaiter(c, func(o *elbv2.TargetInServiceWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := waiter.Wait(ctx, in, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 1800*time.Millisecond || d > 3500*time.Millisecond {
		t.Errorf("healthy after %v, want about 2s (interval 1s x threshold 2)", d)
	}

	// Unhealthy after 2 failed checks (~2s), Target.ResponseCodeMismatch.
	w.backends[0].SetHealthy(false)
	d := simtest.Eventually(t, 5*time.Second, "unhealthy", func() bool {
		out, err := c.DescribeTargetHealth(ctx, in)
		return err == nil && out.TargetHealthDescriptions[0].TargetHealth.State == "unhealthy"
	})
	if d < time.Second || d > 3500*time.Millisecond {
		t.Errorf("unhealthy after %v, want about 2s", d)
	}
}

// TestAWSDeregistrationCutsAtDelay: a 5s request is in flight, the delay
// is 3s: the target is gone after about 3s and the request was cut then.
func TestAWSDeregistrationCutsAtDelay(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, func(c *sim.Config) {
		d := sim.Duration(3 * time.Second)
		c.AWS.TargetGroups[0].DeregistrationDelay = &d
	})
	w.waitHealthy(t)
	c := w.aws()
	ctx := ctxT(t, 20*time.Second)
	cut := make(chan error, 1)
	var cutAt time.Time
	go func() {
		_, _, err := simtest.Get(ctx, w.ep.Listeners[0].URL+"/?sleep=5s")
		cutAt = time.Now()
		cut <- err
	}()
	simtest.Eventually(t, 3*time.Second, "request in flight", func() bool { return w.sim.State().AWSTarget("web-tg", instanceID(0)).InFlight == 1 })

	in := &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(testTGARN), Targets: []types.TargetDescription{target(instanceID(0))}}
	start := time.Now()
	if _, err := c.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: in.TargetGroupArn, Targets: in.Targets}); err != nil {
		t.Fatal(err)
	}
	out, _ := c.DescribeTargetHealth(ctx, in)
	if th := out.TargetHealthDescriptions[0].TargetHealth; th.State != "draining" || th.Reason != "Target.DeregistrationInProgress" {
		t.Errorf("after deregister: %s %s, want draining", th.State, th.Reason)
	}
	// No new request goes to a draining target: the only one → 503.
	if code, _, _ := simtest.Get(ctx, w.ep.Listeners[0].URL+"/"); code != 503 {
		t.Errorf("new request while the only target drains: %d, want 503", code)
	}
	waiter := elbv2.NewTargetDeregisteredWaiter(c, func(o *elbv2.TargetDeregisteredWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := waiter.Wait(ctx, in, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	gone := time.Since(start)
	if gone < 2800*time.Millisecond || gone > 4*time.Second {
		t.Errorf("deregistered after %v, want about the 3s delay", gone)
	}
	err := <-cut
	if !simtest.ErrCut(err) {
		t.Errorf("in-flight request: err = %v, want the connection cut", err)
	}
	if d := cutAt.Sub(start); d < 2800*time.Millisecond || d > 4*time.Second {
		t.Errorf("request cut after %v, want at the 3s delay", d)
	}
	if w.backends[0].Completed() != 0 {
		t.Errorf("the cut request completed at the backend")
	}
}

// TestAWSDeregistrationEndsWithRequest: with a short request in flight,
// deregistration completes when it ends, before the delay.
func TestAWSDeregistrationEndsWithRequest(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, func(c *sim.Config) {
		d := sim.Duration(5 * time.Second)
		c.AWS.TargetGroups[0].DeregistrationDelay = &d
	})
	w.waitHealthy(t)
	c := w.aws()
	ctx := ctxT(t, 20*time.Second)
	done := make(chan error, 1)
	go func() {
		for {
			code, body, err := simtest.Get(ctx, w.ep.Listeners[0].URL+"/?sleep=1s")
			if err != nil || code != 200 {
				done <- errors.Join(err, errors.New("status "+itoa(code)))
				return
			}
			if strings.TrimSpace(body) == w.hosts[0] {
				done <- nil
				return
			}
		}
	}()
	simtest.Eventually(t, 5*time.Second, "request in flight on app-1", func() bool { return w.sim.State().AWSTarget("web-tg", instanceID(0)).InFlight == 1 })
	in := &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(testTGARN), Targets: []types.TargetDescription{target(instanceID(0))}}
	start := time.Now()
	if _, err := c.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: in.TargetGroupArn, Targets: in.Targets}); err != nil {
		t.Fatal(err)
	}
	w.sim.ResetCounts()
	for i := 0; i < 4; i++ {
		if code, body, err := simtest.Get(ctx, w.ep.Listeners[0].URL+"/"); code != 200 || strings.TrimSpace(body) != w.hosts[1] {
			t.Errorf("request during draining: %d %q %v, want app-2", code, body, err)
		}
	}
	if n := w.sim.Counts().ProxiedByHost[w.hosts[0]]; n != 0 {
		t.Errorf("%d new requests reached the draining target", n)
	}
	waiter := elbv2.NewTargetDeregisteredWaiter(c, func(o *elbv2.TargetDeregisteredWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 100*time.Millisecond
	})
	if err := waiter.Wait(ctx, in, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("deregistered after %v, want when the ~1s request ended, well before the 5s delay", d)
	}
	if err := <-done; err != nil {
		t.Errorf("in-flight request: %v, want it completed", err)
	}
}

func TestAWSFailOpen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		failOpen bool
		want     int
	}{{"fail open", true, 200}, {"fail closed", false, 503}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 2, func(c *sim.Config) { c.AWS.TargetGroups[0].FailOpen = &tc.failOpen })
			w.waitHealthy(t)
			for _, b := range w.backends {
				b.SetHealthy(false)
			}
			simtest.Eventually(t, 3*time.Second, "all unhealthy", func() bool {
				st := w.sim.State()
				port := w.ep.Services[0].ListenPort
				return st.AWSTarget("web-tg", instanceID(0)).State == "unhealthy" && st.AWSTarget("web-tg", instanceID(1)).State == "unhealthy" &&
					st.HetznerHealth("web-lb", port, "app-1") == "unhealthy" && st.HetznerHealth("web-lb", port, "app-2") == "unhealthy"
			})
			code, _, err := simtest.Get(context.Background(), w.ep.Listeners[0].URL+"/")
			if code != tc.want {
				t.Errorf("all targets unhealthy: %d %v, want %d", code, err, tc.want)
			}
			// Hetzner has no fail-open.
			if code, _, _ := simtest.Get(context.Background(), w.ep.Services[0].URL+"/"); code != 503 {
				t.Errorf("hetzner with all unhealthy: %d, want 503", code)
			}
		})
	}
}

// TestHealthCheckPhaseRandom: with health_check_phase: random, targets
// registered together turn healthy at different moments, each within one
// interval of the registration's fixed phase (interval 1 s, threshold 2:
// after more than 1 s and at most 2 s).
func TestHealthCheckPhaseRandom(t *testing.T) {
	t.Parallel()
	const n = 6
	w := newWorld(t, n, func(c *sim.Config) {
		c.HealthCheckPhase = sim.PhaseRandom
		tg := &c.AWS.TargetGroups[0]
		tg.Targets = nil
		tg.HealthCheck.Interval = sim.Duration(time.Second)
	})
	c := w.aws()
	ctx := ctxT(t, 15*time.Second)
	var targets []types.TargetDescription
	for i := range n {
		targets = append(targets, target(instanceID(i)))
	}
	start := time.Now()
	if _, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(testTGARN), Targets: targets}); err != nil {
		t.Fatal(err)
	}
	healthyAt := map[string]time.Duration{}
	simtest.Eventually(t, 5*time.Second, "every target healthy", func() bool {
		st := w.sim.State()
		for i := range n {
			id := instanceID(i)
			if tg := st.AWSTarget("web-tg", id); tg != nil && tg.State == "healthy" {
				if _, seen := healthyAt[id]; !seen {
					healthyAt[id] = time.Since(start)
				}
			}
		}
		return len(healthyAt) == n
	})
	var first, last time.Duration = time.Hour, 0
	for id, d := range healthyAt {
		if d < 950*time.Millisecond || d > 2300*time.Millisecond {
			t.Errorf("%s healthy after %v, want within (1 s, 2 s]", id, d)
		}
		first, last = min(first, d), max(last, d)
	}
	// Six uniform phases within 150 ms of each other: about 1 in 10^4.
	if last-first < 150*time.Millisecond {
		t.Errorf("targets turned healthy within %v of each other (%v): the first checks are not spread over the interval", last-first, healthyAt)
	}
}
