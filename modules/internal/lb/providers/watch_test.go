package providers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
	"github.com/zerodowntime/rolling/modules/internal/watch"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// The signals deploy_watch reads from the clouds, with the real SDK clients
// against lbsim; the window loop is deploy_watch's, so these drive Start
// and Check themselves.

// alarmName is the alarm startAlarmWorld configures: 3 5xx of the target
// group's targets within 30 s.
const alarmName = "web-5xx"

func startAlarmWorld(t *testing.T) *world {
	t.Helper()
	return startWorldWith(t, func(c *sim.Config) {
		c.AWS.Alarms = []sim.Alarm{{Name: alarmName, TargetGroup: simtest.TGName, Threshold: 3, Period: sim.Duration(30 * time.Second)}}
	})
}

// watchSignals runs WatchSignals as deploy_watch would, with args; it
// returns the signals, or the module's failure message.
func watchSignals(t *testing.T, args map[string]any) ([]watch.Signal, string) {
	t.Helper()
	var sigs []watch.Signal
	run := func(ctx context.Context, m *ansible.Module, a lb.Args) (ansible.Result, error) {
		var err error
		sigs, err = lb.NewRunner(providers.Open).WatchSignals(ctx, m, a)
		return ansible.Result{}, err
	}
	b, _ := json.Marshal(args)
	var buf bytes.Buffer
	ansible.RunArgs(context.Background(), lb.NewSpec("deploy_watch", lb.WatchOptions), b, &buf, run)
	var out map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("output: %v\n%s", err, buf.String())
	}
	if strings.Contains(buf.String(), simSecret) || strings.Contains(buf.String(), simToken) {
		t.Errorf("secret in output: %s", buf.String())
	}
	msg, _ := out["msg"].(string)
	return sigs, msg
}

// startAll starts every signal and fails the test on an error.
func startAll(t *testing.T, sigs []watch.Signal) {
	t.Helper()
	for _, s := range sigs {
		if err := s.Start(ctxFor(t, 10*time.Second)); err != nil {
			t.Fatalf("start %s: %v", s.Name(), err)
		}
	}
}

// checkUntil checks every signal each 100 ms until one fails or within
// ends, and returns the first failure as "name: message" ("" if none).
func checkUntil(t *testing.T, sigs []watch.Signal, within time.Duration) string {
	t.Helper()
	end := time.Now().Add(within)
	for time.Now().Before(end) {
		for _, s := range sigs {
			f, err := s.Check(ctxFor(t, 10*time.Second))
			if err != nil {
				t.Fatalf("check %s: %v", s.Name(), err)
			}
			if f.Failed {
				return s.Name() + ": " + f.Msg
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ""
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestLbsimWatchTargetHealth: a target that stays healthy passes; one
// whose health check fails mid-window fails, naming the pool, the port,
// the state and the reason.
func TestLbsimWatchTargetHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim: a few seconds of real health checks")
	}
	wantPool := map[string]string{"hetzner": "load balancer " + simtest.LBName, "aws": "target group " + simtest.TGName}
	wantReason := map[string]string{"hetzner": "unhealthy on port", "aws": "unhealthy on port"}
	for _, kind := range []string{"hetzner", "aws"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			w := startWorld(t)
			sigs, msg := watchSignals(t, w.args(kind, 0, nil))
			if len(sigs) != 1 || sigs[0].Name() != wantPool[kind] {
				t.Fatalf("signals = %v (%s), want one for %s", sigs, msg, wantPool[kind])
			}
			startAll(t, sigs)
			// Six checks over a second, as often as the health checks run.
			if got := checkUntil(t, sigs, time.Second); got != "" {
				t.Fatalf("healthy target failed the watch: %s", got)
			}
			w.backends[0].SetHealthy(false)
			start := time.Now()
			got := checkUntil(t, sigs, 5*time.Second)
			t.Logf("%s: failed %.1fs after the app turned unhealthy: %s", kind, time.Since(start).Seconds(), got)
			if !strings.HasPrefix(got, wantPool[kind]+": target ") || !strings.Contains(got, wantReason[kind]) {
				t.Errorf("failure = %q, want it to name %s and %q", got, wantPool[kind], wantReason[kind])
			}
			if kind == "aws" && !strings.Contains(got, "Target.ResponseCodeMismatch") {
				t.Errorf("failure = %q, want the AWS reason code", got)
			}
			rep := sigs[0].Report()
			if rep["kind"] != "target_health" || rep["after"].(lb.State).Health == nil {
				t.Errorf("report = %v", rep)
			}
		})
	}
}

// TestLbsimWatchAlarm: 5xx the target group's targets answer through the
// listener turn the alarm to ALARM, and the watch fails naming it.
func TestLbsimWatchAlarm(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim")
	}
	w := startAlarmWorld(t)
	sigs, msg := watchSignals(t, w.args("aws", 0, map[string]any{"alarms": []string{alarmName}}))
	if len(sigs) != 2 || sigs[1].Name() != "CloudWatch alarms "+alarmName {
		t.Fatalf("signals = %v (%s), want the target group's and the alarms'", sigs, msg)
	}
	startAll(t, sigs)
	if got := checkUntil(t, sigs, 500*time.Millisecond); got != "" {
		t.Fatalf("the watch failed before any 5xx: %s", got)
	}
	for range 3 {
		if code, _, err := simtest.Get(ctxFor(t, 5*time.Second), w.url("aws")+"/?status=500"); err != nil || code != 500 {
			t.Fatalf("GET ?status=500: %d %v", code, err)
		}
	}
	got := checkUntil(t, sigs, 2*time.Second)
	if !strings.HasPrefix(got, "CloudWatch alarms web-5xx: "+`alarm "web-5xx" went to ALARM at `) || !strings.Contains(got, "Threshold Crossed: 3 HTTPCode_Target_5XX_Count") {
		t.Errorf("failure = %q, want the alarm with its reason", got)
	}
	rep := sigs[1].Report()
	alarms, _ := rep["alarms"].(map[string]any)
	if a, _ := alarms[alarmName].(map[string]any); a == nil || a["worst"] != "ALARM" {
		t.Errorf("report = %v", rep)
	}
}

// TestLbsimWatchAlarmErrors: an alarm in ALARM before the window fails its
// first check; an unknown name fails Start naming it; alarms with
// provider hetzner is refused.
func TestLbsimWatchAlarmErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim")
	}
	w := startAlarmWorld(t)
	if err := w.sim.SetAlarm("manual", sim.AlarmAlarm, "set by the test"); err != nil {
		t.Fatal(err)
	}
	sigs, msg := watchSignals(t, w.args("aws", 0, map[string]any{"alarms": []string{alarmName, "manual"}}))
	if len(sigs) != 2 {
		t.Fatalf("signals = %v (%s)", sigs, msg)
	}
	startAll(t, sigs)
	f, err := sigs[1].Check(ctxFor(t, 5*time.Second))
	if err != nil || !f.Failed || !strings.Contains(f.Msg, `alarm "manual" was in ALARM at the start of the window`) || !strings.Contains(f.Msg, "set by the test") {
		t.Errorf("alarm in ALARM at the start: %+v %v", f, err)
	}

	sigs, _ = watchSignals(t, w.args("aws", 0, map[string]any{"alarms": []string{alarmName, "web-5XX"}}))
	err = sigs[1].Start(ctxFor(t, 5*time.Second))
	if err == nil || !strings.Contains(err.Error(), `CloudWatch alarm "web-5XX" not found in region eu-central-1`) {
		t.Errorf("unknown alarm: %v", err)
	}

	sigs, msg = watchSignals(t, w.args("hetzner", 0, map[string]any{"alarms": []string{alarmName}}))
	if sigs != nil || !strings.Contains(msg, "alarms names CloudWatch alarms, which provider hetzner does not have") {
		t.Errorf("hetzner with alarms: %v %q", sigs, msg)
	}

	// A denied read is an error of the check, not a verdict: the window
	// retries it.
	if err := w.sim.SetFaults(sim.Faults{AWS: sim.APIFaults{FailNext: 1, FailCode: "AccessDenied", Operations: []string{"DescribeAlarms"}}}); err != nil {
		t.Fatal(err)
	}
	sigs, _ = watchSignals(t, w.args("aws", 0, map[string]any{"alarms": []string{alarmName}}))
	err = sigs[1].Start(ctxFor(t, 5*time.Second))
	if !failure.IsCode(err, "AccessDenied") || !strings.Contains(err.Error(), "allow cloudwatch:DescribeAlarms") {
		t.Errorf("denied: %v", err)
	}
}
