package sim

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// probe is one health check definition, bound to a host.
type probe struct {
	tcp       bool
	host      string // host address, for health faults
	addr      string // host:port
	path      string
	hostHdr   string // Host header; empty = addr
	userAgent string
	timeout   time.Duration
	pass      codeMatcher
	body      string // substring the body must contain ("" = any)
}

// probeKind classifies a health check result.
type probeKind string

const (
	probeOK        probeKind = "ok"
	probeRefused   probeKind = "refused"    // connection failed
	probeL4Timeout probeKind = "l4_timeout" // connect timed out
	probeL7Timeout probeKind = "l7_timeout" // no answer in time
	probeStatus    probeKind = "status"     // status code did not match
	probeContent   probeKind = "content"    // body lacked the expected text
)

type probeResult struct {
	kind probeKind
	code int // HTTP status, when one was read
}

func (r probeResult) ok() bool { return r.kind == probeOK }

// check runs one health check, then applies any health fault of the host:
// "fail" looks like an answer with status 503.
func (s *Sim) check(ctx context.Context, p probe) probeResult {
	r := runProbe(ctx, p)
	if pass, forced := s.healthOverride(p.host); forced {
		if pass {
			return probeResult{kind: probeOK, code: 200}
		}
		return probeResult{kind: probeStatus, code: http.StatusServiceUnavailable}
	}
	return r
}

func runProbe(ctx context.Context, p probe) probeResult {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.addr)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return probeResult{kind: probeL4Timeout}
		}
		return probeResult{kind: probeRefused}
	}
	defer conn.Close()
	if p.tcp {
		return probeResult{kind: probeOK}
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+p.path, nil)
	if err != nil {
		return probeResult{kind: probeRefused}
	}
	if p.hostHdr != "" {
		req.Host = p.hostHdr
	}
	req.Header.Set("User-Agent", p.userAgent)
	req.Close = true
	if err := req.Write(conn); err != nil {
		return probeResult{kind: probeRefused}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		if isTimeout(err) {
			return probeResult{kind: probeL7Timeout}
		}
		return probeResult{kind: probeRefused}
	}
	defer resp.Body.Close()
	if !p.pass(resp.StatusCode) {
		return probeResult{kind: probeStatus, code: resp.StatusCode}
	}
	if p.body != "" {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil && isTimeout(err) {
			return probeResult{kind: probeL7Timeout, code: resp.StatusCode}
		}
		if !strings.Contains(string(b), p.body) {
			return probeResult{kind: probeContent, code: resp.StatusCode}
		}
	}
	return probeResult{kind: probeOK, code: resp.StatusCode}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// startChecker runs p every interval until ctx ends and hands each result
// to apply, under Sim.mu. The first check runs one interval after the
// start, or with health_check_phase: random at a random moment within the
// first interval. The caller holds Sim.mu.
func (s *Sim) startChecker(ctx context.Context, p probe, interval time.Duration, apply func(probeResult)) {
	if s.closed {
		return
	}
	first := interval
	if s.cfg.HealthCheckPhase == PhaseRandom {
		first = time.Duration(rand.Int64N(int64(interval))) + 1
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		wake := time.NewTimer(first)
		defer wake.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake.C:
			}
			wake.Reset(interval)
			r := s.check(ctx, p)
			s.mu.Lock()
			if ctx.Err() == nil {
				apply(r)
			}
			s.mu.Unlock()
		}
	}()
}
