package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, string(body)
}

func TestHandler(t *testing.T) {
	const text = "text/plain; charset=utf-8"
	tests := []struct {
		name       string
		app        App
		path       string
		healthFile bool // create the health file first
		wantStatus int
		wantBody   string
		wantType   string
	}{
		{name: "root", path: "/", wantStatus: 200, wantBody: "v1\n", wantType: text},
		{name: "token", app: App{Token: "abc123"}, path: "/token", wantStatus: 200, wantBody: "abc123\n", wantType: text},
		{name: "no token file", path: "/token", wantStatus: 404, wantBody: "no token: the app was started without -token-file\n", wantType: text},
		{name: "healthy", path: "/healthz", wantStatus: 200, wantBody: "ok\n", wantType: text},
		{name: "draining", path: "/healthz", healthFile: true, wantStatus: 503, wantBody: "draining\n", wantType: text},
		{name: "slow", path: "/slow?ms=20", wantStatus: 200, wantBody: "v1\n", wantType: text},
		{name: "slow without ms", path: "/slow", wantStatus: 400, wantBody: "/slow needs ms, the milliseconds to wait, such as /slow?ms=1500\n", wantType: text},
		{name: "unknown path", path: "/nope", wantStatus: 404, wantBody: "404 page not found\n", wantType: text},
		{name: "stale token", app: App{Token: "abc123", Broken: BrokenStaleToken}, path: "/token", wantStatus: 200, wantBody: StaleToken + "\n", wantType: text},
		{name: "stale token without file", app: App{Broken: BrokenStaleToken}, path: "/token", wantStatus: 200, wantBody: StaleToken + "\n", wantType: text},
		{name: "unhealthy", app: App{Broken: BrokenUnhealthy}, path: "/healthz", wantStatus: 500, wantBody: "unhealthy\n", wantType: text},
		{name: "unhealthy even if draining", app: App{Broken: BrokenUnhealthy}, path: "/healthz", healthFile: true, wantStatus: 500, wantBody: "unhealthy\n", wantType: text},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.app
			a.Version, a.Host = "v1", "127.0.0.11:8081"
			a.HealthFile = filepath.Join(t.TempDir(), "down")
			if tt.healthFile {
				if err := os.WriteFile(a.HealthFile, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			srv := httptest.NewServer(a.Handler())
			defer srv.Close()

			resp, body := get(t, srv.URL+tt.path)
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			// Every answer names the process, errors included.
			if got := resp.Header.Get("X-App-Version"); got != "v1" {
				t.Errorf("X-App-Version = %q, want v1", got)
			}
			if got := resp.Header.Get("X-App-Host"); got != "127.0.0.11:8081" {
				t.Errorf("X-App-Host = %q, want 127.0.0.11:8081", got)
			}
		})
	}
}

// TestBrokenErrors checks that -broken errors fails exactly its share of
// the requests other than /token, /healthz and /version, evenly spread,
// and none of those three.
func TestBrokenErrors(t *testing.T) {
	tests := []struct {
		name  string
		share float64
		paths []string
		want  string // one letter per request: . ok, x 500
	}{
		{"a fifth", 0.2, []string{"/", "/", "/", "/", "/", "/slow?ms=0", "/", "/", "/", "/"}, "....x....x"},
		{"checks never fail", 0.2, []string{"/", "/token", "/healthz", "/version", "/", "/", "/token", "/", "/"}, "........x"},
		{"unknown paths count", 0.2, []string{"/nope", "/nope", "/nope", "/nope", "/"}, "....x"},
		{"half", 0.5, []string{"/", "/", "/", "/", "/", "/"}, ".x.x.x"},
		{"a third", 1.0 / 3, []string{"/", "/", "/", "/", "/", "/"}, "..x..x"},
		{"all", 1, []string{"/", "/", "/"}, "xxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := App{Version: "v2", Host: "127.0.0.11:8081", Token: "abc", Broken: BrokenErrors, ErrorShare: tt.share}
			srv := httptest.NewServer(a.Handler())
			defer srv.Close()
			var got strings.Builder
			for _, p := range tt.paths {
				resp, body := get(t, srv.URL+p)
				switch {
				case resp.StatusCode == 500 && body == "injected error (-broken errors)\n":
					got.WriteByte('x')
				case resp.StatusCode == 500:
					t.Fatalf("GET %s = 500 %q, want the injected error's body", p, body)
				default:
					got.WriteByte('.')
				}
				if v := resp.Header.Get("X-App-Version"); v != "v2" {
					t.Errorf("GET %s: X-App-Version %q, want v2 (errors name the process too)", p, v)
				}
			}
			if got.String() != tt.want {
				t.Errorf("answers %s, want %s (paths %v)", got.String(), tt.want, tt.paths)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	started := time.Date(2026, 5, 4, 3, 2, 1, 0, time.FixedZone("CEST", 2*60*60))
	a := App{Version: "v2", Host: "127.0.0.12:8081", PID: 4242, Started: started}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	resp, body := get(t, srv.URL+"/version")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /version = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got VersionInfo
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("GET /version: %v in %q", err, body)
	}
	want := VersionInfo{Version: "v2", Host: "127.0.0.12:8081", PID: 4242, Started: "2026-05-04T01:02:01Z"}
	if got != want {
		t.Errorf("GET /version = %+v, want %+v", got, want)
	}
}

// TestHealthFileToggle checks that the health file is looked at on every
// request, not once at start.
func TestHealthFileToggle(t *testing.T) {
	a := App{Version: "v1", HealthFile: filepath.Join(t.TempDir(), "down")}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	steps := []struct {
		do   func() error
		want int
	}{
		{func() error { return nil }, 200},
		{func() error { return os.WriteFile(a.HealthFile, nil, 0o644) }, 503},
		{func() error { return os.Remove(a.HealthFile) }, 200},
		{func() error { return os.WriteFile(a.HealthFile, []byte("deploy v2"), 0o644) }, 503},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatal(err)
		}
		if resp, _ := get(t, srv.URL+"/healthz"); resp.StatusCode != s.want {
			t.Errorf("step %d: GET /healthz = %d, want %d", i, resp.StatusCode, s.want)
		}
	}
}

// TestSlowClientCancel checks that /slow gives up when the client does,
// instead of holding the handler for the full time.
func TestSlowClientCancel(t *testing.T) {
	a := App{Version: "v1"}
	srv := httptest.NewServer(a.Handler())

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow?ms=60000", nil)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GET /slow?ms=60000 with a 100ms deadline: error = %v, want deadline exceeded", err)
	}
	// Close waits for running handlers, so it only returns quickly if the
	// handler saw the cancel.
	start := time.Now()
	srv.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("handler ran on for %v after the client left", d)
	}
}

func TestSlowDuration(t *testing.T) {
	tests := []struct {
		ms      string
		want    time.Duration
		wantErr string
	}{
		{ms: "0", want: 0},
		{ms: "1500", want: 1500 * time.Millisecond},
		{ms: "60000", want: time.Minute},
		{ms: "60001", want: time.Minute},
		{ms: "9223372036854775807", want: time.Minute},
		{ms: "", wantErr: "/slow needs ms"},
		{ms: "-1", wantErr: "/slow?ms=-1: want a whole number"},
		{ms: "1.5", wantErr: "/slow?ms=1.5: want a whole number"},
		{ms: "1s", wantErr: "/slow?ms=1s: want a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.ms, func(t *testing.T) {
			got, err := slowDuration(tt.ms)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("slowDuration(%q) error = %v, want %q", tt.ms, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("slowDuration(%q) = %v, %v; want %v", tt.ms, got, err, tt.want)
			}
		})
	}
}
