// Package deployverify is the zerodowntime.rolling.deploy_verify module: it
// polls a URL until the response proves the new version answers.
package deployverify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

var spec = ansible.Spec{
	Name: "deploy_verify",
	Options: map[string]ansible.Option{
		"url":              {Type: ansible.Str, Required: true},
		"method":           {Type: ansible.Str, Default: "GET"},
		"headers":          {Type: ansible.Dict, SecretKeys: credentialHeader},
		"body":             {Type: ansible.Str},
		"expect_status":    {Type: ansible.List, Elements: ansible.Int, Default: []any{200}},
		"expect_body":      {Type: ansible.Str},
		"token":            {Type: ansible.Str},
		"token_url":        {Type: ansible.Str},
		"expect_regex":     {Type: ansible.Str},
		"expect_json":      {Type: ansible.Dict},
		"expect_headers":   {Type: ansible.Dict},
		"consecutive":      {Type: ansible.Int, Default: 1},
		"interval":         {Type: ansible.Float, Default: 0.2},
		"timeout":          {Type: ansible.Int, Default: 60},
		"request_timeout":  {Type: ansible.Float, Default: 10},
		"url_username":     {Type: ansible.Str, Aliases: []string{"user"}},
		"url_password":     {Type: ansible.Str, Aliases: []string{"password"}, NoLog: true},
		"validate_certs":   {Type: ansible.Bool, Default: true},
		"ca_path":          {Type: ansible.Path},
		"client_cert":      {Type: ansible.Path},
		"client_key":       {Type: ansible.Path},
		"follow_redirects": {Type: ansible.Str, Default: "safe", Choices: []string{"all", "safe", "none", "yes", "no"}},
		"excerpt_length":   {Type: ansible.Int, Default: 512},
	},
	RequiredTogether:  [][]string{{"client_cert", "client_key"}},
	SupportsCheckMode: true,
	TimeoutOption:     "timeout",
}

type args struct {
	URL             string         `json:"url"`
	Method          string         `json:"method"`
	Headers         map[string]any `json:"headers"`
	Body            *string        `json:"body"`
	ExpectStatus    []int          `json:"expect_status"`
	ExpectBody      *string        `json:"expect_body"`
	Token           string         `json:"token"`
	TokenURL        string         `json:"token_url"`
	ExpectRegex     *string        `json:"expect_regex"`
	ExpectJSON      map[string]any `json:"expect_json"`
	ExpectHeaders   map[string]any `json:"expect_headers"`
	Consecutive     int            `json:"consecutive"`
	Interval        float64        `json:"interval"`
	Timeout         int            `json:"timeout"`
	RequestTimeout  float64        `json:"request_timeout"`
	URLUsername     string         `json:"url_username"`
	URLPassword     string         `json:"url_password"`
	ValidateCerts   bool           `json:"validate_certs"`
	CAPath          string         `json:"ca_path"`
	ClientCert      string         `json:"client_cert"`
	ClientKey       string         `json:"client_key"`
	FollowRedirects string         `json:"follow_redirects"`
	ExcerptLength   int            `json:"excerpt_length"`
}

// msgExcerpt bounds the body shown in a failure message; the full excerpt is
// in body_excerpt.
const msgExcerpt = 160

// maxBody bounds how much of a response is read for matching.
const maxBody = 1 << 20

func run(ctx context.Context, m *ansible.Module, a args) (ansible.Result, error) {
	// Secrets first: any error below may quote the URL or a header.
	addSecrets(m, a)
	exp, err := newExpectations(a)
	if err != nil {
		return ansible.Result{}, err
	}
	client, err := newClient(m, a)
	if err != nil {
		return ansible.Result{}, err
	}
	if !absoluteHTTP(a.URL) {
		return ansible.Result{}, fmt.Errorf("url %q is not an absolute http:// or https:// URL", a.URL)
	}
	if a.TokenURL != "" && a.Token == "" {
		return ansible.Result{}, errors.New("token_url is set but token is not; pass the token that deploy_token wrote, or drop token_url")
	}
	tokenURL := a.URL
	if a.TokenURL != "" {
		if !absoluteHTTP(a.TokenURL) {
			return ansible.Result{}, fmt.Errorf("token_url %q is not an absolute http:// or https:// URL", a.TokenURL)
		}
		tokenURL = a.TokenURL
	}
	if a.URLPassword != "" && a.URLUsername == "" {
		// Without a user name no credentials would be sent at all.
		return ansible.Result{}, errors.New("url_password is set but url_username is not; set url_username too")
	}
	if a.Consecutive < 1 {
		return ansible.Result{}, fmt.Errorf("consecutive must be at least 1, got %d", a.Consecutive)
	}
	for _, o := range []struct {
		name string
		v    float64
	}{{"interval", a.Interval}, {"timeout", float64(a.Timeout)}, {"request_timeout", a.RequestTimeout}} {
		if err := ansible.CheckSeconds(o.name, o.v); err != nil {
			return ansible.Result{}, err
		}
	}

	var last observation
	passes := 0
	// With a token, the url's checks start once token_url serves it: only
	// then is it known that the process answering is the one just started.
	tokenSeen, tokenAttempts := a.Token == "", 0
	attempts := 0
	get := func(ctx context.Context, method, target string, body *string) observation {
		o := fetch(ctx, client, method, target, body, a)
		// Scrubbed before any excerpt cuts it, so that no cut leaves the
		// first characters of an echoed secret.
		o.shown = []byte(m.Scrub(string(o.body)))
		return o
	}
	check := func(ctx context.Context) (wait.Outcome, string, error) {
		attempts++
		// The token's answer stands for url's too when it is the same GET.
		reuse := false
		if !tokenSeen {
			last = get(ctx, "GET", tokenURL, nil)
			if problem := tokenMismatch(last, a.Token); problem != "" {
				last.problem = problem
				return wait.Retry, tokenURL + ": " + last.describe(msgExcerpt), nil
			}
			tokenSeen, tokenAttempts = true, attempts
			m.Progress("%s serves the deploy token", tokenURL)
			reuse = tokenURL == a.URL && strings.EqualFold(a.Method, "GET") && a.Body == nil
		}
		if !reuse {
			last = get(ctx, a.Method, a.URL, a.Body)
		}
		// The observation ends up in msg if the wait is cut short, so
		// it is bounded like the other excerpts in msg.
		if problem := exp.mismatch(last); problem != "" {
			passes = 0
			last.problem = problem
			return wait.Retry, last.describe(msgExcerpt), nil
		}
		passes++
		if passes >= a.Consecutive {
			return wait.Success, last.describe(msgExcerpt), nil
		}
		return wait.Retry, last.describe(msgExcerpt), nil
	}
	m.Progress("polling %s (nothing is changed by this module)", a.URL)
	interval := ansible.Seconds(a.Interval)
	w := wait.New(check, wait.WithDelay(interval, interval), wait.WithoutJitter())
	start := time.Now()
	res, err := w.Wait(ctx, time.Duration(a.Timeout)*time.Second)

	data := map[string]any{
		"url":          a.URL,
		"attempts":     res.Attempts,
		"elapsed":      res.Elapsed.Round(time.Millisecond).Seconds(),
		"status":       last.status,
		"body_excerpt": excerpt(last.shown, a.ExcerptLength),
		"passes":       passes,
	}
	if a.Token != "" {
		data["token_url"] = tokenURL
		data["token_verified"] = tokenSeen
		data["token_attempts"] = tokenAttempts
	}
	if last.err != nil {
		data["error"] = last.err.Error()
	}
	out := ansible.Result{Changed: false, Data: data}
	if err != nil {
		var te *wait.TimeoutError
		// A last request still running at the timeout may meet the run's
		// hard deadline (timeout plus grace) first: that is a timeout too.
		timedOut := errors.Is(context.Cause(ctx), context.DeadlineExceeded) && time.Since(start) >= time.Duration(a.Timeout)*time.Second
		if errors.As(err, &te) || timedOut {
			if !tokenSeen {
				return out, fmt.Errorf("%s did not serve the deploy token within %ds (%d attempts): the process answering is not the one just started "+
					"(did the deploy step restart the app, and does the app read the token file at start?); last observed: %s",
					tokenURL, a.Timeout, res.Attempts, last.describe(msgExcerpt))
			}
			return out, fmt.Errorf("%s did not answer as expected within %ds (%d attempts): expected %s; last observed: %s",
				a.URL, a.Timeout, res.Attempts, exp.describe(), last.describe(msgExcerpt))
		}
		return out, fmt.Errorf("verifying %s stopped after %d attempts: %w", a.URL, res.Attempts, err)
	}
	out.Msg = fmt.Sprintf("%s answered as expected after %d attempt(s) in %.1fs", a.URL, res.Attempts, res.Elapsed.Seconds())
	return out, nil
}

// addSecrets registers what must not appear in the result besides what the
// runtime scrubs already (url_password, URL passwords, credential headers):
// the Basic credentials a server might echo back, and a credential header's
// value as it is sent.
func addSecrets(m *ansible.Module, a args) {
	if a.URLPassword != "" {
		m.AddSecret(basicCredentials(a.URLUsername, a.URLPassword))
	}
	for k, v := range a.Headers {
		if credentialHeader(k) {
			m.AddSecret(fmt.Sprint(v))
		}
	}
}

// credentialHeader tells whether a header carries credentials: then its
// value is scrubbed from the result and it is not sent on after a redirect
// to another host. Besides the standard ones, that is any header whose name
// says so, as X-Api-Key, X-Auth-Token or X-Session-Id do.
func credentialHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "cookie", "token", "key", "secret", "session", "pass", "credential", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func basicCredentials(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// observation is one response, or the error that stood in its place.
type observation struct {
	status  int
	header  http.Header
	body    []byte
	shown   []byte // body with the secrets scrubbed, for messages
	err     error
	problem string
}

func (o observation) describe(n int) string {
	if o.err != nil {
		return "request failed: " + o.err.Error()
	}
	s := fmt.Sprintf("status %d, body %q", o.status, excerpt(o.shown, n))
	if o.problem != "" {
		s += " (" + o.problem + ")"
	}
	return s
}

func excerpt(b []byte, n int) string {
	if n <= 0 || len(b) <= n {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return strings.ToValidUTF8(string(b[:n]), "\uFFFD") + fmt.Sprintf("... (%d more bytes)", len(b)-n)
}

// fetch sends one request with the headers, credentials and request_timeout
// of a. A request gets no more than timeout either: the last one, sent as
// the timeout runs out, would otherwise keep the module until the run's
// hard deadline.
func fetch(ctx context.Context, c *http.Client, method, target string, reqBody *string, a args) observation {
	var body io.Reader
	if reqBody != nil {
		body = strings.NewReader(*reqBody)
	}
	ctx, cancel := context.WithTimeout(ctx, min(ansible.Seconds(a.RequestTimeout), time.Duration(a.Timeout)*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(method), target, body)
	if err != nil {
		return observation{err: err}
	}
	for k, v := range a.Headers {
		req.Header.Set(k, fmt.Sprint(v))
	}
	if a.URLUsername != "" {
		req.SetBasicAuth(a.URLUsername, a.URLPassword)
	}
	resp, err := c.Do(req)
	if err != nil {
		return observation{err: simplifyError(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return observation{status: resp.StatusCode, header: resp.Header, body: b, err: fmt.Errorf("reading the body: %w", simplifyError(err))}
	}
	return observation{status: resp.StatusCode, header: resp.Header, body: b}
}

// tokenMismatch returns why o does not show the deploy token, or "": a 2xx
// answer whose body is the token (trailing newlines aside).
func tokenMismatch(o observation, token string) string {
	switch {
	case o.err != nil:
		return o.err.Error()
	case o.status < 200 || o.status > 299:
		return fmt.Sprintf("status %d, not 2xx", o.status)
	case strings.TrimRight(string(o.body), "\r\n") != strings.TrimRight(token, "\r\n"):
		return "not the deploy token: an older process is answering"
	}
	return ""
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// simplifyError drops the request line Go puts in front of transport errors
// ("Get \"http://...\": ") since the message already names the URL.
func simplifyError(err error) error {
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

func newClient(m *ansible.Module, a args) (*http.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if !a.ValidateCerts {
		tlsConf.InsecureSkipVerify = true
		m.Warn("validate_certs is false: the TLS certificate of %s is not verified", a.URL)
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
		if credentialHeader(k) {
			req.Header.Del(k)
		}
	}
}

// Module is zerodowntime.rolling.deploy_verify.
var Module = ansible.NewModule(spec, run)
