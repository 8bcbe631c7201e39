package deployverify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// verify runs the module through the Ansible protocol with fast polling
// (interval 0.02 s, timeout 1 s) unless args say otherwise, and returns the
// decoded result and the raw output.
func verify(t *testing.T, ctx context.Context, args map[string]any) (map[string]any, []byte) {
	t.Helper()
	full := map[string]any{"interval": 0.02, "timeout": 1}
	for k, v := range args {
		full[k] = v
	}
	data, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	code := ansible.RunArgs(ctx, spec, data, &buf, run)
	out := buf.Bytes()
	if bytes.Count(out, []byte("\n")) != 1 || !bytes.HasSuffix(out, []byte("}\n")) {
		t.Fatalf("not one JSON object and a newline: %q", out)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if failed, _ := res["failed"].(bool); (code == 1) != failed {
		t.Errorf("exit code %d with failed=%v", code, failed)
	}
	return res, out
}

// server counts requests and answers the nth (from 1) with handle.
func server(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(int(n.Add(1)), w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func body(s string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, s) }
}

// pause waits d or until the client gives up.
func pause(r *http.Request, d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}

func wantFields(t *testing.T, res map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if fmt.Sprint(res[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v\nresult: %v", k, res[k], v, res)
		}
	}
}

func wantMsg(t *testing.T, res map[string]any, parts ...string) {
	t.Helper()
	msg, _ := res["msg"].(string)
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("msg lacks %q:\n%s", p, msg)
		}
	}
}

func TestVersionSwitch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		oldFor      int // requests answered by v1
		consecutive int
		flap        map[int]bool // requests answered 503
		attempts    int
	}{
		{name: "new at once", oldFor: 0, consecutive: 1, attempts: 1},
		{name: "switch after 4 requests", oldFor: 4, consecutive: 1, attempts: 5},
		{name: "consecutive 3 after switch", oldFor: 2, consecutive: 3, attempts: 5},
		{name: "flapping resets passes", oldFor: 0, consecutive: 3, flap: map[int]bool{3: true, 5: true}, attempts: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, n := server(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				switch {
				case tt.flap[n]:
					http.Error(w, "restarting", http.StatusServiceUnavailable)
				case n <= tt.oldFor:
					io.WriteString(w, `{"version": "v1"}`)
				default:
					io.WriteString(w, `{"version": "v2"}`)
				}
			})
			res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "expect_json": map[string]any{"version": "v2"}, "consecutive": tt.consecutive})
			wantFields(t, res, map[string]any{"failed": false, "changed": false, "attempts": tt.attempts, "passes": tt.consecutive, "status": 200, "body_excerpt": `{"version": "v2"}`, "url": srv.URL})
			wantMsg(t, res, fmt.Sprintf("%s answered as expected after %d attempt(s) in ", srv.URL, tt.attempts))
			if int(n.Load()) != tt.attempts {
				t.Errorf("server saw %d requests, want %d", n.Load(), tt.attempts)
			}
		})
	}
}

// TestToken: the url's checks start only once token_url serves the token;
// one attempt that sees the token goes on to check url at once.
func TestToken(t *testing.T) {
	t.Parallel()
	const token = "Zq3k9"
	tests := []struct {
		name       string
		oldFor     int  // token requests answered by the old process
		sameURL    bool // token and health at one URL
		healthFrom int  // first health request (from 1) answering v2
		timeout    bool
		attempts   int
		tokenReqs  int
		healthReqs int
		tokenAt    int
	}{
		{name: "token at once", attempts: 1, tokenReqs: 1, healthReqs: 1, healthFrom: 1, tokenAt: 1},
		{name: "old process first", oldFor: 3, attempts: 4, tokenReqs: 4, healthReqs: 1, healthFrom: 1, tokenAt: 4},
		{name: "token, then health catches up", oldFor: 1, attempts: 4, tokenReqs: 2, healthReqs: 3, healthFrom: 3, tokenAt: 2},
		{name: "one URL, one request per attempt", sameURL: true, oldFor: 2, attempts: 3, tokenReqs: 3, healthFrom: 1, tokenAt: 3},
		{name: "old process throughout", oldFor: 1 << 30, timeout: true, healthFrom: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tokenReqs, healthReqs atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/token" {
					if r.Method != "GET" {
						t.Errorf("token requested with %s", r.Method)
					}
					if int(tokenReqs.Add(1)) <= tt.oldFor {
						io.WriteString(w, "old-token\n")
						return
					}
					io.WriteString(w, token+"\n")
					return
				}
				if int(healthReqs.Add(1)) < tt.healthFrom {
					io.WriteString(w, `{"version": "v1"}`)
					return
				}
				io.WriteString(w, `{"version": "v2"}`)
			}))
			t.Cleanup(srv.Close)
			a := map[string]any{"url": srv.URL + "/health", "token": token, "token_url": srv.URL + "/token", "expect_json": map[string]any{"version": "v2"}}
			if tt.sameURL {
				a = map[string]any{"url": srv.URL + "/token", "token": token}
			}
			if tt.timeout {
				a["timeout"] = 1
			}
			res, _ := verify(t, context.Background(), a)
			if tt.timeout {
				wantFields(t, res, map[string]any{"failed": true, "token_verified": false, "token_attempts": 0})
				wantMsg(t, res, srv.URL+"/token did not serve the deploy token within 1s", "the process answering is not the one just started",
					"not the deploy token: an older process is answering")
				if healthReqs.Load() != 0 {
					t.Errorf("url checked %d times before the token was seen", healthReqs.Load())
				}
				return
			}
			wantFields(t, res, map[string]any{"failed": false, "attempts": tt.attempts, "token_verified": true, "token_attempts": tt.tokenAt, "token_url": srv.URL + "/token"})
			if int(tokenReqs.Load()) != tt.tokenReqs || int(healthReqs.Load()) != tt.healthReqs {
				t.Errorf("requests: token %d, health %d; want %d, %d", tokenReqs.Load(), healthReqs.Load(), tt.tokenReqs, tt.healthReqs)
			}
		})
	}
}

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

const password = `s3cr3t p@ss/w&rd`

// TestPasswordNeverShown: the password, its URL and Basic encodings never
// appear in the result, whether the check passes or fails, and even when the
// server echoes the credentials back.
func TestPasswordNeverShown(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		// Echo what a debugging endpoint would: the headers and the
		// decoded credentials.
		if !ok || p != password {
			w.WriteHeader(http.StatusUnauthorized)
		}
		fmt.Fprintf(w, "auth=%s user=%s pass=%s ok=%v", r.Header.Get("Authorization"), u, p, ok)
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	inURL := "http://" + url.UserPassword("deploy", password).String() + "@" + host + "/"
	basic := base64.StdEncoding.EncodeToString([]byte("deploy:" + password))
	tests := []struct {
		name   string
		args   map[string]any
		failed bool
	}{
		{name: "passes", args: map[string]any{"url": srv.URL, "url_username": "deploy", "url_password": password, "expect_regex": "ok=true"}},
		{name: "alias password", args: map[string]any{"url": srv.URL, "user": "deploy", "password": password, "expect_regex": "ok=true"}},
		{name: "fails", args: map[string]any{"url": srv.URL, "url_username": "deploy", "url_password": password, "expect_body": "v2"}, failed: true},
		{name: "in the URL, passes", args: map[string]any{"url": inURL, "expect_regex": "ok=true"}},
		{name: "in the URL, fails", args: map[string]any{"url": inURL, "expect_body": "v2"}, failed: true},
		{name: "in the URL, connection refused", args: map[string]any{"url": "http://deploy:" + url.PathEscape(password) + "@127.0.0.1:1/"}, failed: true},
		{name: "in the URL, bad scheme", args: map[string]any{"url": "ftp://deploy:" + password + "@" + host + "/"}, failed: true},
		{name: "in the URL, unparsable", args: map[string]any{"url": "http://deploy:" + password + "@" + host + "/%zz"}, failed: true},
		{name: "in a header, fails", args: map[string]any{"url": srv.URL, "headers": map[string]any{"authorization": "Bearer " + password}, "expect_body": "v2"}, failed: true},
		{name: "without user name", args: map[string]any{"url": srv.URL, "url_password": password}, failed: true},
		{name: "bad other option", args: map[string]any{"url": srv.URL, "url_username": "deploy", "url_password": password, "expect_status": 700}, failed: true},
		{name: "validate_certs warning", args: map[string]any{"url": inURL, "validate_certs": false, "expect_regex": "ok=true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, out := verify(t, context.Background(), tt.args)
			wantFields(t, res, map[string]any{"failed": tt.failed})
			for _, leak := range []string{"s3cr3t", "p@ss", "p%40ss", basic, base64.StdEncoding.EncodeToString([]byte(password))} {
				if bytes.Contains(out, []byte(leak)) {
					t.Errorf("output contains %q:\n%s", leak, out)
				}
			}
			if !bytes.Contains(out, []byte("********")) && !bytes.Contains(out, []byte(ansible.NoLogValue)) {
				t.Errorf("nothing masked:\n%s", out)
			}
		})
	}
}

func TestLargeBody(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 5000)
	srv, _ := server(t, body(big))
	t.Run("excerpt truncated", func(t *testing.T) {
		t.Parallel()
		res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "expect_regex": "^x+$"})
		wantFields(t, res, map[string]any{"failed": false, "body_excerpt": big[:512] + "... (4488 more bytes)"})
	})
	t.Run("excerpt_length", func(t *testing.T) {
		t.Parallel()
		res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "excerpt_length": 10})
		wantFields(t, res, map[string]any{"body_excerpt": "xxxxxxxxxx... (4990 more bytes)"})
	})
	t.Run("msg bounded", func(t *testing.T) {
		t.Parallel()
		res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "expect_body": "v2", "excerpt_length": 0})
		msg := res["msg"].(string)
		if len(msg) > 600 || !strings.Contains(msg, `... (4840 more bytes)" (body differs)`) {
			t.Errorf("msg of %d bytes: %s", len(msg), msg)
		}
		if len(res["body_excerpt"].(string)) != 5000 {
			t.Errorf("excerpt_length 0 means the whole body in body_excerpt")
		}
	})
	t.Run("interrupted msg bounded", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		srv, _ := server(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 2 {
				cancel()
			}
			io.WriteString(w, big)
		})
		res, _ := verify(t, ctx, map[string]any{"url": srv.URL, "expect_body": "v2", "excerpt_length": 0})
		wantFields(t, res, map[string]any{"failed": true, "msg": "deploy_verify was interrupted by a signal; state left: polling " + srv.URL + " (nothing is changed by this module)"})
	})
}

func TestHeadersAndMethod(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-App-Version", "v2")
		w.Header().Set("X-Got", r.Header.Get("X-Deploy")+"|"+r.Method+"|"+string(b))
		w.WriteHeader(http.StatusAccepted)
	})
	res, _ := verify(t, context.Background(), map[string]any{
		"url": srv.URL, "method": "put", "body": "payload", "headers": "X-Deploy=7",
		"expect_status": "202", "expect_headers": map[string]any{"x-app-version": "v2", "X-GOT": "7|PUT|payload"},
	})
	wantFields(t, res, map[string]any{"failed": false, "status": 202})
}

func TestCheckModeRuns(t *testing.T) {
	t.Parallel()
	srv, n := server(t, body("v2"))
	res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "expect_body": "v2", "_ansible_check_mode": true})
	wantFields(t, res, map[string]any{"failed": false, "changed": false})
	if n.Load() != 1 || res["skipped"] != nil {
		t.Errorf("check mode must verify as usual (read-only): %d requests, %v", n.Load(), res)
	}
}

// TestBadInput: mistakes are reported at once, naming the option.
func TestBadInput(t *testing.T) {
	t.Parallel()
	srv, n := server(t, body("v2"))
	tests := []struct {
		name string
		args map[string]any
		msg  string
	}{
		{name: "bad regex", args: map[string]any{"expect_regex": "v("}, msg: `expect_regex: "v(" is not a valid regular expression (Go RE2 syntax)`},
		{name: "status 700", args: map[string]any{"expect_status": []int{200, 700}}, msg: "expect_status: 700 is not an HTTP status code (100-599)"},
		{name: "status not a number", args: map[string]any{"expect_status": "ok"}, msg: `argument 'expect_status' is of type str and we were unable to convert to list of int: element 0: "ok" is not a whole number`},
		{name: "bad JSON path", args: map[string]any{"expect_json": map[string]any{"build..version": "v2"}}, msg: `expect_json: "build..version" is not a dotted path such as 'build.version' or 'items.0.id'`},
		{name: "ftp url", args: map[string]any{"url": "ftp://example.com/"}, msg: `url "ftp://example.com/" is not an absolute http:// or https:// URL`},
		{name: "relative url", args: map[string]any{"url": "/health"}, msg: `url "/health" is not an absolute http:// or https:// URL`},
		{name: "url without host", args: map[string]any{"url": "http:///x"}, msg: `url "http:///x" is not an absolute http:// or https:// URL`},
		{name: "password without user", args: map[string]any{"url_password": "pw"}, msg: "url_password is set but url_username is not; set url_username too"},
		{name: "consecutive 0", args: map[string]any{"consecutive": 0}, msg: "consecutive must be at least 1, got 0"},
		{name: "interval 0", args: map[string]any{"interval": 0}, msg: "interval must be a positive number of seconds, got 0"},
		{name: "timeout negative", args: map[string]any{"timeout": -5}, msg: "timeout must be a positive number of seconds, got -5"},
		{name: "request_timeout 0", args: map[string]any{"request_timeout": 0}, msg: "request_timeout must be a positive number of seconds, got 0"},
		{name: "interval beyond a year", args: map[string]any{"interval": 1e12}, msg: "interval must be at most 31536000 seconds (a year), got 1000000000000"},
		{name: "timeout beyond a year", args: map[string]any{"timeout": 10000000000}, msg: "timeout must be at most 31536000 seconds (a year), got 10000000000"},
		{name: "follow_redirects choice", args: map[string]any{"follow_redirects": "sometimes"}, msg: "value of follow_redirects must be one of: all, safe, none, yes, no, got: sometimes"},
		{name: "misspelled option", args: map[string]any{"expect_bdy": "v2"}, msg: "Unsupported parameters for (deploy_verify) module: expect_bdy. Supported parameters include: "},
		{name: "missing url", args: map[string]any{"url": nil}, msg: "missing required arguments: url"},
		{name: "token_url without token", args: map[string]any{"token_url": srv.URL + "/token"}, msg: "token_url is set but token is not; pass the token that deploy_token wrote, or drop token_url"},
		{name: "relative token_url", args: map[string]any{"token": "t", "token_url": "/token"}, msg: `token_url "/token" is not an absolute http:// or https:// URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := map[string]any{"url": srv.URL}
			for k, v := range tt.args {
				a[k] = v
			}
			start := time.Now()
			res, _ := verify(t, context.Background(), a)
			wantFields(t, res, map[string]any{"failed": true})
			if msg, _ := res["msg"].(string); !strings.HasPrefix(msg, tt.msg) {
				t.Errorf("msg = %q\nwant prefix %q", msg, tt.msg)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("took %s; bad input must fail before polling", d)
			}
		})
	}
	if n.Load() != 0 {
		t.Errorf("the server got %d requests for bad input", n.Load())
	}
}
