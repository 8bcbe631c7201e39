// Package sim is lbsim: a local simulator of Hetzner Cloud load balancers
// and AWS ELBv2 target groups that carries real traffic.
//
// It serves the Hetzner Cloud API subset and the ELBv2 Query API subset that
// the real SDKs and CLIs use for target registration, per-host metadata
// services (Hetzner and IMDSv2), an HTTP reverse proxy per Hetzner service
// and per AWS listener that routes only to targets its active health checks
// find healthy, and an admin endpoint for state, counters and faults.
//
// Start one in-process:
//
//	cfg, _ := sim.Load("tests/lbsim/default.yml")
//	s, err := sim.Start(ctx, cfg)
//	defer s.Close()
//	ep := s.Endpoints() // hcloud.WithEndpoint(ep.HetznerAPI), BaseEndpoint = ep.AWSAPI
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Sim is a running simulator. Its methods are safe for concurrent use.
type Sim struct {
	cfg *Config
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // health checkers and timers

	// mu guards the model: hz, aws, apps and every member.
	mu     sync.Mutex
	closed bool
	hz     *hzModel
	aws    *awsModel
	apps   map[string]*app
	timers map[*timer]struct{}

	faultMu   sync.Mutex
	faults    Faults
	faultsSet time.Time

	countMu sync.Mutex
	counts  Counts

	hosts     map[string]string // server name/id, instance id, address → host address
	limiter   *bucket
	transport *http.Transport
	servers   []*http.Server
	endpoints Endpoints
	closeOnce sync.Once
}

// Option changes how Start runs the simulator.
type Option func(*Sim)

// WithLogger sends lbsim's log (state changes, actions) to l; the default
// discards it.
func WithLogger(l *slog.Logger) Option { return func(s *Sim) { s.log = l } }

// Start validates cfg (filling in defaults), binds every listener and
// starts the health checkers. It returns once everything accepts
// connections. The simulator stops when ctx ends or Close is called.
func Start(ctx context.Context, cfg *Config, opts ...Option) (*Sim, error) {
	if cfg == nil {
		return nil, errors.New("lbsim: nil config; use sim.Load or sim.Parse")
	}
	c := *cfg
	if err := c.normalize(); err != nil {
		return nil, err
	}
	s := &Sim{
		cfg:       &c,
		log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		faults:    c.Faults,
		faultsSet: time.Now(),
		counts:    newCounts(),
		hosts:     map[string]string{},
		transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	for _, o := range opts {
		o(s)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.limiter = newBucket(c.Hetzner.RateLimit.Limit, c.Hetzner.RateLimit.Window.D())
	s.indexHosts()

	if err := s.startAll(); err != nil {
		s.Close()
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.ctx.Done():
		}
	}()
	return s, nil
}

func (s *Sim) startAll() error {
	s.mu.Lock()
	s.hz = s.newHzModel()
	s.aws = s.newAWSModel()
	s.mu.Unlock()

	var err error
	if s.endpoints.HetznerAPI, err = s.serve(s.cfg.Listen.HetznerAPI, s.hetznerHandler(), "/v1"); err != nil {
		return fmt.Errorf("hetzner api: %w", err)
	}
	s.endpoints.HetznerToken = s.cfg.Hetzner.Token
	if s.endpoints.AWSAPI, err = s.serve(s.cfg.Listen.AWSAPI, s.awsHandler(), ""); err != nil {
		return fmt.Errorf("aws api: %w", err)
	}
	s.endpoints.AWSRegion = s.cfg.AWS.Region
	s.endpoints.AWSAccessKeyID = s.cfg.AWS.AccessKeyID
	s.endpoints.AWSSecretAccessKey = s.cfg.AWS.SecretAccessKey
	if s.endpoints.Admin, err = s.serve(s.cfg.Listen.Admin, s.adminHandler(), ""); err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	if err := s.startApps(); err != nil {
		return err
	}
	if err := s.startMetadata(); err != nil {
		return err
	}
	if err := s.startHetznerServices(); err != nil {
		return err
	}
	if err := s.startAWSListeners(); err != nil {
		return err
	}
	// Checkers start last so that the first check sees the apps up.
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, lb := range s.hz.lbs {
		s.hzSync(lb)
	}
	for _, tg := range s.aws.tgs {
		for _, t := range tg.cfg.Targets {
			s.awsRegister(tg, t.ID, tg.port(t.Port), t.AvailabilityZone)
		}
	}
	return nil
}

// serve listens on addr and serves h; it returns the base URL plus suffix.
func (s *Sim) serve(addr string, h http.Handler, suffix string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w (is the address in use? use port 0 for an ephemeral port)", addr, err)
	}
	s.serveListener(ln, h)
	return "http://" + ln.Addr().String() + suffix, nil
}

func (s *Sim) serveListener(ln net.Listener, h http.Handler) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
	}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
}

// Close stops everything: health checkers, timers, and all servers. In-flight
// proxied requests get up to 2 seconds to finish. Close is idempotent.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, srv := range s.servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if srv.Shutdown(ctx) != nil {
					_ = srv.Close()
				}
			}()
		}
		wg.Wait()
		s.cancel()
		s.mu.Lock()
		s.stopTimers()
		s.mu.Unlock()
		s.wg.Wait()
		s.transport.CloseIdleConnections()
	})
	return nil
}

// closeIdleConns closes the proxy's idle connections once a target leaves a
// load balancer, as a real one closes its connections to a target it no
// longer sends to. Otherwise a connection the proxy opened but never used
// keeps the target's graceful shutdown waiting (Go's http.Server waits up
// to 5 s on such a connection). http.Transport can only close every idle
// connection; the other targets pay one fresh dial each.
func (s *Sim) closeIdleConns() { s.transport.CloseIdleConnections() }

// Done is closed when the simulator has been told to stop.
func (s *Sim) Done() <-chan struct{} { return s.ctx.Done() }

// Config returns the normalized configuration the simulator runs with
// (defaults filled in; listen ports as configured, see Endpoints for the
// bound ones).
func (s *Sim) Config() Config { return *s.cfg }

// indexHosts maps every name a host goes by to its address.
func (s *Sim) indexHosts() {
	for _, sv := range s.cfg.Hetzner.Servers {
		s.hosts[sv.Address] = sv.Address
		s.hosts[sv.Name] = sv.Address
		s.hosts[strconv.FormatInt(sv.ID, 10)] = sv.Address
	}
	for _, in := range s.cfg.AWS.Instances {
		s.hosts[in.Address] = in.Address
		s.hosts[in.ID] = in.Address
	}
	for _, a := range s.cfg.Apps {
		if _, ok := s.hosts[a.Name]; !ok {
			s.hosts[a.Name] = a.Address
		}
	}
}

// hostOf resolves a host address, server name or id, or instance id to the
// host address; anything else is returned unchanged (e.g. an IP target).
func (s *Sim) hostOf(name string) string {
	if h, ok := s.hosts[name]; ok {
		return h
	}
	return name
}
