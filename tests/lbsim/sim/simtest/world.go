package simtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

// The world's cloud objects, as tests and their playbooks name them.
const (
	Region = "eu-central-1"
	LBName = "web-lb"
	TGName = "web-tg"
	// TGARN is the ARN of target group TGName.
	TGARN = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web-tg/0123456789abcdef"
)

// ServerName, ServerID and InstanceID are what lbsim knows the i-th host
// (from 0) by: Hetzner server app-N with ID 100+N, AWS instance i-<N in 16
// hex digits>.
func ServerName(i int) string { return fmt.Sprintf("app-%d", i+1) }

// ServerID is the Hetzner server ID of the i-th host.
func ServerID(i int) int64 { return int64(101 + i) }

// InstanceID is the AWS instance ID of the i-th host.
func InstanceID(i int) string { return fmt.Sprintf("i-%016x", i+1) }

// World says what a world's credentials and timing are. Checks run faster
// than the clouds allow, so that a test takes seconds.
type World struct {
	HetznerToken, AWSKeyID, AWSSecret string
	// CheckInterval and CheckTimeout are both kinds' health checks'.
	CheckInterval, CheckTimeout time.Duration
	// Retries is the Hetzner checks in a row that change a target's
	// health; AWS needs 2 either way unless Change says otherwise.
	Retries int
	// ActionDelay is how long a Hetzner action (add, remove) takes.
	ActionDelay time.Duration
	// DeregistrationDelay is the AWS target group's.
	DeregistrationDelay time.Duration
	// Change, if set, adjusts the config before lbsim starts.
	Change func(*sim.Config)
	// Healthy bounds the wait for every target to turn healthy; 10s if 0.
	Healthy time.Duration
}

// Config is w's lbsim config without targets (AddTargets adds them): one
// Hetzner load balancer LBName and one AWS target group TGName behind a
// listener, both sending to port and checking /healthz there.
func (w World) Config(port int) *sim.Config {
	delay := sim.Duration(w.DeregistrationDelay)
	return &sim.Config{
		Hetzner: sim.Hetzner{
			Token: w.HetznerToken, ActionDelay: sim.Duration(w.ActionDelay),
			LoadBalancers: []sim.LoadBalancer{{ID: 1, Name: LBName, Services: []sim.Service{{
				Protocol: "http", DestinationPort: port,
				HealthCheck: sim.HealthCheck{Protocol: "http", Port: port, Interval: sim.Duration(w.CheckInterval),
					Timeout: sim.Duration(w.CheckTimeout), Retries: w.Retries, HTTP: &sim.HealthCheckHTTP{Path: "/healthz"}},
			}}}},
		},
		AWS: sim.AWS{
			Region: Region, AccessKeyID: w.AWSKeyID, SecretAccessKey: w.AWSSecret,
			TargetGroups: []sim.TargetGroup{{
				ARN: TGARN, Name: TGName, Port: port, DeregistrationDelay: &delay,
				HealthCheck: sim.AWSHealthCheck{Path: "/healthz", Interval: sim.Duration(w.CheckInterval), Timeout: sim.Duration(w.CheckTimeout),
					HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200"},
			}},
			Listeners: []sim.Listener{{TargetGroup: TGName}},
		},
	}
}

// Running is a started world.
type Running struct {
	Sim       *sim.Sim
	Endpoints sim.Endpoints
	Hosts     []string
	Backends  []*Backend
	// Port is the backends' port.
	Port int
}

// Start starts a backend on each host and lbsim in front of them, waits
// until every target is healthy, and stops it all when the test ends.
func (w World) Start(t testing.TB, hosts []string) *Running {
	t.Helper()
	bs, port := Backends(t, hosts...)
	cfg := w.Config(port)
	AddTargets(cfg, hosts)
	if w.Change != nil {
		w.Change(cfg)
	}
	s := Start(t, cfg)
	healthy := w.Healthy
	if healthy == 0 {
		healthy = 10 * time.Second
	}
	WaitHealthy(t, s, healthy)
	return &Running{Sim: s, Endpoints: s.Endpoints(), Hosts: hosts, Backends: bs, Port: port}
}
