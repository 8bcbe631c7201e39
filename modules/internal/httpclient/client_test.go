package httpclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// deploy_verify's tests cover TLS and redirects through the module; these
// hold the shared rules the probe of deploy_watch relies on too.

func TestCredentialHeader(t *testing.T) {
	for name, want := range map[string]bool{"Authorization": true, "X-Api-Key": true, "Cookie": true, "X-Session-Id": true,
		"Accept": false, "X-Request-Id": false, "Host": false} {
		if CredentialHeader(name) != want {
			t.Errorf("CredentialHeader(%q) = %v", name, !want)
		}
	}
}

func TestRedirectDropsCredentialsToAnotherHost(t *testing.T) {
	seen := make(chan http.Header, 1)
	other := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen <- r.Header }))
	defer other.Close()
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/there", http.StatusFound)
	}))
	defer first.Close()
	c, err := New(&ansible.Module{}, first.URL, Options{ValidateCerts: true})
	if err != nil {
		t.Fatal(err)
	}
	req, err := NewRequest(context.Background(), "get", first.URL, nil, map[string]any{"X-Api-Key": "k", "Accept": "text/plain"}, "u", "p")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := <-seen
	if h.Get("X-Api-Key") != "" || h.Get("Authorization") != "" || h.Get("Accept") != "text/plain" {
		t.Errorf("headers at the other host: %v", h)
	}
}

func TestAbsoluteHTTP(t *testing.T) {
	for s, want := range map[string]bool{"http://a/": true, "https://a:1/x": true, "ftp://a/": false, "/health": false, "http://": false} {
		if AbsoluteHTTP(s) != want {
			t.Errorf("AbsoluteHTTP(%q) = %v", s, !want)
		}
	}
}
