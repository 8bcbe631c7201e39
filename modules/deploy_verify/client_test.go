package deployverify

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

func TestSlowServer(t *testing.T) {
	t.Parallel()
	t.Run("fast again", func(t *testing.T) {
		t.Parallel()
		srv, _ := server(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n <= 2 {
				pause(r, 2*time.Second)
			}
			io.WriteString(w, "v2")
		})
		res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "request_timeout": 0.05, "expect_body": "v2"})
		wantFields(t, res, map[string]any{"failed": false, "attempts": 3})
	})
	t.Run("always slow", func(t *testing.T) {
		t.Parallel()
		srv, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			pause(r, 2*time.Second)
			io.WriteString(w, "v2")
		})
		res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "request_timeout": 0.05, "expect_body": "v2"})
		wantFields(t, res, map[string]any{"failed": true, "error": "no response within request_timeout", "status": 0})
		wantMsg(t, res, srv.URL+" did not answer as expected within 1s (", `expected status in [200], body "v2"; last observed: request failed: no response within request_timeout`)
	})
	t.Run("hard deadline while a request hangs", func(t *testing.T) {
		t.Parallel()
		srv, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) { pause(r, 5*time.Second) })
		// The run context ends just after timeout, before request_timeout,
		// as RunArgs' timeout + grace would: still the timeout message.
		ctx, cancel := context.WithTimeout(context.Background(), 1100*time.Millisecond)
		defer cancel()
		a := args{URL: srv.URL, Method: "GET", ExpectStatus: []int{200}, Consecutive: 1, Interval: 0.02, Timeout: 1, RequestTimeout: 3, ValidateCerts: true, FollowRedirects: "safe", ExcerptLength: 512}
		_, err := run(ctx, &ansible.Module{Name: "deploy_verify"}, a)
		if err == nil || !strings.Contains(err.Error(), "did not answer as expected within 1s (1 attempts)") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	res, _ := verify(t, context.Background(), map[string]any{"url": "http://" + addr + "/health", "expect_status": []int{200, 204}})
	wantMsg(t, res, "http://"+addr+"/health did not answer as expected within 1s", "expected status in [200 204]", "last observed: request failed: dial tcp "+addr+": connect: connection refused")
	wantFields(t, res, map[string]any{"failed": true, "status": 0, "body_excerpt": ""})
	if n := res["attempts"].(float64); n < 5 {
		t.Errorf("only %v attempts in 1s at 0.02s", n)
	}
}

func tlsServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "v2") }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv, ca := tlsServer(t)
	notPEM := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	tests := []struct {
		name     string
		args     map[string]any
		failed   bool
		msg      []string
		warnings []any
	}{
		{name: "trusted through ca_path", args: map[string]any{"ca_path": ca}},
		{name: "untrusted", failed: true, msg: []string{"request failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"}},
		{name: "validate_certs false", args: map[string]any{"validate_certs": false},
			warnings: []any{"validate_certs is false: the TLS certificate of " + srv.URL + " is not verified"}},
		{name: "validate_certs no, as YAML may send it", args: map[string]any{"validate_certs": "no"},
			warnings: []any{"validate_certs is false: the TLS certificate of " + srv.URL + " is not verified"}},
		{name: "ca_path missing", args: map[string]any{"ca_path": "/nonexistent/ca.pem"}, failed: true, msg: []string{"ca_path: cannot read /nonexistent/ca.pem: open /nonexistent/ca.pem: no such file or directory"}},
		{name: "ca_path not PEM", args: map[string]any{"ca_path": notPEM}, failed: true, msg: []string{"ca_path: " + notPEM + " holds no PEM certificate"}},
		{name: "client_cert without client_key", args: map[string]any{"client_cert": ca}, failed: true, msg: []string{"parameters are required together: client_cert, client_key"}},
		{name: "client_cert unreadable", args: map[string]any{"client_cert": ca, "client_key": ca}, failed: true, msg: []string{"client_cert/client_key: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := map[string]any{"url": srv.URL, "expect_body": "v2"}
			for k, v := range tt.args {
				a[k] = v
			}
			res, _ := verify(t, context.Background(), a)
			wantFields(t, res, map[string]any{"failed": tt.failed})
			wantMsg(t, res, tt.msg...)
			if fmt.Sprint(res["warnings"]) != fmt.Sprint(tt.warnings) && !(res["warnings"] == nil && tt.warnings == nil) {
				t.Errorf("warnings = %v, want %v", res["warnings"], tt.warnings)
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
		}
	})
	tests := []struct {
		name   string
		args   map[string]any
		failed bool
		status int
		body   string
		msg    []string
	}{
		{name: "safe follows GET", args: map[string]any{"follow_redirects": "safe"}, status: 200, body: "GET /new"},
		{name: "default is safe", args: map[string]any{}, status: 200, body: "GET /new"},
		{name: "safe follows HEAD", args: map[string]any{"method": "head"}, status: 200},
		{name: "safe keeps a POST's redirect", args: map[string]any{"method": "POST", "body": "x", "expect_status": 302}, status: 302},
		{name: "all follows POST", args: map[string]any{"method": "POST", "body": "x", "follow_redirects": "all"}, status: 200, body: "GET /new"},
		{name: "yes is all", args: map[string]any{"method": "POST", "follow_redirects": true}, status: 200, body: "GET /new"},
		{name: "none returns the 302", args: map[string]any{"follow_redirects": "none", "expect_status": []int{302}}, status: 302},
		{name: "no is none", args: map[string]any{"follow_redirects": false, "expect_status": "301,302"}, status: 302},
		{name: "none fails expect_status 200", args: map[string]any{"follow_redirects": "none"}, failed: true, status: 302,
			msg: []string{"expected status in [200]", "last observed: status 302", "(status 302 not in [200])"}},
		{name: "redirect loop", args: map[string]any{"url": srv.URL + "/loop"}, failed: true,
			msg: []string{"request failed: stopped after 10 redirects"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := map[string]any{"url": srv.URL + "/old"}
			for k, v := range tt.args {
				a[k] = v
			}
			res, _ := verify(t, context.Background(), a)
			wantFields(t, res, map[string]any{"failed": tt.failed, "status": tt.status})
			if tt.body != "" {
				wantFields(t, res, map[string]any{"body_excerpt": tt.body})
			}
			wantMsg(t, res, tt.msg...)
		})
	}
}
