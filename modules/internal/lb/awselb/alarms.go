package awselb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/lb"
)

// AlarmAPI is the part of the CloudWatch client the alarm signal uses.
type AlarmAPI interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

var cloudWatchAPI = apiWords{"CloudWatch API", "cloudwatch:DescribeAlarms", "watch fewer hosts at once, or retry later"}

// Alarms is deploy_watch's reading of named CloudWatch alarms: one in
// ALARM at the start or during the window fails it; INSUFFICIENT_DATA is
// reported, not judged (an alarm on a metric published only when it is
// not zero, as HTTPCode_Target_5XX_Count, sits there while all is well).
type Alarms struct {
	api    AlarmAPI
	region string
	names  []string

	mu    sync.Mutex
	first map[string]alarmSeen // at Start
	last  map[string]alarmSeen
	worst map[string]string // the worst state each alarm was seen in
}

var _ lb.Reader = (*Alarms)(nil)

// alarmSeen is one alarm as one read saw it.
type alarmSeen struct {
	State  string    `json:"state"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// NewAlarms returns the reading of names, read with cfg (the ELBv2
// client's config: credentials, retries, HTTP client) at endpoint, if
// given.
func NewAlarms(cfg aws.Config, endpoint string, names []string) *Alarms {
	api := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return NewAlarmsWithAPI(api, cfg.Region, names)
}

// NewAlarmsWithAPI returns the reading through any implementation of AlarmAPI.
func NewAlarmsWithAPI(api AlarmAPI, region string, names []string) *Alarms {
	return &Alarms{api: api, region: region, names: slices.Clone(names), worst: map[string]string{}}
}

// Name implements lb.Reader.
func (a *Alarms) Name() string { return "CloudWatch alarms " + strings.Join(a.names, ", ") }

// read describes the alarms; a name CloudWatch does not know is an error.
func (a *Alarms) read(ctx context.Context) (map[string]alarmSeen, error) {
	out, err := a.api.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: a.names,
		AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm}})
	if err != nil {
		return nil, classify(err, cloudWatchAPI, "alarm "+strings.Join(a.names, ","), "reading CloudWatch alarms")
	}
	seen := map[string]alarmSeen{}
	for _, m := range out.MetricAlarms {
		seen[aws.ToString(m.AlarmName)] = alarmSeen{string(m.StateValue), aws.ToString(m.StateReason), aws.ToTime(m.StateUpdatedTimestamp)}
	}
	for _, c := range out.CompositeAlarms {
		seen[aws.ToString(c.AlarmName)] = alarmSeen{string(c.StateValue), aws.ToString(c.StateReason), aws.ToTime(c.StateUpdatedTimestamp)}
	}
	var missing []string
	for _, n := range a.names {
		if _, ok := seen[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, failure.Errorf(lb.AWS, failure.NotFound, "alarm "+strings.Join(missing, ","), nil,
			"CloudWatch alarm %s not found in region %s: check alarms (names are case-sensitive), the region and the account of the credentials",
			strings.Join(quoteAll(missing), ", "), a.region)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.first == nil {
		a.first = seen
	}
	a.last = seen
	for n, s := range seen {
		if stateRank[s.State] > stateRank[a.worst[n]] {
			a.worst[n] = s.State
		}
	}
	return seen, nil
}

var stateRank = map[string]int{string(cwtypes.StateValueOk): 1, string(cwtypes.StateValueInsufficientData): 2, string(cwtypes.StateValueAlarm): 3}

// Read implements lb.Reader: every name must exist; an alarm in ALARM is
// a problem.
func (a *Alarms) Read(ctx context.Context, atStart bool) (string, error) {
	seen, err := a.read(ctx)
	if err != nil {
		return "", err
	}
	if atStart {
		return a.judge(seen, "was in ALARM at the start of the window"), nil
	}
	return a.judge(seen, "went to ALARM"), nil
}

// judge words the alarms in ALARM, in the order of the names, or returns "".
func (a *Alarms) judge(seen map[string]alarmSeen, how string) string {
	var bad []string
	for _, n := range a.names {
		s := seen[n]
		if s.State != string(cwtypes.StateValueAlarm) {
			continue
		}
		d := fmt.Sprintf("alarm %q %s", n, how)
		if !s.Since.IsZero() {
			d += " at " + s.Since.UTC().Format(time.RFC3339)
		}
		if s.Reason != "" {
			d += ": " + s.Reason
		}
		bad = append(bad, d)
	}
	if len(bad) == 0 {
		return ""
	}
	return strings.Join(bad, "; ") + " (alarms: any alarm in ALARM fails the watch)"
}

// Report implements lb.Reader: each alarm's state at the start, at the
// last read and the worst seen between.
func (a *Alarms) Report() map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	alarms := map[string]any{}
	var insufficient []string
	for _, n := range a.names {
		alarms[n] = map[string]any{"before": a.first[n], "after": a.last[n], "worst": a.worst[n]}
		if a.worst[n] == string(cwtypes.StateValueInsufficientData) {
			insufficient = append(insufficient, n)
		}
	}
	r := map[string]any{"kind": "cloudwatch_alarms", "alarms": alarms}
	if len(insufficient) > 0 {
		r["insufficient_data"] = insufficient
	}
	return r
}
