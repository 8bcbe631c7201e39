package sim

import (
	"strings"
	"testing"
	"time"
)

func TestLoadDefaultConfig(t *testing.T) {
	cfg, err := Load("../default.yml")
	if err != nil {
		t.Fatal(err)
	}
	lb := cfg.Hetzner.LoadBalancers[0]
	hc := lb.Services[0].HealthCheck
	if lb.ID != 1 || lb.Name != "web-lb" || len(lb.Targets) != 3 || hc.Interval.D() != time.Second || hc.Retries != 2 || hc.HTTP.Path != "/healthz" {
		t.Errorf("hetzner = %+v", cfg.Hetzner)
	}
	tg := cfg.AWS.TargetGroups[0]
	if tg.Name != "web-tg" || tg.DeregistrationDelay.D() != 5*time.Second || tg.HealthCheck.HealthyThreshold != 2 || len(tg.Targets) != 3 {
		t.Errorf("aws = %+v", cfg.AWS)
	}
	if cfg.Hetzner.ActionDelay.D() != 500*time.Millisecond || cfg.Hetzner.RateLimit.Limit != 3600 || !*cfg.Hetzner.LockDuringActions {
		t.Errorf("hetzner defaults = %+v", cfg.Hetzner)
	}
}

const minimal = `
hetzner:
  token: t
  load_balancers:
    - id: 1
      name: lb
      services: [{listen_port: 0, destination_port: 8080}]
      targets: [{type: server, server: {id: 1}}]
  servers: [{id: 1, name: s1, address: 127.0.0.11}]
aws:
  access_key_id: AKIA
  secret_access_key: s
  target_groups: [{name: tg, port: 8080, targets: [{id: i-00000001}]}]
  instances: [{id: i-00000001, address: 127.0.0.11}]
  listeners: [{target_group: tg}]
`

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(string) string
		wantErr string
		check   func(*Config) string
	}{
		{name: "minimal with defaults", check: func(c *Config) string {
			hc := c.Hetzner.LoadBalancers[0].Services[0].HealthCheck
			tg := c.AWS.TargetGroups[0]
			switch {
			case hc.Port != 8080 || hc.Interval.D() != 15*time.Second || hc.Retries != 3 || hc.HTTP.StatusCodes[0] != "2??":
				return "hetzner health check defaults"
			case tg.ARN != "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/tg/0000000000000001":
				return "generated ARN " + tg.ARN
			case tg.DeregistrationDelay.D() != 300*time.Second || tg.HealthCheck.Matcher != "200" || tg.HealthCheck.HealthyThreshold != 5 || !*tg.FailOpen:
				return "target group defaults"
			case c.Listen.Admin != "127.0.0.1:0" || c.AWS.Instances[0].AvailabilityZone != "eu-central-1a":
				return "listen/az defaults"
			}
			return ""
		}},
		{name: "fractional seconds and durations", edit: func(s string) string {
			return strings.Replace(s, "destination_port: 8080}", "destination_port: 8080, health_check: {interval: 0.25, timeout: 150ms}}", 1)
		}, check: func(c *Config) string {
			hc := c.Hetzner.LoadBalancers[0].Services[0].HealthCheck
			if hc.Interval.D() != 250*time.Millisecond || hc.Timeout.D() != 150*time.Millisecond {
				return "durations " + hc.Interval.String() + " " + hc.Timeout.String()
			}
			return ""
		}},
		{name: "json works too", edit: func(string) string {
			return `{"hetzner": {"token": "t", "servers": [{"id": 5, "name": "x", "address": "127.0.0.5"}]}}`
		}, check: func(c *Config) string {
			if c.Hetzner.Servers[0].ID != 5 {
				return "servers"
			}
			return ""
		}},
		{name: "empty file is an empty world", edit: func(string) string { return "" }},
		{name: "unknown key", edit: func(s string) string { return strings.Replace(s, "token: t", "token: t\n  tokn: x", 1) }, wantErr: "field tokn not found"},
		{name: "non-loopback server", edit: func(s string) string {
			return strings.Replace(s, "address: 127.0.0.11}]\naws", "address: 10.0.0.1}]\naws", 1)
		}, wantErr: `hetzner.servers[0].address: "10.0.0.1" must be a loopback IP`},
		{name: "unknown server target", edit: func(s string) string { return strings.Replace(s, "server: {id: 1}", "server: {id: 7}", 1) }, wantErr: "server 7 is not one of hetzner.servers"},
		{name: "missing token", edit: func(s string) string { return strings.Replace(s, "token: t", "", 1) }, wantErr: "hetzner.token: is required"},
		{name: "bad arn", edit: func(s string) string { return strings.Replace(s, "name: tg,", "name: tg, arn: arn:aws:foo,", 1) }, wantErr: "is not a target group ARN"},
		{name: "bad matcher", edit: func(s string) string {
			return strings.Replace(s, "port: 8080, targets", "port: 8080, health_check: {matcher: ok}, targets", 1)
		}, wantErr: "HttpCode matcher"},
		{name: "unknown instance target", edit: func(s string) string {
			return strings.Replace(s, "targets: [{id: i-00000001}]", "targets: [{id: i-00000009}]", 1)
		}, wantErr: `"i-00000009" is not one of aws.instances`},
		{name: "listener to nowhere", edit: func(s string) string { return strings.Replace(s, "target_group: tg}", "target_group: nope}", 1) }, wantErr: `aws.listeners[0].target_group: "nope"`},
		{name: "bad duration", edit: func(s string) string {
			return strings.Replace(s, "destination_port: 8080}", "destination_port: 8080, health_check: {interval: soon}}", 1)
		}, wantErr: `duration "soon"`},
		{name: "duration beyond time.Duration", edit: func(s string) string { return s + "faults: {hetzner: {latency: 1e31}}\n" },
			wantErr: `duration "1e31" is too long`},
		{name: "infinite duration", edit: func(s string) string { return s + "faults: {hetzner: {latency: .inf}}\n" },
			wantErr: `duration ".inf"`},
		{name: "NaN duration", edit: func(s string) string { return s + "faults: {hetzner: {latency: NaN}}\n" },
			wantErr: `duration "NaN" is not a number of seconds`},
		{name: "bad fault", edit: func(s string) string { return s + "faults: {aws: {error_rate: 3}}\n" }, wantErr: "faults.aws.error_rate"},
		{name: "health check phase defaults to registration", check: func(c *Config) string {
			if c.HealthCheckPhase != PhaseRegistration {
				return "health_check_phase " + c.HealthCheckPhase
			}
			return ""
		}},
		{name: "random health check phase", edit: func(s string) string { return s + "health_check_phase: random\n" }, check: func(c *Config) string {
			if c.HealthCheckPhase != PhaseRandom {
				return "health_check_phase " + c.HealthCheckPhase
			}
			return ""
		}},
		{name: "bad health check phase", edit: func(s string) string { return s + "health_check_phase: sometimes\n" },
			wantErr: `health_check_phase: must be registration or random, got "sometimes"`},
		{name: "private ip needs network", edit: func(s string) string {
			return strings.Replace(s, "{type: server, server: {id: 1}}", "{type: server, server: {id: 1}, use_private_ip: true}", 1)
		}, wantErr: "needs the load balancer's network"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := minimal
			if tc.edit != nil {
				src = tc.edit(src)
			}
			c, err := Parse([]byte(src))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				if what := tc.check(c); what != "" {
					t.Errorf("wrong %s", what)
				}
			}
		})
	}
}

func TestSelector(t *testing.T) {
	labels := map[string]string{"role": "web", "env": "prod"}
	tests := map[string]struct {
		sel     string
		want    bool
		wantErr bool
	}{
		"equals":        {sel: "role=web", want: true},
		"double equals": {sel: "role==web", want: true},
		"not equals":    {sel: "role!=web", want: false},
		"exists":        {sel: "env", want: true},
		"not exists":    {sel: "!env", want: false},
		"in":            {sel: "env in (dev,prod)", want: true},
		"notin":         {sel: "env notin (dev,prod)", want: false},
		"and":           {sel: "role=web,env=dev", want: false},
		"empty":         {sel: " ", wantErr: true},
		"garbage":       {sel: "a b", wantErr: true},
	}
	for name, tc := range tests {
		s, err := parseSelector(tc.sel)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v", name, err)
			continue
		}
		if err == nil && s.matches(labels) != tc.want {
			t.Errorf("%s: matches = %v, want %v", name, !tc.want, tc.want)
		}
	}
}

func TestMatchers(t *testing.T) {
	m, _ := parseMatcher("200,300-302")
	hz := statusPatterns([]string{"2??", "30*"})
	tests := []struct {
		code   int
		aws    bool
		hetzer bool
	}{{200, true, true}, {204, false, true}, {301, true, true}, {303, false, true}, {404, false, false}}
	for _, tc := range tests {
		if m(tc.code) != tc.aws || hz(tc.code) != tc.hetzer {
			t.Errorf("code %d: aws %v hetzner %v, want %v %v", tc.code, m(tc.code), hz(tc.code), tc.aws, tc.hetzer)
		}
	}
}

// TestStateMachines drives both health state machines with a sequence of
// check results (p = pass, f = fail) and checks the state after each.
func TestStateMachines(t *testing.T) {
	hz := []struct {
		name    string
		retries int
		seq     string
		want    []string
	}{
		{"first result decides: pass", 3, "p", []string{"healthy"}},
		{"first result decides: fail", 3, "f", []string{"unhealthy"}},
		{"retries failures to go down", 2, "ppff", []string{"healthy", "healthy", "healthy", "unhealthy"}},
		{"retries passes to come back", 2, "fpfpp", []string{"unhealthy", "unhealthy", "unhealthy", "unhealthy", "healthy"}},
	}
	for _, tc := range hz {
		m := &hzMember{status: hzUnknown}
		for i, r := range tc.seq {
			m.apply(result(r), tc.retries)
			if m.status != tc.want[i] {
				t.Errorf("hetzner %s: after %q status %s, want %s", tc.name, tc.seq[:i+1], m.status, tc.want[i])
			}
		}
	}
	aw := []struct {
		name string
		seq  string
		want []string // state/reason
	}{
		{"initial to healthy after 2", "pp", []string{"initial/Elb.InitialHealthChecking", "healthy/"}},
		{"initial to unhealthy after 3", "fff", []string{"initial/Elb.InitialHealthChecking", "initial/Elb.InitialHealthChecking", "unhealthy/Target.ResponseCodeMismatch"}},
		{"healthy to unhealthy after 3", "ppfffpp", []string{"initial/Elb.InitialHealthChecking", "healthy/", "healthy/", "healthy/", "unhealthy/Target.ResponseCodeMismatch", "unhealthy/Target.ResponseCodeMismatch", "healthy/"}},
	}
	for _, tc := range aw {
		tt := &awsTarget{state: awsInitial, reason: "Elb.RegistrationInProgress"}
		for i, r := range tc.seq {
			tt.apply(result(r), 2, 3)
			if got := tt.state + "/" + tt.reason; got != tc.want[i] {
				t.Errorf("aws %s: after %q %s, want %s", tc.name, tc.seq[:i+1], got, tc.want[i])
			}
		}
	}
	reasons := map[probeKind]string{probeRefused: "Target.FailedHealthChecks", probeL4Timeout: "Target.Timeout", probeL7Timeout: "Target.Timeout", probeStatus: "Target.ResponseCodeMismatch"}
	for k, want := range reasons {
		if got, _ := awsFailure(probeResult{kind: k, code: 500}); got != want {
			t.Errorf("awsFailure(%s) = %s, want %s", k, got, want)
		}
	}
}

func result(r rune) probeResult {
	if r == 'p' {
		return probeResult{kind: probeOK, code: 200}
	}
	return probeResult{kind: probeStatus, code: 500}
}

func TestRateLimitBucket(t *testing.T) {
	b := newBucket(2, 2*time.Second) // 1 per second
	now := time.Now()
	b.last = now
	for i, want := range []bool{true, true, false} {
		if ok, _, _, _ := b.take(now); ok != want {
			t.Errorf("take %d = %v, want %v", i, ok, want)
		}
	}
	ok, limit, remaining, reset := b.take(now.Add(1100 * time.Millisecond))
	if !ok || limit != 2 || remaining != 0 || reset < now.Unix()+1 {
		t.Errorf("after 1.1s: ok=%v limit=%d remaining=%d reset=%d", ok, limit, remaining, reset)
	}
}
