package ansible

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func urlSpec() Spec {
	return Spec{
		Name: "fetcher",
		Options: map[string]Option{
			"url":      {Type: Str},
			"mirrors":  {Type: List, Elements: Str},
			"endpoint": {Type: Str, EnvFallback: []string{"ZDT_TEST_ENDPOINT"}},
			"count":    {Type: Int},
		},
	}
}

type urlArgs struct {
	URL      string   `json:"url"`
	Mirrors  []string `json:"mirrors"`
	Endpoint string   `json:"endpoint"`
}

// TestURLPasswordsScrubbed: the password of a URL in any option, however a
// parser splits the URL, is scrubbed, with the Basic credentials a client
// sends for it, and the invocation shows the URL without it.
func TestURLPasswordsScrubbed(t *testing.T) {
	// echoURL fails with everything a client might say about the URL:
	// the URL, Go's parse error, and the Authorization header it sends.
	echoURL := func(_ context.Context, _ *Module, a urlArgs) (Result, error) {
		var msgs []string
		for _, s := range append([]string{a.URL, a.Endpoint}, a.Mirrors...) {
			if s == "" {
				continue
			}
			msgs = append(msgs, fmt.Sprintf("GET %q", s))
			u, err := url.Parse(s)
			if err != nil {
				msgs = append(msgs, err.Error())
				continue
			}
			if p, ok := u.User.Password(); ok {
				msgs = append(msgs, "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+p)))
			}
		}
		return Result{Data: map[string]any{"urls": msgs}}, fmt.Errorf("failed: %s", strings.Join(msgs, "; "))
	}
	tests := []struct {
		name  string
		args  map[string]any
		env   string
		leaks []string
	}{
		{name: "plain", args: map[string]any{"url": "http://u:Pw-9z8y@h/t"}, leaks: []string{"Pw-9z8y", "dTpQdy05ejh5"}},
		{name: "escaped", args: map[string]any{"url": "http://u:Pw%2D9z%238y@h/t"}, leaks: []string{"Pw%2D9z", "Pw-9z#8y", "9z%238y"}},
		{name: "# in the password", args: map[string]any{"url": "http://u:Qv7#Zk9@h/t"}, leaks: []string{"Qv7", "Zk9"}},
		{name: "/ in the password", args: map[string]any{"url": "http://u:Qv7/Zk9@h/t"}, leaks: []string{"Qv7", "Zk9"}},
		{name: "? in the password", args: map[string]any{"url": "https://u:Qv7?Zk9@h:8443/t"}, leaks: []string{"Qv7", "Zk9"}},
		{name: "@ in the password", args: map[string]any{"url": "http://u:Qv7@Zk9@h/t"}, leaks: []string{"Qv7", "Zk9"}},
		{name: "space in the password", args: map[string]any{"url": "http://u:Qv7 Zk9@h/t"}, leaks: []string{"Qv7", "Zk9"}},
		{name: "list element", args: map[string]any{"mirrors": []string{"http://h/ok", "http://u:Mw-9z8y@h2/"}}, leaks: []string{"Mw-9z8y"}},
		{name: "env fallback", env: "http://u:Ev-9z8y@h/", args: map[string]any{}, leaks: []string{"Ev-9z8y"}},
		{name: "inside a dict given to a string option", args: map[string]any{"url": map[string]any{"k": "http://u:Vv-9z8y@h/"}}, leaks: []string{"Vv-9z8y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ZDT_TEST_ENDPOINT", tt.env)
			b, _ := json.Marshal(tt.args)
			out, _, _ := runArgs(t, context.Background(), urlSpec(), string(b), echoURL)
			if !strings.Contains(string(out), "********") {
				t.Errorf("nothing scrubbed; the URL did not reach the output:\n%s", out)
			}
			for _, leak := range tt.leaks {
				if strings.Contains(string(out), leak) {
					t.Errorf("output contains %q:\n%s", leak, out)
				}
			}
		})
	}
}

// TestURLSecretsKeepPorts: a URL with an @ in its path and no password
// keeps its port, which only a reading past the path could take for a
// password.
func TestURLSecretsKeepPorts(t *testing.T) {
	for _, s := range []string{"http://h:8080/users/@me", "https://h:443?q=@x"} {
		if got := scrubString("port 8080 443", appendSecrets(URLSecrets(s))); got != "port 8080 443" {
			t.Errorf("URLSecrets(%q) scrubs ports: %q", s, got)
		}
	}
}

func appendSecrets(ss []string) []string {
	var out []string
	for _, s := range ss {
		out = appendSecret(out, s)
	}
	return out
}
