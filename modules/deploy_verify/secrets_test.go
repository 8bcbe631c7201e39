package deployverify

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// echoServer answers every request with what it received, as a debugging
// endpoint would: the request line and the headers, written as the path
// says: /raw as they came, /py as Python's json.dumps (\uXXXX escapes),
// /go quoted as Go's %q.
func echoServer(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, echo(r))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func echo(r *http.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL)
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			switch {
			case strings.HasSuffix(r.URL.Path, "/py"):
				fmt.Fprintf(&b, "%s: %s\n", pyJSON(k), pyJSON(v))
			case strings.HasSuffix(r.URL.Path, "/go"):
				fmt.Fprintf(&b, "%q: %q\n", k, v)
			default:
				fmt.Fprintf(&b, "%s: %s\n", k, v)
			}
		}
	}
	return b.String()
}

// pyJSON is json.dumps(s) with Python's defaults: every UTF-16 code unit
// outside printable ASCII as \uxxxx.
func pyJSON(s string) string {
	short := map[uint16]string{'"': `\"`, '\\': `\\`, '\n': `\n`, '\r': `\r`, '\t': `\t`, '\b': `\b`, '\f': `\f`}
	var b strings.Builder
	b.WriteByte('"')
	for _, u := range utf16.Encode([]rune(s)) {
		switch {
		case short[u] != "":
			b.WriteString(short[u])
		case u >= 0x20 && u < 0x7f:
			b.WriteByte(byte(u))
		default:
			fmt.Fprintf(&b, `\u%04x`, u)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// shows tells whether the result out holds s, in its JSON encoding too (a
// backslash in s is two there).
func shows(out []byte, s string) bool {
	return bytes.Contains(out, []byte(s)) || bytes.Contains(bytes.ReplaceAll(out, []byte(`\\`), []byte(`\`)), []byte(s))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestCredentialsNeverShown: secrets in any URL option and in any
// credential header stay out of the result, however the server echoes them.
func TestCredentialsNeverShown(t *testing.T) {
	t.Parallel()
	srv := echoServer(t)
	host := strings.TrimPrefix(srv, "http://")
	// The excerpt_length that cuts the /raw echo inside the token.
	cut := len("GET /raw\nAccept-Encoding: gzip\nAuthorization: Bearer Trunc-9z")
	tests := []struct {
		name  string
		args  map[string]any
		leaks []string
	}{
		{
			name:  "token_url password",
			args:  map[string]any{"url": srv + "/raw", "token": "tok", "token_url": "http://u:TuPw-9z@" + host + "/raw"},
			leaks: []string{"TuPw-9z", b64("u:TuPw-9z")},
		},
		{
			name:  "url password with #",
			args:  map[string]any{"url": "http://u:Qv7#Zk9@" + host + "/raw"},
			leaks: []string{"Qv7", "Zk9"},
		},
		{
			name:  "url password with /",
			args:  map[string]any{"url": "http://u:Qv7/Zk9@" + host + "/raw"},
			leaks: []string{"Qv7", "Zk9"},
		},
		{
			name:  "token_url password with ?",
			args:  map[string]any{"url": srv + "/raw", "token": "tok", "token_url": "http://u:Qv7?Zk9@" + host + "/raw"},
			leaks: []string{"Qv7", "Zk9"},
		},
		{
			name:  "echo cut by excerpt_length",
			args:  map[string]any{"url": srv + "/raw", "headers": map[string]any{"Authorization": "Bearer Trunc-9z8y7x6w"}, "excerpt_length": cut},
			leaks: []string{"Trunc-9z"},
		},
		{
			name:  "echo with \\u escapes",
			args:  map[string]any{"url": srv + "/py", "headers": map[string]any{"Authorization": "Bearer pässwörd-Ωmega"}},
			leaks: []string{`p\u00e4ssw`, `\u03a9mega`},
		},
		{
			name: "other credential headers",
			args: map[string]any{"url": srv + "/go", "headers": map[string]any{
				"X-Api-Key": "Ak-9z8y", "x-auth-token": "At-9z8y", "Cookie": "sid=Ck-9z8y", "Proxy-Authorization": "Basic Pa-9z8y", "X-Session-Id": "Si-9z8y",
			}},
			leaks: []string{"Ak-9z8y", "At-9z8y", "Ck-9z8y", "Pa-9z8y", "Si-9z8y"},
		},
		{
			name:  "header as a k=v string",
			args:  map[string]any{"url": srv + "/raw", "headers": "X-Api-Key=Kv-9z8y Accept=text/plain"},
			leaks: []string{"Kv-9z8y"},
		},
		{
			name:  "header as a k=v string that does not convert",
			args:  map[string]any{"url": srv + "/raw", "headers": "X-Api-Key=Kv1 Kv-9z8y"},
			leaks: []string{"Kv-9z8y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.args["expect_body"] = "never" // fail, so that msg quotes the body too
			_, out := verify(t, context.Background(), tt.args)
			for _, leak := range tt.leaks {
				if shows(out, leak) {
					t.Errorf("output contains %q:\n%s", leak, out)
				}
			}
		})
	}
}

// TestCredentialHeadersDroppedOnRedirect: a redirect to another host gets
// none of the credential headers; one on the same host keeps them.
func TestCredentialHeadersDroppedOnRedirect(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 10)
	other, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	})
	first, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/landed", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/landed", http.StatusFound)
		default:
			got <- r.Header.Clone()
		}
	})
	headers := map[string]any{"X-Api-Key": "k1", "X-Auth-Token": "t1", "Cookie": "sid=c1", "Authorization": "Bearer a1", "X-Trace": "trace1"}
	credentials := []string{"X-Api-Key", "X-Auth-Token", "Cookie", "Authorization"}
	for _, follow := range []string{"safe", "all"} {
		verify(t, context.Background(), map[string]any{"url": first.URL + "/away", "headers": headers, "follow_redirects": follow})
		h := <-got
		for _, k := range credentials {
			if v := h.Get(k); v != "" {
				t.Errorf("follow_redirects %s: the other host got %s: %s", follow, k, v)
			}
		}
		if h.Get("X-Trace") != "trace1" {
			t.Errorf("follow_redirects %s: the other host did not get X-Trace: %v", follow, h)
		}
		verify(t, context.Background(), map[string]any{"url": first.URL + "/here", "headers": headers, "follow_redirects": follow})
		h = <-got
		for _, k := range credentials {
			if h.Get(k) == "" {
				t.Errorf("follow_redirects %s: a redirect on the same host lost %s: %v", follow, k, h)
			}
		}
	}
}

// FuzzSecretsNeverShown puts a secret in a URL option, a credential header
// or url_password, has a server echo the request in one of several forms,
// and cuts the excerpt anywhere: the secret must not show in any form.
// Every secret starts with a marker that nothing else in the result has,
// so any part of it that leaks shows the marker, and a leaked Basic
// credential shows the encoding of the user and the marker.
func FuzzSecretsNeverShown(f *testing.F) {
	for _, s := range []string{"pässwörd-Ωmega", "a/b#c?d@e", "sp ace", "%41%zz", "'q' \"d\"", "emoji😀", "x\x7f\x01"} {
		for where := range uint8(7) {
			f.Add(s, where, where%3, uint16(40+10*int(where)))
		}
	}
	srv := echoServer(f)
	host := strings.TrimPrefix(srv, "http://")
	const marker, user = "Zq7", "fz"
	basicHead := b64(user + ":" + marker)
	f.Fuzz(func(t *testing.T, s string, where, mode uint8, cut uint16) {
		if len(s) > 64 {
			return
		}
		secret := marker + strings.ToValidUTF8(s, "\uFFFD")
		path := "/" + []string{"raw", "py", "go"}[mode%3]
		args := map[string]any{"url": srv + path, "excerpt_length": int(cut % 300), "timeout": 1}
		switch where % 7 {
		case 0:
			args["url"] = "http://" + user + ":" + secret + "@" + host + path
		case 1:
			args["url"] = "http://" + user + ":" + escapeUserinfo(secret) + "@" + host + path
		case 2:
			args["token"], args["token_url"] = "tok", "http://"+user+":"+secret+"@"+host+path
		case 3:
			args["url_username"], args["url_password"] = user, secret
		case 4:
			name := []string{"Authorization", "X-Api-Key", "Cookie", "X-Auth-Token", "Proxy-Authorization"}[int(cut)%5]
			args["headers"] = map[string]any{name: secret}
		case 5:
			args["headers"] = "X-Api-Key=" + secret
		case 6:
			args["headers"] = map[string]any{"Authorization": "Bearer " + secret}
		}
		_, out := verify(t, context.Background(), args)
		for _, leak := range []string{marker, basicHead} {
			if shows(out, leak) {
				t.Fatalf("secret %q leaked as %q:\n%s", secret, leak, out)
			}
		}
	})
}

// escapeUserinfo percent-encodes what a URL's password must not hold raw.
func escapeUserinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || strings.IndexByte("%:/?#[]@'\"", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

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
