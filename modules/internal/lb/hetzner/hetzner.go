// Package hetzner takes targets in and out of Hetzner Cloud load balancers
// through hcloud-go. hcloud-go types stay inside; lb.Member and lb.Target
// are what leaves.
package hetzner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/lb"
)

var _ lb.Pool = (*Pool)(nil)
var _ lb.PoolInfo = (*Pool)(nil)

// Client talks to the Hetzner Cloud API.
type Client struct {
	api      *hcloud.Client
	endpoint string
	sleep    func(context.Context, time.Duration) error
}

type config struct {
	endpoint     string
	httpClient   *http.Client
	pollBackoff  hcloud.BackoffFunc
	retryBackoff hcloud.BackoffFunc
	sleep        func(context.Context, time.Duration) error
}

// Option configures a Client.
type Option func(*config)

// WithEndpoint sets the API endpoint, including /v1.
func WithEndpoint(u string) Option { return func(c *config) { c.endpoint = u } }

// WithHTTPClient sets the HTTP client; its transport is wrapped by the rate
// limiter.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithPollBackoff sets how action polls are spaced.
func WithPollBackoff(f hcloud.BackoffFunc) Option { return func(c *config) { c.pollBackoff = f } }

// WithRetryBackoff sets how hcloud-go spaces retries of conflict and 502/504.
func WithRetryBackoff(f hcloud.BackoffFunc) Option { return func(c *config) { c.retryBackoff = f } }

// WithSleep replaces the sleeps of rate limiting and lock retries (tests).
func WithSleep(f func(context.Context, time.Duration) error) Option {
	return func(c *config) { c.sleep = f }
}

// Version is sent in the User-Agent.
var Version = "0.1.0"

// New returns a client for token.
func New(token string, opts ...Option) *Client {
	cfg := config{
		endpoint: hcloud.Endpoint,
		// Target actions usually finish within a second or two: polls at
		// 0.2, 0.5, 0.95, 1.6 s, then every second see the end within a few
		// hundred ms (doubling up to 2 s overshot a 0.7 s action by 0.7 s),
		// at no more than one request a second per waiting task.
		pollBackoff: hcloud.ExponentialBackoffWithOpts(hcloud.ExponentialBackoffOpts{
			Base: 200 * time.Millisecond, Multiplier: 1.5, Cap: time.Second,
		}),
		retryBackoff: hcloud.ExponentialBackoffWithOpts(hcloud.ExponentialBackoffOpts{
			Base: 500 * time.Millisecond, Multiplier: 2, Cap: 5 * time.Second, Jitter: true,
		}),
		sleep: sleepCtx,
	}
	for _, o := range opts {
		o(&cfg)
	}
	hc := &http.Client{}
	if cfg.httpClient != nil {
		*hc = *cfg.httpClient
	}
	hc.Transport = newRateLimitTransport(hc.Transport, cfg.sleep)
	api := hcloud.NewClient(
		hcloud.WithToken(token),
		hcloud.WithEndpoint(cfg.endpoint),
		hcloud.WithHTTPClient(hc),
		hcloud.WithApplication("zerodowntime.rolling", Version),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: cfg.pollBackoff}),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: cfg.retryBackoff, MaxRetries: 5}),
	)
	return &Client{api: api, endpoint: cfg.endpoint, sleep: cfg.sleep}
}

// LoadBalancer looks up a load balancer by id or name.
func (c *Client) LoadBalancer(ctx context.Context, ref string) (*Pool, error) {
	res := "load_balancer " + ref
	l, _, err := c.api.LoadBalancer.Get(ctx, ref)
	if err != nil {
		return nil, c.classify(err, res, "looking up load balancer "+ref)
	}
	if l == nil {
		return nil, failure.Errorf(lb.Hetzner, failure.NotFound, res, nil,
			"load balancer %q not found in the project of this api_token: check load_balancer (a name or id) and that the token belongs to the right project", ref)
	}
	return &Pool{c: c, id: l.ID, name: l.Name, looked: l}, nil
}

// Server resolves a server target given by name or id.
func (c *Client) Server(ctx context.Context, ref string) (lb.Target, error) {
	res := "server " + ref
	s, _, err := c.api.Server.Get(ctx, ref)
	if err != nil {
		return lb.Target{}, c.classify(err, res, "looking up server "+ref)
	}
	if s == nil {
		return lb.Target{}, failure.Errorf(lb.Hetzner, failure.TargetUnknown, res, nil,
			"target server %q not found in the project of this api_token: give a server name or id, or target_type: ip for an IP target", ref)
	}
	return lb.Target{Type: lb.TypeServer, ID: strconv.FormatInt(s.ID, 10), Name: s.Name}, nil
}

// Pool is one Hetzner load balancer.
type Pool struct {
	c    *Client
	id   int64
	name string

	mu sync.Mutex
	// looked is the load balancer as the lookup returned it: by name or by
	// id, the API answers with the targets and their health. The first
	// Members call uses it instead of asking again a moment later; every
	// later call (the waits) reads the current state.
	looked *hcloud.LoadBalancer
	// checks are the services' health checks by listen port, as the last
	// Members call read them (CheckTiming).
	checks map[int]lb.CheckTiming
}

// Name implements lb.Pool.
func (p *Pool) Name() string { return p.name }

// Kind implements lb.PoolInfo.
func (p *Pool) Kind() string { return "load_balancer" }

// ID implements lb.PoolInfo.
func (p *Pool) ID() string { return strconv.FormatInt(p.id, 10) }

func (p *Pool) resource() string { return "load_balancer " + p.name }

// Members implements lb.Pool: direct targets and the servers a label
// selector matched, with health per service listen port. The first call
// answers from the lookup; later calls read the load balancer.
func (p *Pool) Members(ctx context.Context) ([]lb.Member, error) {
	p.mu.Lock()
	l := p.looked
	p.looked = nil
	p.mu.Unlock()
	if l == nil {
		var err error
		l, _, err = p.c.api.LoadBalancer.GetByID(ctx, p.id)
		if err != nil {
			return nil, p.c.classify(err, p.resource(), "reading load balancer "+p.name)
		}
		if l == nil {
			return nil, failure.Errorf(lb.Hetzner, failure.NotFound, p.resource(), nil,
				"load balancer %s (%d) disappeared while the module ran", p.name, p.id)
		}
	}
	p.mu.Lock()
	p.checks = checkTimings(l.Services)
	p.mu.Unlock()
	var out []lb.Member
	for _, t := range l.Targets {
		switch t.Type {
		case hcloud.LoadBalancerTargetTypeServer:
			if t.Server != nil && t.Server.Server != nil {
				m := member(lb.TypeServer, strconv.FormatInt(t.Server.Server.ID, 10), "", t.HealthStatus)
				m.Opts.UsePrivateIP = t.UsePrivateIP
				out = append(out, m)
			}
		case hcloud.LoadBalancerTargetTypeIP:
			if t.IP != nil {
				out = append(out, member(lb.TypeIP, t.IP.IP, "", t.HealthStatus))
			}
		case hcloud.LoadBalancerTargetTypeLabelSelector:
			sel := ""
			if t.LabelSelector != nil {
				sel = t.LabelSelector.Selector
			}
			for _, c := range t.Targets {
				if c.Server != nil && c.Server.Server != nil {
					out = append(out, member(lb.TypeServer, strconv.FormatInt(c.Server.Server.ID, 10),
						fmt.Sprintf("label_selector %q", sel), c.HealthStatus))
				}
			}
		}
	}
	return out, nil
}

func member(typ, id, via string, hs []hcloud.LoadBalancerTargetHealthStatus) lb.Member {
	m := lb.Member{Target: lb.Target{Type: typ, ID: id}, Via: via}
	for _, h := range hs {
		ph := lb.PortHealth{Port: h.ListenPort, State: lb.Health(h.Status)}
		if h.Detail != nil {
			ph.Reason = string(*h.Detail)
		}
		if h.HTTPStatusCode != nil {
			ph.Description = fmt.Sprintf("HTTP %d", *h.HTTPStatusCode)
		}
		m.Health = append(m.Health, ph)
	}
	return m
}

// Register implements lb.Pool: add_target, then wait for the action.
func (p *Pool) Register(ctx context.Context, t lb.Target, opts lb.RegisterOpts) error {
	ref := &hcloud.LoadBalancer{ID: p.id}
	err := p.action(ctx, "add_target", t, func() (*hcloud.Action, *hcloud.Response, error) {
		switch t.Type {
		case lb.TypeIP:
			return p.c.api.LoadBalancer.AddIPTarget(ctx, ref, hcloud.LoadBalancerAddIPTargetOpts{IP: net.ParseIP(t.ID)})
		default:
			id, err := strconv.ParseInt(t.ID, 10, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("server id %q is not a number", t.ID)
			}
			return p.c.api.LoadBalancer.AddServerTarget(ctx, ref, hcloud.LoadBalancerAddServerTargetOpts{
				Server: &hcloud.Server{ID: id}, UsePrivateIP: hcloud.Ptr(opts.UsePrivateIP),
			})
		}
	})
	if hcloud.IsError(err, hcloud.ErrorCodeTargetAlreadyDefined) {
		return nil // added meanwhile; the health wait follows
	}
	return err
}

// Deregister implements lb.Pool: remove_target, then wait for the action.
func (p *Pool) Deregister(ctx context.Context, t lb.Target) error {
	ref := &hcloud.LoadBalancer{ID: p.id}
	return p.action(ctx, "remove_target", t, func() (*hcloud.Action, *hcloud.Response, error) {
		switch t.Type {
		case lb.TypeIP:
			return p.c.api.LoadBalancer.RemoveIPTarget(ctx, ref, net.ParseIP(t.ID))
		default:
			id, err := strconv.ParseInt(t.ID, 10, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("server id %q is not a number", t.ID)
			}
			return p.c.api.LoadBalancer.RemoveServerTarget(ctx, ref, &hcloud.Server{ID: id})
		}
	})
}

// errorCodeUnavailable is the code of a 503 from the API; hcloud-go has no
// constant for it.
const errorCodeUnavailable hcloud.ErrorCode = "unavailable"

// action runs a target action, retrying while the load balancer is locked
// by another action (hcloud-go does not retry "locked") and a few times
// after 500 server_error or 503 unavailable, and waits for it.
//
// Repeating a target action is safe: a repeated add_target answers
// target_already_defined (Register accepts it), and a remove_target whose
// target is already gone (an earlier try went through, or another run
// removed it, e.g. a killed playbook's module whose action was still
// running) answers not_found, which counts as done; the drain's wait
// checks the target is gone.
func (p *Pool) action(ctx context.Context, cmd string, t lb.Target, call func() (*hcloud.Action, *hcloud.Response, error)) error {
	delay := 250 * time.Millisecond
	serverRetries := 0
	for {
		a, _, err := call()
		if hcloud.IsError(err, hcloud.ErrorCodeLocked) {
			if serr := p.c.sleep(ctx, delay); serr != nil {
				return failure.Errorf(lb.Hetzner, failure.Timeout, p.resource(), err,
					"load balancer %s stayed locked by other actions until the timeout; %s of %s was not done: retry later or raise timeout", p.name, cmd, t)
			}
			delay = min(delay*2, 4*time.Second)
			continue
		}
		if hcloud.IsError(err, hcloud.ErrorCodeServerError, errorCodeUnavailable) && serverRetries < maxServerRetries {
			if serr := p.c.sleep(ctx, serverBackoff(serverRetries)); serr == nil {
				serverRetries++
				continue
			}
		}
		if cmd == "remove_target" && hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
			return nil
		}
		if hcloud.IsError(err, hcloud.ErrorCodeTargetAlreadyDefined) {
			return err
		}
		if err != nil {
			return p.c.classify(err, p.resource(), fmt.Sprintf("%s of %s on load balancer %s", cmd, t, p.name))
		}
		if err := p.c.api.Action.WaitFor(ctx, a); err != nil {
			var ae hcloud.ActionError
			if errors.As(err, &ae) {
				return failure.Errorf(lb.Hetzner, ae.Code, p.resource(), err,
					"action %s of %s on load balancer %s failed: %s (%s)", cmd, t, p.name, ae.Message, ae.Code)
			}
			return p.c.classify(err, p.resource(), fmt.Sprintf("waiting for action %d (%s of %s on load balancer %s)", a.ID, cmd, t, p.name))
		}
		return nil
	}
}

// classify words an API error for the user.
func (c *Client) classify(err error, resource, doing string) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	var he hcloud.Error
	if !errors.As(err, &he) {
		if strings.Contains(err.Error(), "invalid characters") {
			return failure.Errorf(lb.Hetzner, failure.Unauthorized, resource, err,
				"api_token contains characters that cannot be sent in an HTTP header: check for a trailing newline or quotes")
		}
		// Transport errors stay unclassified: waits retry them.
		return fmt.Errorf("%s: cannot reach the Hetzner Cloud API at %s: %w", doing, c.endpoint, err)
	}
	code := string(he.Code)
	switch he.Code {
	case hcloud.ErrorCodeUnauthorized:
		return failure.Errorf(lb.Hetzner, failure.Unauthorized, resource, err,
			"the Hetzner Cloud API rejected api_token while %s (unauthorized): check api_token / HCLOUD_TOKEN; tokens are per project", doing)
	case hcloud.ErrorCodeForbidden:
		return failure.Errorf(lb.Hetzner, code, resource, err,
			"api_token may not do this (forbidden) while %s: add and remove targets need a Read & Write token", doing)
	case hcloud.ErrorCodeNotFound:
		return failure.Errorf(lb.Hetzner, failure.NotFound, resource, err, "%s: not found (%s)", doing, he.Message)
	case hcloud.ErrorCodeRateLimitExceeded:
		return failure.Errorf(lb.Hetzner, failure.Throttled, resource, err,
			"the Hetzner Cloud API rate limit stayed exhausted until the timeout while %s: the project's budget (3600 requests an hour by default) is shared by every client; raise timeout, drain fewer hosts at once, or find the other heavy user", doing)
	}
	return failure.Errorf(lb.Hetzner, code, resource, err, "Hetzner Cloud API error while %s: %s (%s)", doing, he.Message, code)
}
