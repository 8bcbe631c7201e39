package sim

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatch's DescribeAlarms in both wire formats clients use: the Query
// protocol (awscli 2.9: form POST, XML answer) and Smithy RPC v2 CBOR
// (aws-sdk-go-v2's cloudwatch since 2025: POST to cwRPCPrefix+operation,
// CBOR both ways, error code also in X-Amzn-Query-Error).

const (
	cwRPCPrefix = "/service/GraniteServiceVersion20100801/operation/"
	cwNS        = "http://monitoring.amazonaws.com/doc/2010-08-01/"
	cwService   = "monitoring"
	cwMaxNames  = 100
)

// cwFilter is what a DescribeAlarms asks for.
type cwFilter struct {
	names  []string
	prefix string
	state  string
	types  []string
}

func (f cwFilter) check() *awsErr {
	if len(f.names) > cwMaxNames {
		return validation("1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to %d", cwMaxNames)
	}
	if len(f.names) > 0 && f.prefix != "" {
		return &awsErr{http.StatusBadRequest, "InvalidParameterCombination", "AlarmNames and AlarmNamePrefix cannot be given together"}
	}
	if f.state != "" && !validAlarmState(f.state) {
		return validation("1 validation error detected: Value '%s' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]", f.state)
	}
	return nil
}

// describeAlarms is the metric alarms f selects, as a snapshot.
func (s *Sim) describeAlarms(f cwFilter) []cwAlarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(f.types) > 0 && !contains(f.types, "MetricAlarm") {
		return nil
	}
	var out []cwAlarm
	for _, al := range s.alarmsNow() {
		switch {
		case len(f.names) > 0 && !contains(f.names, al.cfg.Name):
		case !strings.HasPrefix(al.cfg.Name, f.prefix):
		case f.state != "" && al.state != f.state:
		default:
			out = append(out, *al)
		}
	}
	return out
}

// dimension is the TargetGroup dimension of al: targetgroup/NAME/ID.
func (al cwAlarm) dimension() string {
	if al.tg == nil {
		return ""
	}
	arn := al.tg.cfg.ARN
	return arn[strings.Index(arn, "targetgroup/"):]
}

func (al cwAlarm) periodSeconds() int { return al.cfg.Period.seconds(1) }

var cwNameRE = regexp.MustCompile(`^(AlarmNames|AlarmTypes)\.member\.(\d+)$`)

// cwQuery serves DescribeAlarms in the Query protocol.
func (s *Sim) cwQuery(w http.ResponseWriter, r *http.Request, body []byte, form url.Values, reqID string) {
	fail := func(e *awsErr) { cwQueryFail(w, e, reqID) }
	if e := s.awsAuth(r, body, cwService); e != nil {
		fail(e)
		return
	}
	if e := s.awsFault("DescribeAlarms"); e != nil {
		fail(e)
		return
	}
	if v := form.Get("Version"); v != "2010-08-01" {
		fail(&awsErr{http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("Version %q is not supported; CloudWatch uses Version=2010-08-01", v)})
		return
	}
	f := cwFilter{prefix: form.Get("AlarmNamePrefix"), state: form.Get("StateValue")}
	for k, v := range form {
		if m := cwNameRE.FindStringSubmatch(k); m != nil && len(v) > 0 {
			if m[1] == "AlarmNames" {
				f.names = append(f.names, v[0])
			} else {
				f.types = append(f.types, v[0])
			}
		}
	}
	if e := f.check(); e != nil {
		fail(e)
		return
	}
	res := cwDescribeAlarmsResult{}
	for _, al := range s.describeAlarms(f) {
		res.MetricAlarms.Members = append(res.MetricAlarms.Members, al.xml())
	}
	b, err := xml.Marshal(cwResponse{Xmlns: cwNS, Result: res, Meta: awsMetadata{RequestID: reqID}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	_, _ = w.Write(b)
}

func cwQueryFail(w http.ResponseWriter, e *awsErr, reqID string) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	b, _ := xml.Marshal(awsErrorResponse{Xmlns: cwNS, Error: awsErrorXML{Type: typ, Code: e.code, Message: e.msg}, RequestID: reqID})
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

type cwResponse struct {
	XMLName xml.Name               `xml:"DescribeAlarmsResponse"`
	Xmlns   string                 `xml:"xmlns,attr"`
	Result  cwDescribeAlarmsResult `xml:"DescribeAlarmsResult"`
	Meta    awsMetadata            `xml:"ResponseMetadata"`
}

type cwDescribeAlarmsResult struct {
	MetricAlarms struct {
		Members []cwAlarmXML `xml:"member"`
	} `xml:"MetricAlarms"`
	CompositeAlarms struct{} `xml:"CompositeAlarms"`
}

type cwDimensionXML struct {
	Name  string `xml:"Name"`
	Value string `xml:"Value"`
}

type cwAlarmXML struct {
	AlarmName                  string  `xml:"AlarmName"`
	AlarmArn                   string  `xml:"AlarmArn"`
	StateValue                 string  `xml:"StateValue"`
	StateReason                string  `xml:"StateReason"`
	StateUpdatedTimestamp      string  `xml:"StateUpdatedTimestamp"`
	StateTransitionedTimestamp string  `xml:"StateTransitionedTimestamp"`
	ActionsEnabled             bool    `xml:"ActionsEnabled"`
	MetricName                 string  `xml:"MetricName"`
	Namespace                  string  `xml:"Namespace"`
	Statistic                  string  `xml:"Statistic"`
	Period                     int     `xml:"Period"`
	EvaluationPeriods          int     `xml:"EvaluationPeriods"`
	Threshold                  float64 `xml:"Threshold"`
	ComparisonOperator         string  `xml:"ComparisonOperator"`
	TreatMissingData           string  `xml:"TreatMissingData"`
	Dimensions                 struct {
		Members []cwDimensionXML `xml:"member"`
	} `xml:"Dimensions"`
}

func (al cwAlarm) xml() cwAlarmXML {
	ts := al.updated.UTC().Format("2006-01-02T15:04:05.000Z")
	x := cwAlarmXML{AlarmName: al.cfg.Name, AlarmArn: al.arn, StateValue: al.state, StateReason: al.reason,
		StateUpdatedTimestamp: ts, StateTransitionedTimestamp: ts, MetricName: al.cfg.Metric, Namespace: "AWS/ApplicationELB",
		Statistic: "Sum", Period: al.periodSeconds(), EvaluationPeriods: 1, Threshold: al.cfg.Threshold,
		ComparisonOperator: "GreaterThanOrEqualToThreshold", TreatMissingData: "notBreaching"}
	if d := al.dimension(); d != "" {
		x.Dimensions.Members = []cwDimensionXML{{Name: "TargetGroup", Value: d}}
	}
	return x
}

// cwRPC serves DescribeAlarms in Smithy RPC v2 CBOR.
func (s *Sim) cwRPC(w http.ResponseWriter, r *http.Request, reqID string) {
	op := strings.TrimPrefix(r.URL.Path, cwRPCPrefix)
	s.countAPI("aws " + op)
	fail := func(e *awsErr) { cwRPCFail(w, e, reqID) }
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fail(&awsErr{http.StatusBadRequest, "SerializationException", "cannot read the request body"})
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		fail(&awsErr{http.StatusBadRequest, "SerializationException", "want POST with Smithy-Protocol: rpc-v2-cbor"})
		return
	}
	if e := s.awsAuth(r, body, cwService); e != nil {
		fail(e)
		return
	}
	if op != "DescribeAlarms" {
		fail(&awsErr{http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("lbsim simulates only DescribeAlarms of CloudWatch, not %q", op)})
		return
	}
	if e := s.awsFault(op); e != nil {
		fail(e)
		return
	}
	f, e := cwDecodeFilter(body)
	if e == nil {
		e = f.check()
	}
	if e != nil {
		fail(e)
		return
	}
	list := cbor.List{}
	for _, al := range s.describeAlarms(f) {
		list = append(list, al.cbor())
	}
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("X-Amzn-Requestid", reqID)
	_, _ = w.Write(cbor.Encode(cbor.Map{"MetricAlarms": list, "CompositeAlarms": cbor.List{}}))
}

func cwDecodeFilter(body []byte) (cwFilter, *awsErr) {
	var f cwFilter
	if len(body) == 0 {
		return f, nil
	}
	bad := &awsErr{http.StatusBadRequest, "SerializationException", "the request body is not a CBOR map of DescribeAlarms input"}
	v, err := cbor.Decode(body)
	if err != nil {
		return f, bad
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return f, bad
	}
	strs := func(key string) ([]string, bool) {
		l, ok := m[key].(cbor.List)
		if m[key] == nil {
			return nil, true
		}
		var out []string
		for _, e := range l {
			s, isStr := e.(cbor.String)
			ok = ok && isStr
			out = append(out, string(s))
		}
		return out, ok
	}
	str := func(key string) (string, bool) {
		if m[key] == nil {
			return "", true
		}
		s, ok := m[key].(cbor.String)
		return string(s), ok
	}
	var ok1, ok2, ok3, ok4 bool
	f.names, ok1 = strs("AlarmNames")
	f.types, ok2 = strs("AlarmTypes")
	f.prefix, ok3 = str("AlarmNamePrefix")
	f.state, ok4 = str("StateValue")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return f, bad
	}
	return f, nil
}

func cwRPCFail(w http.ResponseWriter, e *awsErr, reqID string) {
	fault := "Sender"
	if e.status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.Header().Set("X-Amzn-Query-Error", e.code+";"+fault)
	w.WriteHeader(e.status)
	_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + e.code), "message": cbor.String(e.msg)}))
}

func cborTime(t time.Time) cbor.Value {
	return &cbor.Tag{ID: 1, Value: cbor.Float64(math.Round(float64(t.UnixMilli())) / 1000)}
}

func (al cwAlarm) cbor() cbor.Map {
	ts := cborTime(al.updated)
	m := cbor.Map{
		"AlarmName": cbor.String(al.cfg.Name), "AlarmArn": cbor.String(al.arn),
		"StateValue": cbor.String(al.state), "StateReason": cbor.String(al.reason),
		"StateUpdatedTimestamp": ts, "StateTransitionedTimestamp": ts,
		"ActionsEnabled": cbor.Bool(false), "MetricName": cbor.String(al.cfg.Metric),
		"Namespace": cbor.String("AWS/ApplicationELB"), "Statistic": cbor.String("Sum"),
		"Period": cbor.Uint(al.periodSeconds()), "EvaluationPeriods": cbor.Uint(1),
		"Threshold": cbor.Float64(al.cfg.Threshold), "ComparisonOperator": cbor.String("GreaterThanOrEqualToThreshold"),
		"TreatMissingData": cbor.String("notBreaching"),
	}
	if d := al.dimension(); d != "" {
		m["Dimensions"] = cbor.List{cbor.Map{"Name": cbor.String("TargetGroup"), "Value": cbor.String(d)}}
	}
	return m
}
