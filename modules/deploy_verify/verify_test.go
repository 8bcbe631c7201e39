package deployverify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible/ansibletest"
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
	return ansibletest.Call(t, ctx, spec, full, run)
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

const password = `s3cr3t p@ss/w&rd`

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

// TestCredentialsRefused: a 401 or 403 that outlasts the timeout is named
// as refused credentials, at the token URL or the URL, without the
// password; an untrusted certificate names ca_path.
func TestCredentialsRefused(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/forbidden" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	for _, tt := range []struct {
		name string
		args map[string]any
		want []string
	}{
		{name: "token url", args: map[string]any{"url": srv.URL + "/health", "token": "tok", "token_url": srv.URL + "/token"},
			want: []string{srv.URL + "/token did not serve the deploy token within 1s", "the app refused the request (status 401): check url_username and url_password"}},
		{name: "url", args: map[string]any{"url": srv.URL + "/forbidden"},
			want: []string{srv.URL + "/forbidden did not answer as expected within 1s", "last observed: status 403", "; the app refused the request (status 403)"}},
		{name: "untrusted certificate", args: map[string]any{"url": tlsSrv.URL + "/health", "token": "tok", "token_url": tlsSrv.URL + "/token"},
			want: []string{"did not serve the deploy token within 1s", "the app's TLS certificate is not trusted: give its CA in ca_path", "certificate signed by unknown authority"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.args["timeout"], tt.args["url_username"], tt.args["url_password"] = 1, "deploy", password
			res, _ := verify(t, context.Background(), tt.args)
			wantFields(t, res, map[string]any{"failed": true})
			wantMsg(t, res, tt.want...)
			if strings.Contains(fmt.Sprint(res), password) {
				t.Errorf("the result holds the password: %v", res)
			}
		})
	}
}
