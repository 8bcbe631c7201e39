package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// A server target added with use_private_ip is checked and sent requests
// at the server's private IP; added without, at its public one. The
// world's app listens healthy on the private IP only (the public one
// fails its check), so health alone tells which address lbsim uses.
func TestHetznerPrivateIPTarget(t *testing.T) {
	t.Parallel()
	addrs := simtest.Hosts(2)
	bs, port := simtest.Backends(t, addrs...)
	public, private := bs[0], bs[1]
	public.SetHealthy(false)
	cfg := fastConfig(addrs[:1], port)
	lb := &cfg.Hetzner.LoadBalancers[0]
	lb.Network = &sim.PrivateNet{ID: 1, IP: "10.0.0.2"}
	lb.Targets = nil
	cfg.Hetzner.Servers[0].PrivateIP = private.Host
	cfg.Hetzner.Servers = append(cfg.Hetzner.Servers, sim.Server{ID: 109, Name: "no-net", Address: addrs[0]})
	s := simtest.Start(t, cfg)
	w := &world{sim: s, ep: s.Endpoints(), backends: bs, hosts: addrs, port: port}
	c := w.hcloud()
	ctx := ctxT(t, 20*time.Second)
	ref := &hcloud.LoadBalancer{ID: 1}
	svcPort := w.ep.Services[0].ListenPort

	add := func(private bool) {
		t.Helper()
		a, _, err := c.LoadBalancer.AddServerTarget(ctx, ref, hcloud.LoadBalancerAddServerTargetOpts{Server: &hcloud.Server{ID: 101}, UsePrivateIP: hcloud.Ptr(private)})
		if err == nil {
			err = c.Action.WaitFor(ctx, a)
		}
		if err != nil {
			t.Fatalf("add_target use_private_ip=%v: %v", private, err)
		}
	}
	member := func() sim.MemberState {
		for _, m := range s.State().Hetzner.LoadBalancers[0].Services[0].Members {
			if m.ServerID == 101 {
				return m
			}
		}
		return sim.MemberState{}
	}

	add(true)
	simtest.Eventually(t, 5*time.Second, "private-IP target healthy", func() bool {
		return s.State().HetznerHealth("web-lb", svcPort, "app-1") == "healthy"
	})
	if m := member(); m.Host != private.Host {
		t.Errorf("member host %q, want the private IP %s", m.Host, private.Host)
	}
	l, _, err := c.LoadBalancer.GetByID(ctx, 1)
	if err != nil || len(l.Targets) != 1 || !l.Targets[0].UsePrivateIP {
		t.Fatalf("targets = %+v, %v; want one with use_private_ip", l.Targets, err)
	}
	if st, _, _ := simtest.Get(ctx, w.ep.Services[0].URL+"/"); st != 200 || private.Hits() == 0 || public.Hits() != 0 {
		t.Errorf("request through the load balancer: status %d, private hits %d, public hits %d", st, private.Hits(), public.Hits())
	}

	a, _, err := c.LoadBalancer.RemoveServerTarget(ctx, ref, &hcloud.Server{ID: 101})
	if err == nil {
		err = c.Action.WaitFor(ctx, a)
	}
	if err != nil {
		t.Fatal(err)
	}
	add(false)
	simtest.Eventually(t, 5*time.Second, "public-IP target unhealthy", func() bool {
		return s.State().HetznerHealth("web-lb", svcPort, "app-1") == "unhealthy"
	})
	if m := member(); m.Host != public.Host {
		t.Errorf("member host %q, want the public IP %s", m.Host, public.Host)
	}

	_, _, err = c.LoadBalancer.AddServerTarget(ctx, ref, hcloud.LoadBalancerAddServerTargetOpts{Server: &hcloud.Server{ID: 109}, UsePrivateIP: hcloud.Ptr(true)})
	if !hcloud.IsError(err, "server_not_attached_to_network") {
		t.Errorf("use_private_ip for a server without a private network: %v, want server_not_attached_to_network", err)
	}
}

func TestConfigPrivateIPTargetNeedsPrivateIP(t *testing.T) {
	cfg := fastConfig([]string{"127.0.0.11"}, 8081)
	lb := &cfg.Hetzner.LoadBalancers[0]
	lb.Network = &sim.PrivateNet{ID: 1, IP: "10.0.0.2"}
	lb.Targets[0].UsePrivateIP = true
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "needs the server's private_ip to be set") {
		t.Errorf("Normalize = %v", err)
	}
}

// An ip target group keeps one target on two ports, each a registration
// of its own, with the availability zone it was registered with; an
// instance target group refuses a zone, as AWS does.
func TestAWSMultiPortAndZone(t *testing.T) {
	t.Parallel()
	addrs := simtest.Hosts(1)
	bs, port := simtest.Backends(t, addrs...)
	cfg := fastConfig(nil, port)
	tg := &cfg.AWS.TargetGroups[0]
	tg.TargetType = "ip"
	tg.Targets = []sim.AWSTarget{{ID: addrs[0], Port: port, AvailabilityZone: "eu-central-1b"}}
	s := simtest.Start(t, cfg)
	w := &world{sim: s, ep: s.Endpoints(), backends: bs, hosts: addrs, port: port}
	c := w.aws()
	ctx := ctxT(t, 20*time.Second)

	// The second port: the backend's port is the only one listening, so a
	// second registration on the same port number would be a no-op;
	// register on another port and see it listed beside the first.
	other := port + 1
	if other > 65535 {
		other = port - 1
	}
	_, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(testTGARN), Targets: []types.TargetDescription{
		{Id: aws.String(addrs[0]), Port: aws.Int32(int32(other)), AvailabilityZone: aws.String("all")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(testTGARN)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]string{}
	for _, d := range out.TargetHealthDescriptions {
		if aws.ToString(d.Target.Id) != addrs[0] {
			t.Errorf("unexpected target %s", aws.ToString(d.Target.Id))
		}
		got[aws.ToInt32(d.Target.Port)] = aws.ToString(d.Target.AvailabilityZone)
	}
	if len(got) != 2 || got[int32(port)] != "eu-central-1b" || got[int32(other)] != "all" {
		t.Errorf("registrations (port: zone) = %v, want %d: eu-central-1b and %d: all", got, port, other)
	}
	if tgs := s.State().AWS.TargetGroups[0].Targets; len(tgs) != 2 || tgs[0].AvailabilityZone != "eu-central-1b" {
		t.Errorf("state targets = %+v", tgs)
	}
	simtest.Eventually(t, 5*time.Second, "the listening port healthy", func() bool {
		return s.State().AWSTarget("web-tg", addrs[0]).State == "healthy"
	})

	for _, c := range []struct{ az, want string }{
		{"us-east-1a", "is not valid for region eu-central-1"},
		{"eu-central-1", "is not valid for region eu-central-1"},
	} {
		_, err = w.aws().RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(testTGARN), Targets: []types.TargetDescription{
			{Id: aws.String(addrs[0]), AvailabilityZone: aws.String(c.az)},
		}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("zone %q: %v, want %q", c.az, err, c.want)
		}
	}
}

func TestAWSInstanceTargetRefusesZone(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, nil)
	_, err := w.aws().RegisterTargets(ctxT(t, 10*time.Second), &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(testTGARN), Targets: []types.TargetDescription{
		{Id: aws.String(instanceID(0)), AvailabilityZone: aws.String("eu-central-1a")},
	}})
	if err == nil || !strings.Contains(err.Error(), "ValidationError") || !strings.Contains(err.Error(), "its target type is instance") {
		t.Errorf("RegisterTargets with a zone on an instance group: %v", err)
	}
}
