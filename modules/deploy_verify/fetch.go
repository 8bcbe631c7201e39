package deployverify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/httpclient"
)

// msgExcerpt bounds the body shown in a failure message; the full excerpt is
// in body_excerpt.
const msgExcerpt = 160

// maxBody bounds how much of a response is read for matching.
const maxBody = 1 << 20

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

// fetchShown is fetch with the body scrubbed for messages: scrubbed before
// any excerpt cuts it, so that no cut leaves the first characters of an
// echoed secret.
func fetchShown(ctx context.Context, m *ansible.Module, c *http.Client, method, target string, reqBody *string, a args) observation {
	o := fetch(ctx, c, method, target, reqBody, a)
	o.shown = []byte(m.Scrub(string(o.body)))
	return o
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
	req, err := httpclient.NewRequest(ctx, method, target, body, a.Headers, a.URLUsername, a.URLPassword)
	if err != nil {
		return observation{err: err}
	}
	resp, err := c.Do(req)
	if err != nil {
		return observation{err: httpclient.SimplifyError(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return observation{status: resp.StatusCode, header: resp.Header, body: b, err: fmt.Errorf("reading the body: %w", httpclient.SimplifyError(err))}
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

// refusedHint says what a last answer most likely means when the app
// refused the request itself, or "": credentials it did not accept, or a
// certificate this side did not trust.
func refusedHint(o observation) string {
	var cv *tls.CertificateVerificationError
	switch {
	case errors.As(o.err, &cv):
		return "the app's TLS certificate is not trusted: give its CA in ca_path"
	case o.err != nil || (o.status != 401 && o.status != 403):
		return ""
	}
	return fmt.Sprintf("the app refused the request (status %d): check url_username and url_password, or the credential headers", o.status)
}
