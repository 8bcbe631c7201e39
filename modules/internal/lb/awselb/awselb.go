// Package awselb takes targets in and out of AWS ELBv2 target groups through
// aws-sdk-go-v2. SDK types stay inside; lb.Member and lb.Target leave.
package awselb

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/lb"
)

var (
	_ lb.Pool          = (*Pool)(nil)
	_ lb.PoolInfo      = (*Pool)(nil)
	_ lb.DrainTimer    = (*Pool)(nil)
	_ lb.TargetChecker = (*Pool)(nil)
	_ lb.TargetTyper   = (*Pool)(nil)
)

// API is the part of the ELBv2 client the pools use.
type API interface {
	DescribeTargetGroups(context.Context, *elbv2.DescribeTargetGroupsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	DescribeTargetGroupAttributes(context.Context, *elbv2.DescribeTargetGroupAttributesInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error)
	DescribeTargetHealth(context.Context, *elbv2.DescribeTargetHealthInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
	RegisterTargets(context.Context, *elbv2.RegisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
	DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
}

// ConfigOpts select credentials and transport for LoadConfig.
type ConfigOpts struct {
	Region       string
	Profile      string
	AccessKey    string
	SecretKey    string
	SessionToken string
	// HTTPClient wraps the SDK's transport (which carries AWS_CA_BUNDLE or
	// the profile's ca_bundle) into the client the API calls use.
	HTTPClient func(*http.Transport) *http.Client
	// MetadataURL points the SDK's instance-role credentials at another
	// metadata service.
	MetadataURL string
	// Backoff replaces the retry backoff (tests).
	Backoff retry.BackoffDelayer
}

// MaxAttempts bounds retries of throttling and 5xx answers per call; the
// module's timeout bounds them too.
const MaxAttempts = 8

// LoadConfig resolves region and credentials through the SDK's standard
// chain (environment, shared profile, instance role), or the explicit keys.
// It returns the retrieved credentials so that the caller can keep them out
// of results.
func LoadConfig(ctx context.Context, o ConfigOpts) (aws.Config, aws.Credentials, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = MaxAttempts
				so.MaxBackoff = 5 * time.Second
				// The module's timeout is the budget, not a token bucket.
				so.RateLimiter = ratelimit.None
				if o.Backoff != nil {
					so.Backoff = o.Backoff
				}
				// The SDK retries every connection error, an untrusted
				// certificate too, until the module's timeout: that one
				// will not heal, so fail at once and say why.
				so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					if IsCertificateError(err) {
						return aws.FalseTernary
					}
					return aws.UnknownTernary
				})}, so.Retryables...)
			})
		}),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, o.SessionToken)))
	}
	if o.MetadataURL != "" {
		opts = append(opts, config.WithEC2IMDSEndpoint(o.MetadataURL))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if o.Profile != "" {
			return cfg, aws.Credentials{}, failure.Errorf(lb.AWS, "profile", "profile "+o.Profile, err,
				"cannot load AWS profile %q: %v; check ~/.aws/config and ~/.aws/credentials, or give access_key and secret_key", o.Profile, err)
		}
		return cfg, aws.Credentials{}, failure.Errorf(lb.AWS, "config", "", err, "cannot load the AWS configuration: %v", err)
	}
	if o.HTTPClient != nil {
		tr := lb.NewTransport()
		if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
			tr = bc.GetTransport()
		}
		cfg.HTTPClient = o.HTTPClient(tr)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return cfg, creds, failure.Errorf(lb.AWS, failure.Unauthorized, "credentials", err,
			"no usable AWS credentials: give access_key and secret_key, a profile, the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment variables, or run on an instance with a role (%v)", firstLine(err))
	}
	return cfg, creds, nil
}

// Client works on target groups.
type Client struct {
	api      API
	region   string
	endpoint string // WithEndpoint's, if any
}

// Option configures a Client.
type Option func(*elbv2.Options)

// WithEndpoint sets the ELBv2 endpoint (lbsim or another compatible one).
func WithEndpoint(u string) Option {
	return func(o *elbv2.Options) {
		if u != "" {
			o.BaseEndpoint = aws.String(u)
		}
	}
}

// New returns a client from an SDK config.
func New(cfg aws.Config, opts ...Option) *Client {
	fns := make([]func(*elbv2.Options), len(opts))
	var seen elbv2.Options
	for i, o := range opts {
		fns[i] = o
		o(&seen)
	}
	return &Client{api: elbv2.NewFromConfig(cfg, fns...), region: cfg.Region, endpoint: aws.ToString(seen.BaseEndpoint)}
}

// NewWithAPI returns a client over any implementation of API.
func NewWithAPI(api API, region string) *Client { return &Client{api: api, region: region} }

// TargetGroups looks up the groups named by ARN or name, in the order given.
func (c *Client) TargetGroups(ctx context.Context, arns, names []string) ([]*Pool, error) {
	in := &elbv2.DescribeTargetGroupsInput{}
	what, asked := "target_group_arns", arns
	if len(names) > 0 {
		in.Names, what, asked = names, "target_group_names", names
	} else {
		in.TargetGroupArns = arns
	}
	var groups []types.TargetGroup
	p := elbv2.NewDescribeTargetGroupsPaginator(c.api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			if apiCode(err) == "TargetGroupNotFound" || apiCode(err) == "ValidationError" {
				return nil, c.missingGroups(ctx, err, what, asked, len(names) > 0)
			}
			return nil, c.classify(err, "target_group "+strings.Join(asked, ","), "looking up "+what)
		}
		groups = append(groups, out.TargetGroups...)
	}
	byKey := map[string]types.TargetGroup{}
	for _, g := range groups {
		byKey[aws.ToString(g.TargetGroupArn)] = g
		byKey[aws.ToString(g.TargetGroupName)] = g
	}
	var pools []*Pool
	var missing []string
	for _, k := range asked {
		g, ok := byKey[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		pools = append(pools, &Pool{c: c, arn: aws.ToString(g.TargetGroupArn), name: aws.ToString(g.TargetGroupName),
			targetType: string(g.TargetType), port: int(aws.ToInt32(g.Port))})
	}
	if len(missing) > 0 {
		return nil, notFound(c.region, what, missing, nil)
	}
	return pools, nil
}

// missingGroups finds which of several groups is missing, so the error can
// name it; AWS only says "one or more".
func (c *Client) missingGroups(ctx context.Context, err error, what string, asked []string, byName bool) error {
	if len(asked) == 1 {
		return notFound(c.region, what, asked, err)
	}
	var missing []string
	for _, k := range asked {
		in := &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{k}}
		if byName {
			in = &elbv2.DescribeTargetGroupsInput{Names: []string{k}}
		}
		if _, e := c.api.DescribeTargetGroups(ctx, in); e != nil {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		missing = asked
	}
	return notFound(c.region, what, missing, err)
}

func notFound(region, what string, missing []string, err error) error {
	return failure.Errorf(lb.AWS, failure.NotFound, "target_group "+strings.Join(missing, ","), err,
		"target group %s not found in region %s (from %s): check the name or ARN, region, and the account of the credentials",
		strings.Join(quoteAll(missing), ", "), region, what)
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

// Pool is one target group.
type Pool struct {
	c          *Client
	arn, name  string
	targetType string
	port       int

	mu    sync.Mutex
	delay *int
}

// Name implements lb.Pool.
func (p *Pool) Name() string { return p.name }

// Kind implements lb.PoolInfo.
func (p *Pool) Kind() string { return "target_group" }

// ID implements lb.PoolInfo.
func (p *Pool) ID() string { return p.arn }

// TargetType implements lb.TargetTyper: "ip" or "instance".
func (p *Pool) TargetType() string {
	if p.targetType == string(types.TargetTypeEnumIp) {
		return lb.TypeIP
	}
	return lb.TypeInstance
}

func (p *Pool) resource() string { return "target_group " + p.name }

// Members implements lb.Pool: DescribeTargetHealth without Targets lists
// the registered (and draining) targets only.
func (p *Pool) Members(ctx context.Context) ([]lb.Member, error) {
	out, err := p.c.api.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(p.arn)})
	if err != nil {
		return nil, p.c.classify(err, p.resource(), "reading the health of target group "+p.name)
	}
	ms := make([]lb.Member, 0, len(out.TargetHealthDescriptions))
	for _, d := range out.TargetHealthDescriptions {
		ms = append(ms, p.member(d))
	}
	return ms, nil
}

func (p *Pool) member(d types.TargetHealthDescription) lb.Member {
	var m lb.Member
	if d.Target != nil {
		m.Target = lb.Target{Type: p.TargetType(), ID: aws.ToString(d.Target.Id), Port: int(aws.ToInt32(d.Target.Port))}
		m.Opts.AvailabilityZone = aws.ToString(d.Target.AvailabilityZone)
	}
	if m.Target.Port == 0 {
		m.Target.Port = p.port
	}
	ph := lb.PortHealth{Port: m.Target.Port, State: lb.StateUnknown}
	if h := d.TargetHealth; h != nil {
		ph.State, ph.Reason, ph.Description = lb.Health(h.State), string(h.Reason), aws.ToString(h.Description)
	}
	m.Health = []lb.PortHealth{ph}
	return m
}

func (p *Pool) desc(t lb.Target) []types.TargetDescription {
	d := types.TargetDescription{Id: aws.String(t.ID)}
	if t.Port != 0 {
		d.Port = aws.Int32(int32(t.Port))
	}
	return []types.TargetDescription{d}
}

// Register implements lb.Pool, in the availability zone opts give (an ip
// target's; AWS takes none for an instance).
func (p *Pool) Register(ctx context.Context, t lb.Target, opts lb.RegisterOpts) error {
	d := p.desc(t)
	if opts.AvailabilityZone != "" {
		d[0].AvailabilityZone = aws.String(opts.AvailabilityZone)
	}
	_, err := p.c.api.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(p.arn), Targets: d})
	if err != nil {
		return p.c.targetError(err, p, t, "registering")
	}
	return nil
}

// Deregister implements lb.Pool.
func (p *Pool) Deregister(ctx context.Context, t lb.Target) error {
	_, err := p.c.api.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(p.arn), Targets: p.desc(t)})
	if err != nil {
		return p.c.targetError(err, p, t, "deregistering")
	}
	return nil
}

// CheckTarget implements lb.TargetChecker: naming the target makes AWS
// answer InvalidTarget for an unknown one, unused for one not registered.
func (p *Pool) CheckTarget(ctx context.Context, t lb.Target) error {
	_, err := p.c.api.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(p.arn), Targets: p.desc(t)})
	if err != nil {
		return p.c.targetError(err, p, t, "checking")
	}
	return nil
}

// DrainDelay implements lb.DrainTimer: deregistration_delay.timeout_seconds.
func (p *Pool) DrainDelay(ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.delay != nil {
		return *p.delay, nil
	}
	out, err := p.c.api.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(p.arn)})
	if err != nil {
		return 0, p.c.classify(err, p.resource(), "reading the attributes of target group "+p.name)
	}
	d := 300 // the AWS default
	for _, a := range out.Attributes {
		if aws.ToString(a.Key) == "deregistration_delay.timeout_seconds" {
			if v, err := strconv.Atoi(aws.ToString(a.Value)); err == nil {
				d = v
			}
		}
	}
	p.delay = &d
	return d, nil
}
