package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/zerodowntime/rolling/tests/lbsim/sim/internal/sigv4"
)

// The request fuzzers call lbsim's API handlers in process (no sockets for
// the requests themselves). Whatever arrives, lbsim must not panic, and
// must answer a bad request with the cloud's own error shape: Hetzner's
// error JSON, or the ELBv2 ErrorResponse XML envelope.

const (
	fuzzToken  = "lbsim-fuzz-token"
	fuzzKeyID  = "AKIALBSIMFUZZ0001"
	fuzzSecret = "lbsimFuzzSecret0001"
	fuzzTGARN  = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web-tg/0123456789abcdef"
)

func fuzzSim(f *testing.F) *Sim {
	f.Helper()
	hc := HealthCheck{Protocol: "http", Interval: Duration(time.Hour), Timeout: Duration(time.Second), Retries: 1}
	cfg := &Config{
		Hetzner: Hetzner{
			Token: fuzzToken, ActionDelay: Duration(time.Millisecond), LockDuringActions: new(bool),
			RateLimit: RateLimit{Limit: 1 << 30, Window: Duration(time.Hour)},
			LoadBalancers: []LoadBalancer{{ID: 1, Name: "web-lb", Labels: map[string]string{"env": "prod"},
				Network:  &PrivateNet{ID: 1, IP: "10.0.0.2"},
				Services: []Service{{Protocol: "http", DestinationPort: 8081, HealthCheck: hc}},
				Targets: []Target{{Type: "server", Server: &TargetServer{ID: 101}},
					{Type: "label_selector", LabelSelector: &TargetLabelSelector{Selector: "role=web"}}}}},
			Servers: []Server{{ID: 101, Name: "app-1", Address: "127.3.0.1", Labels: map[string]string{"role": "web"}, PrivateIP: "10.0.0.11"},
				{ID: 102, Name: "app-2", Address: "127.3.0.2"}},
		},
		AWS: AWS{
			Region: "eu-central-1", AccessKeyID: fuzzKeyID, SecretAccessKey: fuzzSecret,
			TargetGroups: []TargetGroup{
				{ARN: fuzzTGARN, Name: "web-tg", Port: 8081, HealthCheck: AWSHealthCheck{Interval: Duration(time.Hour)},
					Targets: []AWSTarget{{ID: "i-0000000000000001"}}},
				{Name: "ip-tg", Port: 8081, TargetType: "ip", HealthCheck: AWSHealthCheck{Interval: Duration(time.Hour)}},
			},
			Listeners: []Listener{{TargetGroup: "web-tg"}},
			Instances: []Instance{{ID: "i-0000000000000001", Address: "127.3.0.1"}, {ID: "i-0000000000000002", Address: "127.3.0.2"}},
			Alarms:    []Alarm{{Name: "web-5xx", TargetGroup: "web-tg"}, {Name: "manual", State: AlarmAlarm}},
		},
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	return s
}

// checkHetzner asserts a Hetzner answer: JSON, and for an error status
// {"error": {"code", "message", "details"}}.
func checkHetzner(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d with Content-Type %q (hcloud-go ignores error bodies that are not JSON): %s", rec.Code, ct, rec.Body)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d, body is not a JSON object: %v: %s", rec.Code, err, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	var e hzError
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || e.Error.Details == nil {
		t.Fatalf("status %d without Hetzner's error JSON (%v): %s", rec.Code, err, rec.Body)
	}
	if want := hzStatus(e.Error.Code); want != rec.Code {
		t.Fatalf("error code %s with status %d, want %d", e.Error.Code, rec.Code, want)
	}
}

// FuzzHetznerTargetBody fuzzes the bodies of add_target and remove_target.
func FuzzHetznerTargetBody(f *testing.F) {
	for _, b := range []string{
		`{"type": "server", "server": {"id": 102}}`,
		`{"type": "server", "server": {"id": 101}, "use_private_ip": true}`,
		`{"type": "ip", "ip": {"ip": "127.3.0.9"}}`,
		`{"type": "ip", "ip": {"ip": "10.0.0.1"}, "use_private_ip": true}`,
		`{"type": "label_selector", "label_selector": {"selector": "role in (web,api),!canary"}}`,
		`{"type": "label_selector", "label_selector": {"selector": "role=="}}`,
		`{"type": "server", "server": {"id": "102"}}`,
		`{"type": "server", "server": {"id": 1e400}}`,
		`{"type": "server"}`,
		`{"type": 5}`,
		`{}`,
		`[]`,
		`null`,
		`{"type": "server", "server": {"id": 102}} trailing`,
		``,
	} {
		f.Add(true, "1", []byte(b))
		f.Add(false, "1", []byte(b))
	}
	f.Add(true, "x", []byte(`{"type": "server", "server": {"id": 102}}`))
	f.Add(false, "99", []byte(`{"type": "server", "server": {"id": 102}}`))
	s := fuzzSim(f)
	h := s.hetznerHandler()
	f.Fuzz(func(t *testing.T, add bool, id string, body []byte) {
		op := "remove_target"
		if add {
			op = "add_target"
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/load_balancers/"+url.PathEscape(id)+"/actions/"+op, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fuzzToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusTemporaryRedirect {
			return // ServeMux cleaning the path ("/load_balancers/../actions")
		}
		checkHetzner(t, rec)
		if rec.Code == http.StatusCreated {
			var ok struct {
				Action *hzActionJSON `json:"action"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &ok); err != nil || ok.Action == nil || ok.Action.Command != op {
				t.Fatalf("201 without the %s action: %s", op, rec.Body)
			}
		}
	})
}

// FuzzHetznerQuery fuzzes the query strings and path ids of the GET
// routes: pagination, sort, filters, label selectors.
func FuzzHetznerQuery(f *testing.F) {
	for _, seed := range []struct{ path, query string }{
		{"/v1/load_balancers", "name=web-lb"},
		{"/v1/load_balancers", "label_selector=env%3Dprod&page=1&per_page=50"},
		{"/v1/load_balancers", "label_selector=env+in+%28a%2Cb%29%2C%21x&sort=name:desc&sort=id"},
		{"/v1/load_balancers", "page=0&per_page=51"},
		{"/v1/load_balancers", "page=99999999999999999999"},
		{"/v1/load_balancers", "sort=created:asc"},
		{"/v1/load_balancers/1", ""},
		{"/v1/load_balancers/-1", ""},
		{"/v1/load_balancers/1/actions", "status=running&sort=finished:desc&page=2&per_page=1"},
		{"/v1/load_balancers/1/actions/1", ""},
		{"/v1/actions", "id=1&id=2&sort=status&sort=id"},
		{"/v1/actions", "id=x"},
		{"/v1/actions", "status=bogus"},
		{"/v1/actions", "sort=id:sideways"},
		{"/v1/actions/1", ""},
		{"/v1/servers", "name=app-1"},
		{"/v1/servers", "label_selector=role%3Dweb&sort=name"},
		{"/v1/servers/101", ""},
		{"/v1/servers/app-1", ""},
		{"/v1/volumes", ""},
		{"/v1/load_balancers", "%zz"},
	} {
		f.Add(seed.path, seed.query)
	}
	s := fuzzSim(f)
	h := s.hetznerHandler()
	f.Fuzz(func(t *testing.T, path, query string) {
		u := &url.URL{Path: path, RawQuery: query}
		req, err := http.NewRequest(http.MethodGet, "http://lbsim"+u.EscapedPath()+"?"+query, nil)
		if err != nil {
			return // not a URL a client could send
		}
		req.Header.Set("Authorization", "Bearer "+fuzzToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect {
			return // ServeMux cleaning the path ("/v1/../x")
		}
		checkHetzner(t, rec)
	})
}

// signAWS signs req as the SDK would, with lbsim's credentials.
func signAWS(t *testing.T, req *http.Request, body []byte, service string) {
	t.Helper()
	now := time.Now().UTC()
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	a := sigv4.Auth{AccessKeyID: fuzzKeyID, Date: now.Format("20060102"), Region: "eu-central-1", Service: service,
		SignedHeaders: []string{"content-type", "host", "x-amz-date"}}
	sig, err := sigv4.Sign(req, body, a, fuzzSecret)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+a.AccessKeyID+"/"+a.Date+"/eu-central-1/"+service+"/aws4_request, SignedHeaders="+strings.Join(a.SignedHeaders, ";")+", Signature="+sig)
}

// checkAWS asserts an ELBv2 (or CloudWatch Query) answer: XML; an error
// status carries the ErrorResponse envelope with Type, Code, Message and
// RequestId; a success names the action.
func checkAWS(t *testing.T, rec *httptest.ResponseRecorder, action string) {
	t.Helper()
	ns := awsNS
	if action == "DescribeAlarms" {
		ns = cwNS
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/xml" {
		t.Fatalf("status %d with Content-Type %q: %s", rec.Code, ct, rec.Body)
	}
	if rec.Code != http.StatusOK {
		var e awsErrorResponse
		if err := xml.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || e.RequestID == "" ||
			(e.Error.Type != "Sender" && e.Error.Type != "Receiver") || e.Xmlns != ns {
			t.Fatalf("status %d without the ErrorResponse envelope (%v): %s", rec.Code, err, rec.Body)
		}
		return
	}
	var ok struct {
		XMLName xml.Name
		Meta    awsMetadata `xml:"ResponseMetadata"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &ok); err != nil || ok.XMLName.Local != action+"Response" || ok.Meta.RequestID == "" {
		t.Fatalf("200 that is not a %sResponse (%v): %s", action, err, rec.Body)
	}
}

// FuzzAWSForm fuzzes the Query API's form: any action, any parameters, in
// the body and in the URL query, signed with the right key so that they
// get past authentication.
func FuzzAWSForm(f *testing.F) {
	v := "Version=2015-12-01&"
	arn := "TargetGroupArn=" + url.QueryEscape(fuzzTGARN)
	for _, seed := range []struct{ body, query string }{
		{v + "Action=RegisterTargets&" + arn + "&Targets.member.1.Id=i-0000000000000002&Targets.member.1.Port=8081", ""},
		{v + "Action=DeregisterTargets&" + arn + "&Targets.member.1.Id=i-0000000000000001", ""},
		{v + "Action=DeregisterTargets&" + arn + "&Targets.member.2.Id=i-0000000000000001&Targets.member.1.Port=0", ""},
		{v + "Action=RegisterTargets&" + arn + "&Targets.member.99999999999999999999.Id=x", ""},
		{v + "Action=RegisterTargets&" + arn, ""},
		{v + "Action=DescribeTargetHealth&" + arn + "&Targets.member.1.Id=i-0000000000000009", ""},
		{v + "Action=DescribeTargetHealth&" + arn, ""},
		{v + "Action=DescribeTargetGroups&Names.member.1=web-tg&Names.member.2=ip-tg", ""},
		{v + "Action=DescribeTargetGroups&TargetGroupArns.member.1=arn:bogus", ""},
		{v + "Action=DescribeTargetGroups&Names.member.1=a&LoadBalancerArn=x", ""},
		{v + "Action=DescribeTargetGroupAttributes&" + arn, ""},
		{"Action=DescribeTargetGroups&Version=2012-06-01", ""},
		{"", "Action=DescribeTargetGroups&Version=2015-12-01"},
		{v + "Action=CreateLoadBalancer", ""},
		{"%zz", ""},
		{"Action", ""},
		{"Version=2010-08-01&Action=DescribeAlarms&AlarmNames.member.1=web-5xx&AlarmNames.member.2=x", ""},
		{"Version=2010-08-01&Action=DescribeAlarms&StateValue=ALARM&AlarmNamePrefix=web", ""},
		{"Version=2010-08-01&Action=DescribeAlarms&StateValue=BAD", ""},
	} {
		f.Add(seed.body, seed.query)
	}
	s := fuzzSim(f)
	h := s.awsHandler()
	f.Fuzz(func(t *testing.T, body, query string) {
		req, err := http.NewRequest(http.MethodPost, "http://lbsim/?"+query, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		action := "?"
		if form, err := url.ParseQuery(body); err == nil {
			action = form.Get("Action")
			if action == "" {
				q, _ := url.ParseQuery(query)
				action = q.Get("Action")
			}
		}
		service := "elasticloadbalancing"
		if action == "DescribeAlarms" {
			service = cwService
		}
		signAWS(t, req, []byte(body), service)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkAWS(t, rec, action)
		if strings.Contains(rec.Body.String(), "SignatureDoesNotMatch") {
			t.Fatalf("a request signed with the right key was refused: %s", rec.Body)
		}
	})
}

// FuzzSigV4 fuzzes the Authorization header and the headers it signs.
func FuzzSigV4(f *testing.F) {
	good := "AWS4-HMAC-SHA256 Credential=" + fuzzKeyID + "/20240101/eu-central-1/elasticloadbalancing/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0123abcd"
	for _, a := range []string{
		good,
		"AWS4-HMAC-SHA256 Credential=" + fuzzKeyID + "/20240101/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 Credential=" + fuzzKeyID + "/20240101/eu-central-1/s3/aws4_request, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 Credential=AKIAOTHER/20240101/eu-central-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=, Signature=",
		"AWS4-HMAC-SHA256 ,,,=,==",
		"AWS4-HMAC-SHA256 Credential=" + fuzzKeyID + "/20240101/eu-central-1/elasticloadbalancing/aws4_request, SignedHeaders=content-length;x-amz-content-sha256;;Host, Signature=00",
		"AWS3 x",
		"Bearer x",
		"",
	} {
		f.Add(a, "20240101T000000Z", "", "Action=DescribeTargetGroups&Version=2015-12-01")
	}
	f.Add(good, "", "UNSIGNED-PAYLOAD", "")
	f.Add(good, "2023", "x", "Action=RegisterTargets")
	s := fuzzSim(f)
	h := s.awsHandler()
	f.Fuzz(func(t *testing.T, auth, amzDate, sha, body string) {
		req, err := http.NewRequest(http.MethodPost, "http://lbsim/", strings.NewReader(body))
		if err != nil {
			return
		}
		for k, v := range map[string]string{"Authorization": auth, "X-Amz-Date": amzDate, "X-Amz-Content-Sha256": sha} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		if a, err := sigv4.Parse(req); err != nil {
			if err.Error() == "" {
				t.Fatalf("sigv4.Parse: empty error for %q", auth)
			}
		} else {
			_, err := sigv4.Sign(req, []byte(body), a, fuzzSecret)
			if err != nil && err.Error() == "" {
				t.Fatalf("sigv4.Sign: empty error for %q", auth)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			t.Fatalf("accepted a request not signed with the secret: Authorization %q", auth)
		}
		checkAWS(t, rec, "")
	})
}

// FuzzConfig fuzzes the config parser: no panic, an error with a message,
// and a config it accepts survives a round trip through YAML.
func FuzzConfig(f *testing.F) {
	f.Add(defaultYAML(f))
	for _, c := range []string{
		"hetzner: {token: t, load_balancers: [{id: 1, name: a, services: [{destination_port: 80}]}]}",
		"hetzner: {load_balancers: [{id: 1, name: a, services: []}]}",
		"aws: {target_groups: [{name: tg, port: 80, target_type: ip, targets: [{id: 10.0.0.1}]}], listeners: [{target_group: nope}]}",
		"aws: {target_groups: [{name: tg, port: 80, deregistration_delay: -5s, health_check: {interval: 1e400}}]}",
		"listen: {admin: 0.0.0.0:80}",
		"metadata_port: 70000",
		"apps: [{name: a, address: 8.8.8.8, port: 0}]",
		"faults: {hetzner: {error_rate: 2, latency: 1h}, health: [{target: x, mode: wobble}]}",
		"hetzner: {action_delay: \"1y\"}",
		"{\"hetzner\": {\"token\": 5}}",
		"unknown_key: 1",
		"- a\n- b",
		"&a [*a]",
		"",
	} {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A config that takes seconds to parse is a bug too, and the fuzzer
		// cannot name a hanging input by itself.
		type parsed struct {
			cfg *Config
			err error
		}
		done := make(chan parsed, 1)
		go func() {
			cfg, err := Parse(data)
			done <- parsed{cfg, err}
		}()
		var p parsed
		select {
		case p = <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("Parse took more than 2s for %q", data)
		}
		cfg, err := p.cfg, p.err
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("empty error for %q", data)
			}
			return
		}
		b, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("accepted config does not marshal: %v", err)
		}
		if _, err := Parse(b); err != nil {
			t.Fatalf("accepted config fails after a round trip: %v\n%s\nfrom %q", err, b, data)
		}
	})
}

func defaultYAML(f *testing.F) []byte {
	cfg, err := Load("../default.yml")
	if err != nil {
		f.Fatal(err)
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
