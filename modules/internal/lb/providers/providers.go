// Package providers opens the lb.Provider named by the provider option.
package providers

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/awselb"
	"github.com/zerodowntime/rolling/modules/internal/lb/hetzner"
	"github.com/zerodowntime/rolling/modules/internal/parallel"
	"github.com/zerodowntime/rolling/modules/internal/watch"
)

// The option rules of each provider Open knows, for lb's option checks.
func init() {
	lb.RegisterOptionRules(lb.Hetzner, hetzner.OptionRules{})
	lb.RegisterOptionRules(lb.AWS, awselb.OptionRules{})
}

// Open is an lb.Opener for provider hetzner and aws.
var Open = New(Options{})

// Options are test hooks of the providers.
type Options struct {
	Hetzner    []hetzner.Option
	AWSBackoff retry.BackoffDelayer
}

// New returns an lb.Opener with the given options.
func New(o Options) lb.Opener {
	return func(ctx context.Context, m *ansible.Module, a lb.Args, env lb.Env) (lb.Provider, error) {
		return open(ctx, m, a, env, o)
	}
}

func open(ctx context.Context, m *ansible.Module, a lb.Args, env lb.Env, o Options) (lb.Provider, error) {
	switch a.Provider {
	case lb.Hetzner:
		var opts []hetzner.Option
		if a.Endpoint != "" {
			opts = append(opts, hetzner.WithEndpoint(a.Endpoint))
		}
		opts = append(opts, hetzner.WithHTTPClient(env.HTTP))
		opts = append(opts, o.Hetzner...)
		return &hetznerProvider{c: hetzner.New(a.APIToken, opts...), a: a}, nil
	case lb.AWS:
		cfg, creds, err := awselb.LoadConfig(ctx, awselb.ConfigOpts{
			Region: a.Region, Profile: a.Profile,
			HTTPClient: func(tr *http.Transport) *http.Client { return lb.WrapTransport(tr, env.Insecure, env.Total) },
			AccessKey:  a.AccessKey, SecretKey: a.SecretKey, SessionToken: a.SessionToken,
			MetadataURL: a.MetadataURL, Backoff: o.AWSBackoff,
		})
		// Credentials from the environment or a profile are secrets too.
		m.AddSecret(creds.AccessKeyID)
		m.AddSecret(creds.SecretAccessKey)
		m.AddSecret(creds.SessionToken)
		if err != nil {
			return nil, err
		}
		if cfg.Region == "" && a.Target == lb.Auto {
			if r, err := lb.AWSRegion(ctx, a.MetadataURL); err == nil {
				cfg.Region = r
			}
		}
		if cfg.Region == "" {
			return nil, failure.Errorf(lb.AWS, "region", "", nil, "no AWS region: set region, or AWS_REGION / AWS_DEFAULT_REGION, or a region in the profile")
		}
		return &awsProvider{c: awselb.New(cfg, awselb.WithEndpoint(a.EndpointURL)), cfg: cfg, a: a}, nil
	}
	return nil, fmt.Errorf("unknown provider %q", a.Provider)
}

type hetznerProvider struct {
	c *hetzner.Client
	a lb.Args
}

var _ lb.PoolRefs = (*hetznerProvider)(nil)

func (p *hetznerProvider) Name() string            { return lb.Hetzner }
func (p *hetznerProvider) API() string             { return hetzner.APIName }
func (p *hetznerProvider) Interval() time.Duration { return hetzner.DefaultInterval }

// Resolve asks the metadata service for target: auto, and looks a server
// up by name or id.
func (p *hetznerProvider) Resolve(ctx context.Context, t lb.Target) (lb.Target, error) {
	if t.ID == lb.Auto {
		id, err := lb.HetznerServerID(ctx, p.a.MetadataURL)
		if err != nil {
			return t, err
		}
		t.ID = id
	}
	if t.Type == lb.TypeIP {
		return t, nil
	}
	return p.c.Server(ctx, t.ID)
}

// PoolRefs names the load balancers as the options do: the lookup reads
// their targets, so a drain locks them before it.
func (p *hetznerProvider) PoolRefs() []string {
	refs := make([]string, len(p.a.LoadBalancers))
	for i, ref := range p.a.LoadBalancers {
		refs[i] = p.c.LoadBalancerRef(ref)
	}
	return refs
}

// Pools looks up the load balancers at once, and returns them in the order
// given (the first error in that order).
func (p *hetznerProvider) Pools(ctx context.Context) ([]lb.Pool, error) {
	pools := make([]lb.Pool, len(p.a.LoadBalancers))
	err := parallel.FirstError(parallel.Run(len(pools), func(i int) (err error) {
		pools[i], err = p.c.LoadBalancer(ctx, p.a.LoadBalancers[i])
		return err
	}))
	if err != nil {
		return nil, err
	}
	return pools, nil
}

type awsProvider struct {
	c      *awselb.Client
	cfg    aws.Config
	a      lb.Args
	groups []*awselb.Pool // as Pools found them
}

var _ lb.AlarmWatcher = (*awsProvider)(nil)

// AlarmSignal reads the alarms through CloudWatch with the ELBv2 client's
// config and endpoint_url.
func (p *awsProvider) AlarmSignal(names []string) watch.Signal {
	return lb.Judged(awselb.NewAlarms(p.cfg, p.a.EndpointURL, names))
}

func (p *awsProvider) Name() string            { return lb.AWS }
func (p *awsProvider) API() string             { return awselb.APIName }
func (p *awsProvider) Interval() time.Duration { return awselb.DefaultInterval }

// Resolve types the target as the groups take it (ip when one group is of
// type ip, or the target is an address), and asks the metadata service for
// target: auto.
func (p *awsProvider) Resolve(ctx context.Context, t lb.Target) (lb.Target, error) {
	t.Type = lb.TypeInstance
	if _, err := netip.ParseAddr(t.ID); err == nil || slices.ContainsFunc(p.groups, func(g *awselb.Pool) bool { return g.TargetType() == lb.TypeIP }) {
		t.Type = lb.TypeIP
	}
	if t.ID != lb.Auto {
		return t, nil
	}
	path := "instance-id"
	if t.Type == lb.TypeIP {
		path = "local-ipv4"
	}
	id, err := lb.AWSMetadata(ctx, p.a.MetadataURL, path)
	if err != nil {
		return t, err
	}
	t.ID = id
	return t, nil
}

func (p *awsProvider) Pools(ctx context.Context) ([]lb.Pool, error) {
	groups, err := p.c.TargetGroups(ctx, p.a.TargetGroupARNs, p.a.TargetGroupNames)
	if err != nil {
		return nil, err
	}
	p.groups = groups
	out := make([]lb.Pool, len(groups))
	for i, g := range groups {
		out[i] = g
	}
	return out, nil
}
