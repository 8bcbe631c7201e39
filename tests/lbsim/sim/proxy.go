package sim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// frontend is the data plane of one Hetzner service or AWS listener: it
// reverse-proxies each request to the member pick chooses.
type frontend struct {
	s    *Sim
	kind string // "hetzner" or "aws"
	name string // load balancer or target group name, for counters
	pick func() *member
	rp   *httputil.ReverseProxy
}

type memberKey struct{}

func (s *Sim) newFrontend(kind, name string, pick func() *member) *frontend {
	f := &frontend{s: s, kind: kind, name: name, pick: pick}
	f.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			m := pr.In.Context().Value(memberKey{}).(*member)
			pr.SetURL(&url.URL{Scheme: "http", Host: m.addr})
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:     s.transport,
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ErrorHandler:  f.proxyError,
	}
	if kind == "aws" {
		// A target's 5xx feed the CloudWatch alarms on its group.
		f.rp.ModifyResponse = func(r *http.Response) error {
			if r.StatusCode >= 500 {
				s.record5xx(name)
			}
			return nil
		}
	}
	return f
}

func (f *frontend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	f.s.mu.Lock()
	m := f.pick()
	var id uint64
	if m != nil {
		id = m.begin(cancel)
	}
	f.s.mu.Unlock()
	if m == nil {
		f.s.countProxied(f.kind+"/"+f.name+"/no-target", "")
		f.unavailable(w)
		return
	}
	f.s.countProxied(m.label, m.host)
	defer func() {
		f.s.mu.Lock()
		m.end(id)
		f.s.mu.Unlock()
	}()
	f.rp.ServeHTTP(w, r.WithContext(context.WithValue(ctx, memberKey{}, m)))
}

// unavailable answers like a load balancer without a target in rotation.
func (f *frontend) unavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, "<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>\n")
}

// proxyError handles a failed upstream request: a request cut at the
// deregistration delay loses its connection (no response at all), any
// other failure is a 502 as from a real load balancer.
func (f *frontend) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(context.Cause(r.Context()), errDrainCut) {
		panic(http.ErrAbortHandler)
	}
	if r.Context().Err() != nil {
		return // the client went away
	}
	f.s.log.Debug("proxy error", "kind", f.kind, "err", err)
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>\n")
}

// waitCtx sleeps d or until ctx ends.
func waitCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
