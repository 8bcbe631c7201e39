package sim_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

const (
	testToken  = "lbsim-test-token"
	testKeyID  = "AKIALBSIMEXAMPLE0001"
	testSecret = "lbsimTestSecret"
	testTGARN  = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web-tg/0123456789abcdef"
)

// world is a simulator in front of n fake backends, each host being both
// Hetzner server app-N (id 100+N) and instance i-000000000000000N.
type world struct {
	sim      *sim.Sim
	ep       sim.Endpoints
	backends []*simtest.Backend
	hosts    []string
	port     int
}

// fastConfig is a world with 200ms health checks, thresholds 2, a 1s
// deregistration delay and every host a target on both clouds.
func fastConfig(hosts []string, port int) *sim.Config {
	// Timeouts are generous so that a loaded machine (-race, 2 CPUs)
	// does not fail checks that only the test meant to pass.
	hc := sim.HealthCheck{
		Interval: sim.Duration(200 * time.Millisecond), Timeout: sim.Duration(time.Second),
		Retries: 2, HTTP: &sim.HealthCheckHTTP{Path: "/healthz"},
	}
	delay := sim.Duration(time.Second)
	cfg := &sim.Config{
		Hetzner: sim.Hetzner{
			Token:       testToken,
			ActionDelay: sim.Duration(200 * time.Millisecond),
			LoadBalancers: []sim.LoadBalancer{{
				ID: 1, Name: "web-lb",
				Services: []sim.Service{{ListenPort: 0, DestinationPort: port, HealthCheck: hc}},
			}},
		},
		AWS: sim.AWS{
			AccessKeyID: testKeyID, SecretAccessKey: testSecret,
			TargetGroups: []sim.TargetGroup{{
				ARN: testTGARN, Name: "web-tg", Port: port,
				HealthCheck: sim.AWSHealthCheck{
					Path: "/healthz", Interval: sim.Duration(200 * time.Millisecond), Timeout: sim.Duration(time.Second),
					HealthyThreshold: 2, UnhealthyThreshold: 2,
				},
				DeregistrationDelay: &delay,
			}},
			Listeners: []sim.Listener{{TargetGroup: "web-tg"}},
		},
	}
	for i, h := range hosts {
		id := int64(101 + i)
		cfg.Hetzner.Servers = append(cfg.Hetzner.Servers, sim.Server{ID: id, Name: fmt.Sprintf("app-%d", i+1), Address: h, Labels: map[string]string{"role": "web"}})
		cfg.Hetzner.LoadBalancers[0].Targets = append(cfg.Hetzner.LoadBalancers[0].Targets, sim.Target{Type: "server", Server: &sim.TargetServer{ID: id}})
		iid := instanceID(i)
		cfg.AWS.Instances = append(cfg.AWS.Instances, sim.Instance{ID: iid, Address: h})
		cfg.AWS.TargetGroups[0].Targets = append(cfg.AWS.TargetGroups[0].Targets, sim.AWSTarget{ID: iid})
	}
	return cfg
}

func instanceID(i int) string { return fmt.Sprintf("i-%016x", i+1) }

// newWorld starts n backends and a simulator; mutate may change the
// config first.
func newWorld(t *testing.T, n int, mutate func(*sim.Config)) *world {
	t.Helper()
	hosts := simtest.Hosts(n)
	bs, port := simtest.Backends(t, hosts...)
	cfg := fastConfig(hosts, port)
	if mutate != nil {
		mutate(cfg)
	}
	s := simtest.Start(t, cfg)
	return &world{sim: s, ep: s.Endpoints(), backends: bs, hosts: hosts, port: port}
}

// waitHealthy waits until every host is healthy on both clouds.
func (w *world) waitHealthy(t *testing.T) {
	t.Helper()
	simtest.Eventually(t, 5*time.Second, "all targets healthy", func() bool {
		st := w.sim.State()
		for i := range w.hosts {
			if st.HetznerHealth("web-lb", w.ep.Services[0].ListenPort, fmt.Sprintf("app-%d", i+1)) != "healthy" {
				return false
			}
			if tg := st.AWSTarget("web-tg", instanceID(i)); tg == nil || tg.State != "healthy" {
				return false
			}
		}
		return true
	})
}

func (w *world) hcloud() *hcloud.Client {
	return hcloud.NewClient(
		hcloud.WithEndpoint(w.ep.HetznerAPI),
		hcloud.WithToken(w.ep.HetznerToken),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(50 * time.Millisecond)}),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(10 * time.Millisecond), MaxRetries: 5}),
	)
}

func (w *world) elbv2(keyID, secret string) *elbv2.Client {
	cfg := aws.Config{
		Region:      w.ep.AWSRegion,
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
	}
	return elbv2.NewFromConfig(cfg, func(o *elbv2.Options) {
		o.BaseEndpoint = aws.String(w.ep.AWSAPI)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 10 * time.Millisecond, nil })
		})
	})
}

func (w *world) aws() *elbv2.Client { return w.elbv2(w.ep.AWSAccessKeyID, w.ep.AWSSecretAccessKey) }

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func itoa(i int) string { return strconv.Itoa(i) }
