package sim_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// alarmWorld is a world with alarm web-5xx: 3 5xx of web-tg's targets in
// a sliding window of period.
func alarmWorld(t *testing.T, period time.Duration) *world {
	w := newWorld(t, 2, func(c *sim.Config) {
		c.AWS.Alarms = []sim.Alarm{{Name: "web-5xx", TargetGroup: "web-tg", Threshold: 3, Period: sim.Duration(period)}}
	})
	w.waitHealthy(t)
	return w
}

func (w *world) cloudwatch(secret string) *cloudwatch.Client {
	cfg := aws.Config{Region: w.ep.AWSRegion, Credentials: credentials.NewStaticCredentialsProvider(w.ep.AWSAccessKeyID, secret, "")}
	return cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.BaseEndpoint = aws.String(w.ep.AWSAPI)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 10 * time.Millisecond, nil })
		})
	})
}

// get5xx sends n requests through the listener that the targets answer
// with 500.
func (w *world) get5xx(t *testing.T, n int) {
	t.Helper()
	for range n {
		code, _, err := simtest.Get(ctxT(t, 5*time.Second), w.ep.Listeners[0].URL+"/?status=500")
		if err != nil || code != 500 {
			t.Fatalf("GET ?status=500 through the listener: %d %v", code, err)
		}
	}
}

func alarmOf(t *testing.T, s *sim.Sim, name string) sim.AlarmState {
	t.Helper()
	for _, a := range s.Alarms() {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no alarm %q in %v", name, s.Alarms())
	return sim.AlarmState{}
}

// TestAlarmWindow: 5xx proxied for the group's targets turn the alarm to
// ALARM once they reach the threshold, and it returns to OK one period
// after the burst, dated then.
func TestAlarmWindow(t *testing.T) {
	t.Parallel()
	const period = time.Second
	w := alarmWorld(t, period)
	if a := alarmOf(t, w.sim, "web-5xx"); a.State != sim.AlarmOK {
		t.Fatalf("at start: %+v, want OK", a)
	}
	w.get5xx(t, 2)
	if a := alarmOf(t, w.sim, "web-5xx"); a.State != sim.AlarmOK || a.Count != 2 {
		t.Fatalf("after 2 5xx (threshold 3): %+v, want OK with count 2", a)
	}
	// 200s do not count.
	if code, _, err := simtest.Get(ctxT(t, 5*time.Second), w.ep.Listeners[0].URL+"/"); err != nil || code != 200 {
		t.Fatalf("GET /: %d %v", code, err)
	}
	w.get5xx(t, 1)
	burst := time.Now()
	a := alarmOf(t, w.sim, "web-5xx")
	if a.State != sim.AlarmAlarm || !strings.Contains(a.Reason, "3 HTTPCode_Target_5XX_Count of target group web-tg") {
		t.Fatalf("after the 3rd 5xx: %+v, want ALARM naming the count", a)
	}
	simtest.Eventually(t, period+5*time.Second, "the alarm back to OK", func() bool {
		return alarmOf(t, w.sim, "web-5xx").State == sim.AlarmOK
	})
	back := alarmOf(t, w.sim, "web-5xx")
	// The second 5xx left the window first: OK is dated period after it.
	if back.Updated.After(burst.Add(period)) || back.Updated.Before(a.Updated.Add(period/2)) {
		t.Errorf("OK dated %s, want about %s after ALARM (%s)", back.Updated, period, a.Updated)
	}
}

// TestAlarmSDK: the aws-sdk-go-v2 cloudwatch client (Smithy RPC v2 CBOR)
// reads the alarms, their state, reason and time; an admin-set state shows.
func TestAlarmSDK(t *testing.T) {
	t.Parallel()
	w := alarmWorld(t, time.Minute)
	c := w.cloudwatch(w.ep.AWSSecretAccessKey)
	ctx := ctxT(t, 10*time.Second)
	w.get5xx(t, 3)
	out, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"web-5xx", "no-such-alarm"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.MetricAlarms) != 1 {
		t.Fatalf("MetricAlarms = %+v, want web-5xx only", out.MetricAlarms)
	}
	al := out.MetricAlarms[0]
	if al.StateValue != cwtypes.StateValueAlarm || !strings.Contains(aws.ToString(al.StateReason), "greater than or equal to the threshold (3)") ||
		time.Since(aws.ToTime(al.StateUpdatedTimestamp)) > 10*time.Second || aws.ToFloat64(al.Threshold) != 3 ||
		aws.ToInt32(al.Period) != 60 || len(al.Dimensions) != 1 || aws.ToString(al.Dimensions[0].Value) != "targetgroup/web-tg/0123456789abcdef" {
		t.Errorf("alarm = %+v", al)
	}

	admin := sim.NewAdminClient(w.ep.Admin)
	if err := admin.SetAlarm(ctx, "manual", "ALARM", "set by the test"); err != nil {
		t.Fatal(err)
	}
	out, err = c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"manual"}})
	if err != nil || len(out.MetricAlarms) != 1 || out.MetricAlarms[0].StateValue != cwtypes.StateValueAlarm ||
		aws.ToString(out.MetricAlarms[0].StateReason) != "set by the test" {
		t.Fatalf("admin-set alarm: %+v %v", out, err)
	}
	if err := admin.SetAlarm(ctx, "manual", "SOMETIMES", ""); err == nil || !strings.Contains(err.Error(), "state must be") {
		t.Errorf("bad state: %v", err)
	}

	var ae smithy.APIError
	_, err = w.cloudwatch("wrong").DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
	if err := w.sim.SetFaults(sim.Faults{AWS: sim.APIFaults{FailNext: 1, FailCode: "AccessDenied", Operations: []string{"DescribeAlarms"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Errorf("fail_next AccessDenied: %v", err)
	}
}

// TestAlarmCLI: awscli 2.9 sends DescribeAlarms in the Query protocol.
func TestAlarmCLI(t *testing.T) {
	needCLI(t, awsCLI, "awscli")
	t.Parallel()
	w := alarmWorld(t, time.Minute)
	env := []string{
		"AWS_ACCESS_KEY_ID=" + w.ep.AWSAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + w.ep.AWSSecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		"AWS_CONFIG_FILE=" + filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(t.TempDir(), "none"),
	}
	describe := func() map[string]any {
		t.Helper()
		out, stderr, code := runCLI(t, env, awsCLI, "cloudwatch", "--endpoint-url", w.ep.AWSAPI, "--region", w.ep.AWSRegion,
			"--output", "json", "describe-alarms", "--alarm-names", "web-5xx", "other")
		if code != 0 {
			t.Fatalf("describe-alarms: %d %s", code, stderr)
		}
		var v struct{ MetricAlarms []map[string]any }
		if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.MetricAlarms) != 1 {
			t.Fatalf("describe-alarms output: %v\n%s", err, out)
		}
		return v.MetricAlarms[0]
	}
	if a := describe(); a["StateValue"] != "OK" || a["AlarmName"] != "web-5xx" || a["MetricName"] != "HTTPCode_Target_5XX_Count" {
		t.Errorf("before: %v", a)
	}
	w.get5xx(t, 3)
	a := describe()
	if a["StateValue"] != "ALARM" || !strings.Contains(str(a["StateReason"]), "threshold (3)") || str(a["StateUpdatedTimestamp"]) == "" {
		t.Errorf("after 3 5xx: %v", a)
	}
}
