// Package httpclient is the HTTP side deploy_verify and deploy_watch share:
// TLS options read from files, redirects that drop credentials on the way
// to another host, credential headers kept out of results, and transport
// errors said briefly.
package httpclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// AbsoluteHTTP tells whether s is an absolute http:// or https:// URL.
func AbsoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// SimplifyError drops the request line Go puts in front of transport errors
// ("Get \"http://...\": ") since the message already names the URL.
func SimplifyError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if errors.Is(ue.Err, context.DeadlineExceeded) {
			return errors.New("no response within request_timeout")
		}
		var opErr *net.OpError
		if errors.As(ue.Err, &opErr) {
			return opErr
		}
		return ue.Err
	}
	return err
}

// Options are the request options deploy_verify and deploy_watch share.
type Options struct {
	ValidateCerts   bool
	CAPath          string
	ClientCert      string
	ClientKey       string
	FollowRedirects string // all, safe (""), none, yes, no
	Method          string // the method sent, for follow_redirects: safe
}

// New returns a client for url with the TLS and redirect rules of o.
func New(m *ansible.Module, url string, a Options) (*http.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if !a.ValidateCerts {
		tlsConf.InsecureSkipVerify = true
		m.Warn("validate_certs is false: the TLS certificate of %s is not verified", url)
	}
	if a.CAPath != "" {
		pem, err := readPEMFile("ca_path", a.CAPath)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_path: %s holds no PEM certificate", a.CAPath)
		}
		tlsConf.RootCAs = pool
	}
	if a.ClientCert != "" {
		certPEM, err := readPEMFile("client_cert", a.ClientCert)
		if err != nil {
			return nil, err
		}
		keyPEM, err := readPEMFile("client_key", a.ClientKey)
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("client_cert/client_key: %v", err)
		}
		tlsConf.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{
		Proxy:           http.ProxyFromEnvironment,
		TLSClientConfig: tlsConf,
		// A fresh connection per attempt: a kept-alive connection to an old
		// worker would keep answering with the old code after a restart.
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	c := &http.Client{Transport: tr}
	method := strings.ToUpper(a.Method)
	if method == "" {
		method = http.MethodGet
	}
	switch a.FollowRedirects {
	case "none", "no":
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	default: // safe, all, yes
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if a.FollowRedirects == "safe" && method != "GET" && method != "HEAD" {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			dropCredentials(req, via[0])
			return nil
		}
	}
	return c, nil
}

// dropCredentials removes the credential headers from a redirected request
// that goes to another host, port or scheme than the first one. Go drops
// Authorization and Cookie only, and keeps them for a subdomain.
func dropCredentials(req, first *http.Request) {
	if strings.EqualFold(req.URL.Scheme, first.URL.Scheme) && strings.EqualFold(req.URL.Host, first.URL.Host) {
		return
	}
	for k := range req.Header {
		if CredentialHeader(k) {
			req.Header.Del(k)
		}
	}
}

// NewRequest builds a request with the user's headers and Basic
// credentials (when user is set).
func NewRequest(ctx context.Context, method, target string, body io.Reader, headers map[string]any, user, password string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(method), target, body)
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, fmt.Sprint(v))
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	return req, nil
}
