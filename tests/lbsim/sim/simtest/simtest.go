// Package simtest starts lbsim and fake backends inside Go tests, on
// loopback only, with ephemeral ports, and stops them at the test's end.
package simtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

// Start starts a simulator for cfg and closes it when the test ends.
func Start(t testing.TB, cfg *sim.Config) *sim.Sim {
	t.Helper()
	s, err := sim.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start lbsim: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// AddTargets puts each host behind every load balancer and target group in
// cfg: as Hetzner server ServerName(i) and, when cfg has target groups, as
// AWS instance InstanceID(i).
func AddTargets(cfg *sim.Config, hosts []string) {
	for i, h := range hosts {
		id := ServerID(i)
		cfg.Hetzner.Servers = append(cfg.Hetzner.Servers, sim.Server{ID: id, Name: ServerName(i), Address: h})
		for j := range cfg.Hetzner.LoadBalancers {
			lb := &cfg.Hetzner.LoadBalancers[j]
			lb.Targets = append(lb.Targets, sim.Target{Type: "server", Server: &sim.TargetServer{ID: id}})
		}
		if len(cfg.AWS.TargetGroups) == 0 {
			continue
		}
		iid := InstanceID(i)
		cfg.AWS.Instances = append(cfg.AWS.Instances, sim.Instance{ID: iid, Address: h})
		for j := range cfg.AWS.TargetGroups {
			tg := &cfg.AWS.TargetGroups[j]
			tg.Targets = append(tg.Targets, sim.AWSTarget{ID: iid})
		}
	}
}

// WaitHealthy waits until every member of every Hetzner service and every
// AWS target is healthy.
func WaitHealthy(t testing.TB, s *sim.Sim, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, "every target healthy", func() bool {
		st := s.State()
		for _, lb := range st.Hetzner.LoadBalancers {
			for _, svc := range lb.Services {
				for _, m := range svc.Members {
					if m.Health != "healthy" {
						return false
					}
				}
			}
		}
		for _, tg := range st.AWS.TargetGroups {
			for _, tt := range tg.Targets {
				if tt.State != "healthy" {
					return false
				}
			}
		}
		return true
	})
}

// Load is clients sending slow requests (GET /work?sleep=D) through a
// load balancer until Finish, counting every answer that is not a whole 200.
type Load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	ok, fail atomic.Int64
	mu       sync.Mutex
	errs     map[string]int // distinct failures and how often
}

// StartLoad starts clients sending requests that take sleep each to url.
func StartLoad(url string, clients int, sleep time.Duration) *Load {
	l := &Load{stop: make(chan struct{}), errs: map[string]int{}}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				code, body, err := Get(ctx, fmt.Sprintf("%s/work?sleep=%s", url, sleep))
				cancel()
				if err == nil && code == http.StatusOK {
					l.ok.Add(1)
					continue
				}
				l.fail.Add(1)
				l.mu.Lock()
				l.errs[fmt.Sprintf("%d %v %q", code, err, body)]++
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// Finish stops the clients, logs the counts and fails t if any request
// failed, listing each distinct failure.
func (l *Load) Finish(t testing.TB) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("traffic through the load balancer: %d ok, %d failed", l.ok.Load(), l.fail.Load())
	if l.fail.Load() > 0 {
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Errorf("%d of %d requests through the load balancer failed: %v", l.fail.Load(), l.fail.Load()+l.ok.Load(), l.errs)
	}
}

// Backend is a fake application on one host: GET /healthz answers 200 or,
// once SetHealthy(false), 503; any other path answers the backend's name,
// after ?sleep=DURATION if given, with the status ?status=NNN gives (200).
type Backend struct {
	Name    string
	Host    string
	Port    int
	healthy atomic.Bool
	hits    atomic.Int64
	// Completed counts non-health requests whose answer was fully written.
	completed atomic.Int64
	srv       *http.Server
}

// Healthy reports whether /healthz answers 200.
func (b *Backend) Healthy() bool { return b.healthy.Load() }

// SetHealthy switches /healthz between 200 and 503.
func (b *Backend) SetHealthy(ok bool) { b.healthy.Store(ok) }

// Hits is the number of non-health requests received.
func (b *Backend) Hits() int64 { return b.hits.Load() }

// Completed is the number of non-health requests answered in full.
func (b *Backend) Completed() int64 { return b.completed.Load() }

// Addr is host:port.
func (b *Backend) Addr() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }

func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		if !b.healthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	b.hits.Add(1)
	if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil && d > 0 {
		// Send the headers first, then hold the body, so the request is
		// visibly in flight at the load balancer.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if code, err := strconv.Atoi(r.URL.Query().Get("status")); err == nil && code >= 200 && code <= 599 {
		w.WriteHeader(code)
	}
	if _, err := io.WriteString(w, b.Name+"\n"); err == nil {
		b.completed.Add(1)
	}
}

// Backends starts one healthy backend per host, all on the same port
// (the load balancer's destination port), and returns them and the port.
func Backends(t testing.TB, hosts ...string) ([]*Backend, int) {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		bs, port, err := tryBackends(hosts)
		if err == nil {
			for _, b := range bs {
				t.Cleanup(func() { _ = b.srv.Close() })
			}
			return bs, port
		}
	}
	t.Fatalf("could not find a port free on all of %v", hosts)
	return nil, 0
}

func tryBackends(hosts []string) ([]*Backend, int, error) {
	var lns []net.Listener
	closeAll := func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}
	port := 0
	for _, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil {
			closeAll()
			return nil, 0, err
		}
		lns = append(lns, ln)
		port = ln.Addr().(*net.TCPAddr).Port
	}
	var bs []*Backend
	for i, ln := range lns {
		b := &Backend{Name: hosts[i], Host: hosts[i], Port: port}
		b.healthy.Store(true)
		b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = b.srv.Serve(ln) }()
		bs = append(bs, b)
	}
	return bs, port, nil
}

// hostSeq hands out loopback host addresses so that parallel tests in one
// process never share a metadata address.
var (
	hostMu  sync.Mutex
	hostSeq = 0
)

// Hosts returns n loopback addresses not handed out before in this
// process, from 127.1.0.0/16 upwards, so tests in one binary do not share
// hosts. Different test binaries may share them; every port is ephemeral.
func Hosts(n int) []string {
	hostMu.Lock()
	defer hostMu.Unlock()
	out := make([]string, n)
	for i := range out {
		hostSeq++
		out[i] = fmt.Sprintf("127.1.%d.%d", hostSeq/250, hostSeq%250+1)
	}
	return out
}

// Get fetches url and returns the status and body; a transport error is
// returned as err (e.g. a connection cut by the load balancer).
func Get(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, string(b), fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, string(b), nil
}

// Eventually polls cond every 50ms until it returns true or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %v", what, timeout)
	return 0
}

// ErrCut reports whether err looks like a connection closed by the load
// balancer mid-request.
func ErrCut(err error) bool {
	return err != nil && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isReset(err))
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}
