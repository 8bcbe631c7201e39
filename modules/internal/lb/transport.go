package lb

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Counter counts API requests. The zero value is ready to use.
type Counter struct{ n atomic.Int64 }

// Add counts one request.
func (c *Counter) Add() { c.n.Add(1) }

// Load returns the count.
func (c *Counter) Load() int64 { return c.n.Load() }

type counterKey struct{}

// WithCounter returns a context whose requests are also counted in c, so
// that requests can be attributed to one load balancer or target group.
func WithCounter(ctx context.Context, c *Counter) context.Context {
	return context.WithValue(ctx, counterKey{}, c)
}

// CountingTransport counts every HTTP request it sends (retries included)
// in Total and in the Counter of the request's context.
type CountingTransport struct {
	Base  http.RoundTripper
	Total *Counter
}

// RoundTrip implements http.RoundTripper.
func (t *CountingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Total != nil {
		t.Total.Add()
	}
	if c, ok := req.Context().Value(counterKey{}).(*Counter); ok {
		c.Add()
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req)
}

// NewHTTPClient returns the client the providers use: TLS verification
// unless insecure, requests counted in total, no overall timeout (the
// module's context bounds every call).
func NewHTTPClient(insecure bool, total *Counter) *http.Client {
	return WrapTransport(NewTransport(), insecure, total)
}

// WrapTransport returns a client over tr (which it changes) that counts
// requests in total and skips TLS verification if insecure.
func WrapTransport(tr *http.Transport, insecure bool, total *Counter) *http.Client {
	if insecure {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		} else {
			tr.TLSClientConfig = tr.TLSClientConfig.Clone()
		}
		tr.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // validate_certs: false, with a warning
	}
	return &http.Client{Transport: &CountingTransport{Base: tr, Total: total}}
}

// NewTransport returns the HTTP transport the providers start from.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		MaxIdleConnsPerHost:   10, // several pools are read at once
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
}
