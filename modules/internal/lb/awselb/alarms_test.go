package awselb_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/awselb"
)

// fakeAlarms answers DescribeAlarms from states, one a call, the last one
// again; an error state fails that call.
type fakeAlarms struct {
	states []map[string]cwtypes.StateValue
	errs   []error
	calls  int
	asked  []string
}

func (f *fakeAlarms) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	i := min(f.calls, len(f.states)-1)
	f.calls++
	f.asked = in.AlarmNames
	if i < len(f.errs) && f.errs[i] != nil {
		return nil, f.errs[i]
	}
	out := &cloudwatch.DescribeAlarmsOutput{}
	at := time.Date(2026, 12, 7, 22, 41, 7, 0, time.UTC)
	for name, st := range f.states[i] {
		if strings.HasPrefix(name, "composite") {
			out.CompositeAlarms = append(out.CompositeAlarms, cwtypes.CompositeAlarm{AlarmName: aws.String(name), StateValue: st, StateReason: aws.String("rule true"), StateUpdatedTimestamp: &at})
			continue
		}
		out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{AlarmName: aws.String(name), StateValue: st, StateReason: aws.String("Threshold Crossed"), StateUpdatedTimestamp: &at})
	}
	return out, nil
}

// TestAlarmsJudge: INSUFFICIENT_DATA is reported, not failed; ALARM of a
// metric or composite alarm fails with its name, time and reason; a read
// error is an error for the window to retry.
func TestAlarmsJudge(t *testing.T) {
	ok, insufficient, alarm := cwtypes.StateValueOk, cwtypes.StateValueInsufficientData, cwtypes.StateValueAlarm
	f := &fakeAlarms{
		states: []map[string]cwtypes.StateValue{
			{"web-5xx": ok, "composite-web": ok},
			{"web-5xx": insufficient, "composite-web": ok},
			{}, // the read fails
			{"web-5xx": ok, "composite-web": alarm},
		},
		errs: []error{nil, nil, errors.New("dial tcp 10.0.0.1:443: connection refused")},
	}
	a := lb.Judged(awselb.NewAlarmsWithAPI(f, "eu-west-1", []string{"web-5xx", "composite-web"}))
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.asked, []string{"web-5xx", "composite-web"}) {
		t.Errorf("asked for %v", f.asked)
	}
	if fd, err := a.Check(ctx); err != nil || fd.Failed {
		t.Errorf("INSUFFICIENT_DATA: %+v %v, want no failure", fd, err)
	}
	if _, err := a.Check(ctx); err == nil || !strings.Contains(err.Error(), "reading CloudWatch alarms: cannot reach the CloudWatch API: dial tcp") {
		t.Errorf("read error: %v", err)
	}
	fd, err := a.Check(ctx)
	want := `alarm "composite-web" went to ALARM at 2026-12-07T22:41:07Z: rule true (alarms: any alarm in ALARM fails the watch)`
	if err != nil || !fd.Failed || fd.Msg != want {
		t.Errorf("ALARM: %+v %v\nwant %s", fd, err, want)
	}
	rep := a.Report()
	if !slices.Equal(rep["insufficient_data"].([]string), []string{"web-5xx"}) {
		t.Errorf("report = %v", rep)
	}
}

// TestAlarmsUnknown: a name CloudWatch does not return fails Start, named.
func TestAlarmsUnknown(t *testing.T) {
	f := &fakeAlarms{states: []map[string]cwtypes.StateValue{{"web-5xx": cwtypes.StateValueOk}}}
	a := lb.Judged(awselb.NewAlarmsWithAPI(f, "eu-west-1", []string{"web-5xx", "web-5XX", "db"}))
	err := a.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), `CloudWatch alarm "web-5XX", "db" not found in region eu-west-1: check alarms`) {
		t.Errorf("start: %v", err)
	}
}
