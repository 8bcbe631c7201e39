package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/httpclient"
)

// Baseline is what a probe saw before the deploy (deploy_watch with
// baseline: true), the figures its latency is judged against after.
type Baseline struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	MedianMS float64 `json:"median_ms"`
	P95MS    float64 `json:"p95_ms"`
}

// ProbeOptions are how a Probe asks.
type ProbeOptions struct {
	URL            string
	Interval       time.Duration
	RequestTimeout time.Duration
	Headers        map[string]any
	User, Password string
	Client         *http.Client
	// Baseline, when set, is what the probe's median latency is judged
	// against; without it only errors are.
	Baseline *Baseline
	// Judge is false in baseline mode: the probe only measures.
	Judge bool
}

// Probe is a signal that GETs the host's own URL every interval, in the
// background from Start until the window ends: 5xx answers, transport
// errors and timeouts are failed requests, and the median latency of the
// answers is compared with the baseline's.
type Probe struct {
	o  ProbeOptions
	th Thresholds

	mu        sync.Mutex
	lat       []time.Duration // of answers that were not errors (a sample)
	answered  int
	requests  int
	s5xx      int
	s4xx      int
	transport int
	timeouts  int
	lastErr   string
}

var _ Signal = (*Probe)(nil)

// NewProbe returns a probe of o.URL judged against th.
func NewProbe(o ProbeOptions, th Thresholds) *Probe { return &Probe{o: o, th: th} }

// Name is "probe http://10.0.0.2/health".
func (p *Probe) Name() string { return "probe " + p.o.URL }

// Start begins probing; it stops when ctx ends, which is the window's end.
func (p *Probe) Start(ctx context.Context) error {
	go func() {
		t := time.NewTicker(p.o.Interval)
		defer t.Stop()
		for {
			p.once(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// once sends one probe and counts its outcome.
func (p *Probe) once(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, p.o.RequestTimeout)
	defer cancel()
	req, err := httpclient.NewRequest(rctx, http.MethodGet, p.o.URL, nil, p.o.Headers, p.o.User, p.o.Password)
	if err != nil {
		p.count(0, 0, err)
		return
	}
	start := time.Now()
	resp, err := p.o.Client.Do(req)
	if err == nil {
		// Read (a bounded part of) the body: latency is the whole answer.
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	if ctx.Err() != nil {
		return // the window ended mid-request: neither a pass nor a failure
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	p.count(status, time.Since(start), err)
}

func (p *Probe) count(status int, d time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		p.timeouts++
		p.lastErr = "no response within request_timeout"
	case err != nil:
		p.transport++
		p.lastErr = httpclient.SimplifyError(err).Error()
	case status >= 500:
		p.s5xx++
		p.lastErr = fmt.Sprintf("status %d", status)
	default:
		if status >= 400 {
			p.s4xx++
		}
		p.answered++
		// A long window keeps a uniform sample of the latencies, not all.
		if len(p.lat) < maxLatencies {
			p.lat = append(p.lat, d)
		} else if i := rand.IntN(p.answered); i < maxLatencies {
			p.lat[i] = d
		}
	}
}

// maxLatencies bounds the latencies kept: a day at 0.2 s, 6 MB at most.
const maxLatencies = 1 << 19

// Check judges what the probes saw so far.
func (p *Probe) Check(context.Context) (Finding, error) {
	if !p.o.Judge {
		return Finding{}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	failed := p.s5xx + p.transport + p.timeouts
	detail := fmt.Sprintf("%d 5xx, %d transport errors, %d timeouts", p.s5xx, p.transport, p.timeouts)
	if p.lastErr != "" {
		detail += "; last: " + p.lastErr
	}
	if f := p.th.Errors(failed, p.requests, "probes", detail); f.Failed {
		return f, nil
	}
	if p.o.Baseline == nil || len(p.lat) < p.th.MinRequests {
		return Finding{}, nil
	}
	base := time.Duration(p.o.Baseline.MedianMS * float64(time.Millisecond))
	return p.th.Latency("the median latency", Median(append([]time.Duration(nil), p.lat...)), base, "the baseline's median"), nil
}

// Figures are the probe's numbers so far, as a baseline gives them.
func (p *Probe) Figures() Baseline {
	p.mu.Lock()
	defer p.mu.Unlock()
	lat := append([]time.Duration(nil), p.lat...)
	return Baseline{
		Requests: p.requests,
		Errors:   p.s5xx + p.transport + p.timeouts,
		MedianMS: ms(Median(lat)),
		P95MS:    ms(Percentile(lat, 95)),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Report is what the probes saw over the window.
func (p *Probe) Report() map[string]any {
	f := p.Figures()
	p.mu.Lock()
	defer p.mu.Unlock()
	r := map[string]any{
		"kind": "probe", "url": p.o.URL, "requests": f.Requests, "errors": f.Errors,
		"status_5xx": p.s5xx, "status_4xx": p.s4xx, "transport_errors": p.transport, "timeouts": p.timeouts,
		"median_ms": f.MedianMS, "p95_ms": f.P95MS,
	}
	if p.o.Baseline != nil {
		r["baseline"] = *p.o.Baseline
	}
	return r
}
