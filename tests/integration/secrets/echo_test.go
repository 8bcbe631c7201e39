package secrets

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// Secrets that only deploy_verify's echo tests send. The URL passwords
// hold what a URL parser stops at; the other is not ASCII.
const (
	tokenURLPass = "zdtSECRET-tokenurl-5Fq/g+h=i"
	hashPass     = "zdtSECRET-hash-6Gr#h/i"
	apiKey       = "zdtSECRET-apikey-7Hs/j+k=l"
	authToken    = "zdtSECRET-authtoken-8It/m+n=o"
	cookie       = "zdtSECRET-cookie-9Ju/p+q=r"
	uniBearer    = "zdtSECRET-uni-pässwörd-Ωmega/1"
	kvTail       = "zdtSECRET-kvtail-1Kv/w+x=y"
)

// echoServer answers every request with its headers, as a debugging
// endpoint would; under /py as Python's json.dumps writes them (\uXXXX),
// under /cookie only the Cookie header.
func echoServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for k := range r.Header {
			if k == "Cookie" || r.URL.Path != "/cookie" {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			v := r.Header.Get(k)
			if strings.HasPrefix(r.URL.Path, "/py") {
				b, _ := json.Marshal(v)
				var ascii strings.Builder
				for _, c := range strings.ToValidUTF8(string(b), "") {
					if c > 0x7e {
						// Python's ensure_ascii, for the BMP this test uses.
						fmt.Fprintf(&ascii, `\u%04x`, c)
						continue
					}
					ascii.WriteRune(c)
				}
				v = ascii.String()
			}
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestEchoedCredentialsHidden runs deploy_verify at -vvv against a server
// that echoes every header: no URL password, credential header or \u form
// of one shows anywhere Ansible prints, nor does an excerpt cut inside one.
func TestEchoedCredentialsHidden(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	srv := echoServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	// Cuts the echo of /cookie in the middle of the cookie.
	cut := len("Cookie: sid=zdtSECRET-cookie-9J")
	tests := []struct {
		name    string
		args    map[string]any
		secrets []string
	}{
		{"token_url password", map[string]any{"url": srv.URL + "/raw", "token": "t", "token_url": "http://" + urlUser + ":" + tokenURLPass + "@" + host + "/raw"}, []string{tokenURLPass}},
		{"url password with #", map[string]any{"url": "http://" + urlUser + ":" + hashPass + "@" + host + "/raw"}, []string{hashPass}},
		{"credential headers", map[string]any{"url": srv.URL + "/raw", "headers": map[string]any{"X-Api-Key": apiKey, "X-Auth-Token": authToken, "Cookie": "sid=" + cookie}}, []string{apiKey, authToken, cookie}},
		{"excerpt cut in a header", map[string]any{"url": srv.URL + "/cookie", "headers": map[string]any{"Cookie": "sid=" + cookie}, "excerpt_length": cut}, []string{cookie}},
		{"\\u escapes", map[string]any{"url": srv.URL + "/py", "headers": map[string]any{"Authorization": "Bearer " + uniBearer}}, []string{uniBearer}},
		{"header as a k=v string", map[string]any{"url": srv.URL + "/raw", "headers": "X-Api-Key=" + apiKey}, []string{apiKey}},
		{"header as a k=v string that does not convert", map[string]any{"url": srv.URL + "/raw", "headers": "X-Api-Key=zdtSECRET-kv " + kvTail}, []string{kvTail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.args["expect_body"] = "never"
			tt.args["timeout"] = 1
			b, err := json.Marshal(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			run, res := coll.AdHoc(t, "zerodowntime.rolling.deploy_verify", string(b), ansibletest.Verbose(3))
			if res["failed"] != true {
				t.Errorf("want failure (expect_body never matches): %v", res)
			}
			out := run.Stdout + run.Stderr
			// Every form of each secret keeps its ASCII head: search that too.
			for _, s := range tt.secrets {
				head := s[:strings.IndexAny(s[len("zdtSECRET-"):], "-/#")+len("zdtSECRET-")]
				if l := leaks(out, s); len(l) > 0 || strings.Contains(out, head) {
					t.Errorf("%q shows (head %q): %v\n%s", s, head, l, out)
				}
			}
		})
	}
}
