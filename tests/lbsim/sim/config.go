package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole simulated world: Hetzner load balancers and servers,
// AWS target groups, listeners and instances, optional demo apps and the
// faults active from the start. The same structs are read from YAML or JSON
// (Load, Parse) and can be built in Go code; Start fills in defaults.
type Config struct {
	// Listen holds the addresses of the control-plane servers.
	Listen Listen `yaml:"listen,omitempty" json:"listen,omitempty"`
	// MetadataPort is the port of every host's metadata server (one server
	// per distinct host address). 0 picks an ephemeral port per host.
	MetadataPort int `yaml:"metadata_port,omitempty" json:"metadata_port,omitempty"`
	// Hetzner is the Hetzner Cloud part of the world.
	Hetzner Hetzner `yaml:"hetzner,omitempty" json:"hetzner,omitempty"`
	// AWS is the AWS ELBv2 part of the world.
	AWS AWS `yaml:"aws,omitempty" json:"aws,omitempty"`
	// Apps are optional built-in backends (rehearsals, demos) that lbsim
	// serves itself; their health can be flipped through the admin endpoint.
	Apps []App `yaml:"apps,omitempty" json:"apps,omitempty"`
	// Faults are active from the start; see Faults.
	Faults Faults `yaml:"faults,omitempty" json:"faults,omitempty"`
	// HealthCheckPhase says when a target's first health check runs:
	// "registration" (default), one interval after the target is added,
	// so every later check falls on a whole number of intervals after it;
	// or "random", at a random moment within the first interval, as when
	// the load balancer checks on its own clock (AWS load balancer nodes
	// each check every target on their own schedule). Then a client
	// polling on a schedule of its own gains nothing from the phase.
	HealthCheckPhase string `yaml:"health_check_phase,omitempty" json:"health_check_phase,omitempty"`
}

// Health check phases, the values of Config.HealthCheckPhase.
const (
	PhaseRegistration = "registration"
	PhaseRandom       = "random"
)

// Listen holds host:port addresses; empty means 127.0.0.1:0 (ephemeral).
type Listen struct {
	HetznerAPI string `yaml:"hetzner_api,omitempty" json:"hetzner_api,omitempty"`
	AWSAPI     string `yaml:"aws_api,omitempty" json:"aws_api,omitempty"`
	Admin      string `yaml:"admin,omitempty" json:"admin,omitempty"`
}

// Hetzner configures the Hetzner Cloud API simulation.
type Hetzner struct {
	// Token is the only API token accepted (Authorization: Bearer).
	Token string `yaml:"token" json:"token"`
	// ActionDelay is how long add_target/remove_target actions stay
	// "running" before they end (default 500ms).
	ActionDelay Duration `yaml:"action_delay,omitempty" json:"action_delay,omitempty"`
	// LockDuringActions makes a second target action on a load balancer
	// that still has one running fail with 423 "locked", as Hetzner does.
	// Default true.
	LockDuringActions *bool `yaml:"lock_during_actions,omitempty" json:"lock_during_actions,omitempty"`
	// RateLimit is the request budget (default 3600 per hour).
	RateLimit RateLimit `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty"`
	// LoadBalancers are the simulated load balancers.
	LoadBalancers []LoadBalancer `yaml:"load_balancers,omitempty" json:"load_balancers,omitempty"`
	// Servers are the simulated cloud servers.
	Servers []Server `yaml:"servers,omitempty" json:"servers,omitempty"`
}

// RateLimit is a token bucket of Limit requests, refilled evenly over
// Window (Hetzner: 3600 per hour, i.e. one per second).
type RateLimit struct {
	Limit  int      `yaml:"limit,omitempty" json:"limit,omitempty"`
	Window Duration `yaml:"window,omitempty" json:"window,omitempty"`
}

// LoadBalancer is a Hetzner load balancer.
type LoadBalancer struct {
	ID     int64             `yaml:"id" json:"id"`
	Name   string            `yaml:"name" json:"name"`
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	// Address is the loopback IP the services listen on (default 127.0.0.1);
	// it is also reported as the public IPv4.
	Address string `yaml:"address,omitempty" json:"address,omitempty"`
	// Location is the location name (default fsn1).
	Location string `yaml:"location,omitempty" json:"location,omitempty"`
	// Network, when set, attaches the load balancer to a private network,
	// which add_target with use_private_ip requires.
	Network  *PrivateNet `yaml:"network,omitempty" json:"network,omitempty"`
	Services []Service   `yaml:"services" json:"services"`
	Targets  []Target    `yaml:"targets,omitempty" json:"targets,omitempty"`
}

// PrivateNet is an attachment to a private network.
type PrivateNet struct {
	ID int64  `yaml:"id" json:"id"`
	IP string `yaml:"ip" json:"ip"`
}

// Service is one listen port of a Hetzner load balancer.
type Service struct {
	// Protocol is "http" (the only one proxied; default).
	Protocol string `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	// ListenPort is the port lbsim listens on; 0 = ephemeral. The API
	// reports the real bound port.
	ListenPort      int         `yaml:"listen_port" json:"listen_port"`
	DestinationPort int         `yaml:"destination_port" json:"destination_port"`
	HealthCheck     HealthCheck `yaml:"health_check" json:"health_check"`
}

// HealthCheck is a Hetzner service health check.
type HealthCheck struct {
	// Protocol is "http" or "tcp" (default http).
	Protocol string `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	// Port defaults to the service's destination port.
	Port     int      `yaml:"port,omitempty" json:"port,omitempty"`
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	Timeout  Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Retries is the number of consecutive failed checks that mark a target
	// unhealthy, and of consecutive passed checks that mark it healthy again.
	Retries int              `yaml:"retries,omitempty" json:"retries,omitempty"`
	HTTP    *HealthCheckHTTP `yaml:"http,omitempty" json:"http,omitempty"`
}

// HealthCheckHTTP holds the http health check details.
type HealthCheckHTTP struct {
	Domain string `yaml:"domain,omitempty" json:"domain,omitempty"`
	Path   string `yaml:"path,omitempty" json:"path,omitempty"`
	// Response is a substring the body must contain.
	Response string `yaml:"response,omitempty" json:"response,omitempty"`
	// StatusCodes are patterns with ? and * wildcards (default 2??, 3??).
	StatusCodes []string `yaml:"status_codes,omitempty" json:"status_codes,omitempty"`
}

// Target is a Hetzner load balancer target, in the API's own shape.
type Target struct {
	Type          string               `yaml:"type" json:"type"`
	Server        *TargetServer        `yaml:"server,omitempty" json:"server,omitempty"`
	LabelSelector *TargetLabelSelector `yaml:"label_selector,omitempty" json:"label_selector,omitempty"`
	IP            *TargetIP            `yaml:"ip,omitempty" json:"ip,omitempty"`
	UsePrivateIP  bool                 `yaml:"use_private_ip,omitempty" json:"use_private_ip,omitempty"`
}

// TargetServer names a server target by id.
type TargetServer struct {
	ID int64 `yaml:"id" json:"id"`
}

// TargetLabelSelector is a label selector target.
type TargetLabelSelector struct {
	Selector string `yaml:"selector" json:"selector"`
}

// TargetIP is an IP target.
type TargetIP struct {
	IP string `yaml:"ip" json:"ip"`
}

// Server is a Hetzner cloud server.
type Server struct {
	ID     int64             `yaml:"id" json:"id"`
	Name   string            `yaml:"name" json:"name"`
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	// Address is the loopback IP standing for the server's public IPv4;
	// traffic, health checks and its metadata server use it.
	Address string `yaml:"address" json:"address"`
	// PrivateIP is reported in private_net and the metadata service. A
	// loopback IP is also where a target added with use_private_ip is
	// checked and sent requests; lbsim cannot reach any other.
	PrivateIP string `yaml:"private_ip,omitempty" json:"private_ip,omitempty"`
	// Location defaults to fsn1.
	Location string `yaml:"location,omitempty" json:"location,omitempty"`
}

// AWS configures the ELBv2 Query API simulation.
type AWS struct {
	Region          string `yaml:"region,omitempty" json:"region,omitempty"`
	AccessKeyID     string `yaml:"access_key_id" json:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key" json:"secret_access_key"`
	// VerifySignature checks the SigV4 signature with the secret (default
	// true); the access key id is always checked.
	VerifySignature *bool         `yaml:"verify_signature,omitempty" json:"verify_signature,omitempty"`
	TargetGroups    []TargetGroup `yaml:"target_groups,omitempty" json:"target_groups,omitempty"`
	Listeners       []Listener    `yaml:"listeners,omitempty" json:"listeners,omitempty"`
	Instances       []Instance    `yaml:"instances,omitempty" json:"instances,omitempty"`
	// Alarms are CloudWatch metric alarms (DescribeAlarms).
	Alarms []Alarm `yaml:"alarms,omitempty" json:"alarms,omitempty"`
}

// Alarm is a CloudWatch metric alarm on the HTTPCode_Target_5XX_Count of a
// target group: ALARM while the 5xx responses the group's listeners proxied
// in the last Period reach Threshold, OK otherwise. Without a target group
// its state changes only through the admin endpoint.
type Alarm struct {
	Name        string `yaml:"name" json:"name"`
	TargetGroup string `yaml:"target_group,omitempty" json:"target_group,omitempty"`
	// Metric is HTTPCode_Target_5XX_Count, the only one simulated.
	Metric string `yaml:"metric,omitempty" json:"metric,omitempty"`
	// Threshold defaults to 1 (GreaterThanOrEqualToThreshold).
	Threshold float64 `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	// Period is the sliding window (default 60s).
	Period Duration `yaml:"period,omitempty" json:"period,omitempty"`
	// State is the state at start: OK (default), ALARM or INSUFFICIENT_DATA.
	State string `yaml:"state,omitempty" json:"state,omitempty"`
}

// TargetGroup is an ELBv2 target group.
type TargetGroup struct {
	ARN  string `yaml:"arn" json:"arn"`
	Name string `yaml:"name" json:"name"`
	Port int    `yaml:"port" json:"port"`
	// Protocol is HTTP (default); traffic is always proxied as HTTP.
	Protocol string `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	// TargetType is "instance" (default) or "ip".
	TargetType  string         `yaml:"target_type,omitempty" json:"target_type,omitempty"`
	VPCID       string         `yaml:"vpc_id,omitempty" json:"vpc_id,omitempty"`
	HealthCheck AWSHealthCheck `yaml:"health_check,omitempty" json:"health_check,omitempty"`
	// DeregistrationDelay is deregistration_delay.timeout_seconds
	// (default 300s).
	DeregistrationDelay *Duration `yaml:"deregistration_delay,omitempty" json:"deregistration_delay,omitempty"`
	// SlowStart is slow_start.duration_seconds; reported, not simulated.
	SlowStart Duration `yaml:"slow_start,omitempty" json:"slow_start,omitempty"`
	// FailOpen sends traffic to all unhealthy targets when none is healthy,
	// as an ALB does (default true).
	FailOpen *bool `yaml:"fail_open,omitempty" json:"fail_open,omitempty"`
	// Targets are registered at start (they begin in state initial).
	Targets []AWSTarget `yaml:"targets,omitempty" json:"targets,omitempty"`
}

// AWSHealthCheck is a target group's health check.
type AWSHealthCheck struct {
	// Protocol is HTTP (default) or TCP.
	Protocol string `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	// Port is 0 for "traffic-port" (default).
	Port     int      `yaml:"port,omitempty" json:"port,omitempty"`
	Path     string   `yaml:"path,omitempty" json:"path,omitempty"`
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	Timeout  Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// HealthyThreshold defaults to 5, UnhealthyThreshold to 2.
	HealthyThreshold   int `yaml:"healthy_threshold,omitempty" json:"healthy_threshold,omitempty"`
	UnhealthyThreshold int `yaml:"unhealthy_threshold,omitempty" json:"unhealthy_threshold,omitempty"`
	// Matcher is the HttpCode matcher: "200", "200,302", "200-299" (default 200).
	Matcher string `yaml:"matcher,omitempty" json:"matcher,omitempty"`
}

// AWSTarget is a registered target; Port 0 means the target group's port.
type AWSTarget struct {
	ID   string `yaml:"id" json:"id"`
	Port int    `yaml:"port,omitempty" json:"port,omitempty"`
	// AvailabilityZone is an ip target's: "all" or a zone of the region.
	AvailabilityZone string `yaml:"availability_zone,omitempty" json:"availability_zone,omitempty"`
}

// Listener forwards a loopback address to a target group.
type Listener struct {
	// Address is host:port (default 127.0.0.1:0).
	Address string `yaml:"address,omitempty" json:"address,omitempty"`
	// TargetGroup is the target group's name or ARN.
	TargetGroup string `yaml:"target_group" json:"target_group"`
	// LoadBalancer names the simulated ALB the listener belongs to
	// (default "lbsim"); its ARN appears in the target group's
	// LoadBalancerArns.
	LoadBalancer string `yaml:"load_balancer,omitempty" json:"load_balancer,omitempty"`
}

// Instance is an EC2 instance.
type Instance struct {
	ID string `yaml:"id" json:"id"`
	// Address is the loopback IP standing for the instance's private IPv4.
	Address string `yaml:"address" json:"address"`
	// AvailabilityZone defaults to the region + "a".
	AvailabilityZone string `yaml:"availability_zone,omitempty" json:"availability_zone,omitempty"`
}

// App is a built-in HTTP backend: GET /healthz answers 200 (503 once set
// unhealthy through the admin endpoint), every other path answers
// "<name>\n"; ?sleep=2s delays the answer.
type App struct {
	Name    string `yaml:"name" json:"name"`
	Address string `yaml:"address" json:"address"`
	Port    int    `yaml:"port" json:"port"`
}

// Load reads a YAML or JSON config file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lbsim config: %w", err)
	}
	cfg, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse reads a YAML or JSON config (JSON is valid YAML), rejects unknown
// keys, fills in defaults and validates it.
func Parse(b []byte) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse lbsim config: %w", err)
	}
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

const (
	defaultAddress     = "127.0.0.1"
	defaultListen      = "127.0.0.1:0"
	defaultRegion      = "eu-central-1"
	defaultActionDelay = 500 * time.Millisecond
)

func boolPtr(b bool) *bool { return &b }

// Validate fills in defaults and checks cfg; Start calls it too, so a
// Config built in Go needs no extra step.
func (c *Config) Validate() error { return c.normalize() }

func (c *Config) normalize() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	for _, a := range []struct {
		p    *string
		name string
	}{{&c.Listen.HetznerAPI, "listen.hetzner_api"}, {&c.Listen.AWSAPI, "listen.aws_api"}, {&c.Listen.Admin, "listen.admin"}} {
		if *a.p == "" {
			*a.p = defaultListen
		}
		checkLoopbackHostPort(*a.p, a.name, bad)
	}
	checkPort(c.MetadataPort, true, "metadata_port", bad)

	h := &c.Hetzner
	if h.ActionDelay == 0 {
		h.ActionDelay = Duration(defaultActionDelay)
	}
	if h.LockDuringActions == nil {
		h.LockDuringActions = boolPtr(true)
	}
	if h.RateLimit.Limit == 0 {
		h.RateLimit.Limit = 3600
	}
	if h.RateLimit.Window == 0 {
		h.RateLimit.Window = Duration(time.Hour)
	}
	if h.RateLimit.Limit < 0 {
		bad("hetzner.rate_limit.limit", "must be positive, got %d", h.RateLimit.Limit)
	}
	if len(h.LoadBalancers) > 0 && h.Token == "" {
		bad("hetzner.token", "is required when load balancers are configured (clients send it as Bearer token)")
	}
	servers := map[int64]bool{}
	privateIPs := map[int64]string{}
	serverNames := map[string]bool{}
	for i := range h.Servers {
		s := &h.Servers[i]
		f := fmt.Sprintf("hetzner.servers[%d]", i)
		if s.ID <= 0 {
			bad(f+".id", "must be a positive integer, got %d", s.ID)
		}
		if servers[s.ID] {
			bad(f+".id", "%d is used twice", s.ID)
		}
		servers[s.ID] = true
		privateIPs[s.ID] = s.PrivateIP
		if s.Name == "" {
			bad(f+".name", "is required")
		}
		if serverNames[s.Name] {
			bad(f+".name", "%q is used twice", s.Name)
		}
		serverNames[s.Name] = true
		checkLoopbackIP(s.Address, f+".address", bad)
		if s.PrivateIP != "" {
			if _, err := netip.ParseAddr(s.PrivateIP); err != nil {
				bad(f+".private_ip", "%q is not an IP address", s.PrivateIP)
			}
		}
		if s.Location == "" {
			s.Location = "fsn1"
		}
	}
	lbIDs := map[int64]bool{}
	lbNames := map[string]bool{}
	for i := range h.LoadBalancers {
		lb := &h.LoadBalancers[i]
		f := fmt.Sprintf("hetzner.load_balancers[%d]", i)
		if lb.ID <= 0 {
			bad(f+".id", "must be a positive integer, got %d", lb.ID)
		}
		if lbIDs[lb.ID] {
			bad(f+".id", "%d is used twice", lb.ID)
		}
		lbIDs[lb.ID] = true
		if lb.Name == "" {
			bad(f+".name", "is required")
		}
		if lbNames[lb.Name] {
			bad(f+".name", "%q is used twice", lb.Name)
		}
		lbNames[lb.Name] = true
		if lb.Address == "" {
			lb.Address = defaultAddress
		}
		checkLoopbackIP(lb.Address, f+".address", bad)
		if lb.Location == "" {
			lb.Location = "fsn1"
		}
		if len(lb.Services) == 0 {
			bad(f+".services", "needs at least one service (listen_port, destination_port, health_check)")
		}
		ports := map[int]bool{}
		for j := range lb.Services {
			normalizeService(&lb.Services[j], fmt.Sprintf("%s.services[%d]", f, j), ports, bad)
		}
		for j := range lb.Targets {
			t := lb.Targets[j]
			tf := fmt.Sprintf("%s.targets[%d]", f, j)
			if msg := checkTarget(t, servers); msg != "" {
				bad(tf, "%s", msg)
			}
			if t.UsePrivateIP && lb.Network == nil {
				bad(tf+".use_private_ip", "needs the load balancer's network to be set")
			}
			if t.UsePrivateIP && t.Type == "server" && t.Server != nil && privateIPs[t.Server.ID] == "" {
				bad(tf+".use_private_ip", "needs the server's private_ip to be set")
			}
		}
	}

	a := &c.AWS
	if a.Region == "" {
		a.Region = defaultRegion
	}
	if a.VerifySignature == nil {
		a.VerifySignature = boolPtr(true)
	}
	if len(a.TargetGroups) > 0 && (a.AccessKeyID == "" || a.SecretAccessKey == "") {
		bad("aws", "access_key_id and secret_access_key are required when target groups are configured")
	}
	instances := map[string]bool{}
	for i := range a.Instances {
		in := &a.Instances[i]
		f := fmt.Sprintf("aws.instances[%d]", i)
		if !instanceIDRE.MatchString(in.ID) {
			bad(f+".id", "%q is not an instance id like i-0123456789abcdef0", in.ID)
		}
		if instances[in.ID] {
			bad(f+".id", "%q is used twice", in.ID)
		}
		instances[in.ID] = true
		checkLoopbackIP(in.Address, f+".address", bad)
		if in.AvailabilityZone == "" {
			in.AvailabilityZone = a.Region + "a"
		}
	}
	tgByKey := map[string]bool{}
	for i := range a.TargetGroups {
		tg := &a.TargetGroups[i]
		f := fmt.Sprintf("aws.target_groups[%d]", i)
		if tg.Name == "" {
			bad(f+".name", "is required")
		}
		if tg.ARN == "" {
			tg.ARN = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:123456789012:targetgroup/%s/%016x", a.Region, tg.Name, i+1)
		}
		if !tgARNRE.MatchString(tg.ARN) {
			bad(f+".arn", "%q is not a target group ARN like arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID", tg.ARN)
		}
		if tgByKey[tg.ARN] || tgByKey[tg.Name] {
			bad(f, "name %q or arn is used twice", tg.Name)
		}
		tgByKey[tg.ARN], tgByKey[tg.Name] = true, true
		checkPort(tg.Port, false, f+".port", bad)
		if tg.Protocol == "" {
			tg.Protocol = "HTTP"
		}
		tg.Protocol = strings.ToUpper(tg.Protocol)
		if tg.Protocol != "HTTP" {
			bad(f+".protocol", "only HTTP is simulated, got %q", tg.Protocol)
		}
		if tg.TargetType == "" {
			tg.TargetType = "instance"
		}
		if tg.TargetType != "instance" && tg.TargetType != "ip" {
			bad(f+".target_type", "must be instance or ip, got %q", tg.TargetType)
		}
		if tg.VPCID == "" {
			tg.VPCID = "vpc-0lbsim"
		}
		if tg.DeregistrationDelay == nil {
			d := Duration(300 * time.Second)
			tg.DeregistrationDelay = &d
		}
		if tg.FailOpen == nil {
			tg.FailOpen = boolPtr(true)
		}
		hc := &tg.HealthCheck
		if hc.Protocol == "" {
			hc.Protocol = "HTTP"
		}
		hc.Protocol = strings.ToUpper(hc.Protocol)
		if hc.Protocol != "HTTP" && hc.Protocol != "TCP" {
			bad(f+".health_check.protocol", "must be HTTP or TCP, got %q", hc.Protocol)
		}
		if hc.Port != 0 {
			checkPort(hc.Port, false, f+".health_check.port", bad)
		}
		if hc.Path == "" {
			hc.Path = "/"
		}
		if hc.Interval == 0 {
			hc.Interval = Duration(30 * time.Second)
		}
		if hc.Timeout == 0 {
			hc.Timeout = Duration(5 * time.Second)
		}
		if hc.HealthyThreshold == 0 {
			hc.HealthyThreshold = 5
		}
		if hc.UnhealthyThreshold == 0 {
			hc.UnhealthyThreshold = 2
		}
		if hc.HealthyThreshold < 1 || hc.UnhealthyThreshold < 1 {
			bad(f+".health_check", "thresholds must be at least 1")
		}
		if hc.Matcher == "" {
			hc.Matcher = "200"
		}
		if _, err := parseMatcher(hc.Matcher); err != nil {
			bad(f+".health_check.matcher", "%v", err)
		}
		for j, t := range tg.Targets {
			tf := fmt.Sprintf("%s.targets[%d]", f, j)
			if tg.TargetType == "instance" && !instances[t.ID] {
				bad(tf+".id", "%q is not one of aws.instances", t.ID)
			}
			if tg.TargetType == "ip" {
				checkLoopbackIP(t.ID, tf+".id", bad)
			}
			if t.Port != 0 {
				checkPort(t.Port, false, tf+".port", bad)
			}
			if t.AvailabilityZone != "" && !validZone(tg.TargetType, t.AvailabilityZone, a.Region) {
				bad(tf+".availability_zone", "%q is not all or a zone of %s, for an ip target group", t.AvailabilityZone, a.Region)
			}
		}
	}
	normalizeAlarms(a, tgByKey, bad)
	for i := range a.Listeners {
		l := &a.Listeners[i]
		f := fmt.Sprintf("aws.listeners[%d]", i)
		if l.Address == "" {
			l.Address = defaultListen
		}
		checkLoopbackHostPort(l.Address, f+".address", bad)
		if !tgByKey[l.TargetGroup] {
			bad(f+".target_group", "%q is not the name or ARN of one of aws.target_groups", l.TargetGroup)
		}
		if l.LoadBalancer == "" {
			l.LoadBalancer = "lbsim"
		}
	}
	for i, app := range c.Apps {
		f := fmt.Sprintf("apps[%d]", i)
		if app.Name == "" {
			bad(f+".name", "is required")
		}
		checkLoopbackIP(app.Address, f+".address", bad)
		checkPort(app.Port, false, f+".port", bad)
	}
	switch c.HealthCheckPhase {
	case "":
		c.HealthCheckPhase = PhaseRegistration
	case PhaseRegistration, PhaseRandom:
	default:
		bad("health_check_phase", "must be %s or %s, got %q", PhaseRegistration, PhaseRandom, c.HealthCheckPhase)
	}
	if err := c.Faults.validate("faults"); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid lbsim config: %w", errors.Join(errs...))
	}
	return nil
}

var (
	instanceIDRE = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	tgARNRE      = regexp.MustCompile(`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$`)
)

func normalizeService(s *Service, f string, ports map[int]bool, bad func(string, string, ...any)) {
	if s.Protocol == "" {
		s.Protocol = "http"
	}
	if s.Protocol != "http" {
		bad(f+".protocol", "only http services are simulated, got %q", s.Protocol)
	}
	checkPort(s.ListenPort, true, f+".listen_port", bad)
	if s.ListenPort != 0 {
		if ports[s.ListenPort] {
			bad(f+".listen_port", "%d is used twice", s.ListenPort)
		}
		ports[s.ListenPort] = true
	}
	checkPort(s.DestinationPort, false, f+".destination_port", bad)
	hc := &s.HealthCheck
	if hc.Protocol == "" {
		hc.Protocol = "http"
	}
	if hc.Protocol != "http" && hc.Protocol != "tcp" {
		bad(f+".health_check.protocol", "must be http or tcp, got %q", hc.Protocol)
	}
	if hc.Port == 0 {
		hc.Port = s.DestinationPort
	}
	checkPort(hc.Port, false, f+".health_check.port", bad)
	if hc.Interval == 0 {
		hc.Interval = Duration(15 * time.Second)
	}
	if hc.Timeout == 0 {
		hc.Timeout = Duration(10 * time.Second)
	}
	if hc.Retries == 0 {
		hc.Retries = 3
	}
	if hc.Retries < 1 {
		bad(f+".health_check.retries", "must be at least 1, got %d", hc.Retries)
	}
	if hc.Protocol == "http" {
		if hc.HTTP == nil {
			hc.HTTP = &HealthCheckHTTP{}
		}
		if hc.HTTP.Path == "" {
			hc.HTTP.Path = "/"
		}
		if len(hc.HTTP.StatusCodes) == 0 {
			hc.HTTP.StatusCodes = []string{"2??", "3??"}
		}
	}
}

// checkTarget returns why t is not a valid Hetzner target, or "".
func checkTarget(t Target, servers map[int64]bool) string {
	switch t.Type {
	case "server":
		if t.Server == nil {
			return `type server needs server: {id: N}`
		}
		if !servers[t.Server.ID] {
			return fmt.Sprintf("server %d is not one of hetzner.servers", t.Server.ID)
		}
	case "label_selector":
		if t.LabelSelector == nil {
			return `type label_selector needs label_selector: {selector: "k=v"}`
		}
		if _, err := parseSelector(t.LabelSelector.Selector); err != nil {
			return err.Error()
		}
	case "ip":
		if t.IP == nil {
			return `type ip needs ip: {ip: 127.0.0.x}`
		}
		if a, err := netip.ParseAddr(t.IP.IP); err != nil || !a.IsLoopback() {
			return fmt.Sprintf("ip %q must be a loopback address (127.0.0.0/8)", t.IP.IP)
		}
	default:
		return fmt.Sprintf("type must be server, label_selector or ip, got %q", t.Type)
	}
	return ""
}

func checkPort(p int, zeroOK bool, field string, bad func(string, string, ...any)) {
	if (p == 0 && !zeroOK) || p < 0 || p > 65535 {
		bad(field, "must be a port 1..65535, got %d", p)
	}
}

func checkLoopbackIP(s, field string, bad func(string, string, ...any)) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.IsLoopback() {
		bad(field, "%q must be a loopback IP such as 127.0.0.11 (lbsim only listens on loopback)", s)
	}
}

func checkLoopbackHostPort(s, field string, bad func(string, string, ...any)) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		bad(field, "%q is not host:port", s)
		return
	}
	checkLoopbackIP(host, field, bad)
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad(field, "%q has no valid port", s)
	}
}

// validZone reports whether an ip target group of region takes az:
// "all" or the region's name and a letter. Instance targets take none.
func validZone(targetType, az, region string) bool {
	if targetType != "ip" {
		return false
	}
	if az == "all" {
		return true
	}
	last := az[len(az)-1]
	return len(az) == len(region)+1 && strings.HasPrefix(az, region) && last >= 'a' && last <= 'z'
}
