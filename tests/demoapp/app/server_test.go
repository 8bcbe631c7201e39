package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/syncbuf"
	"github.com/zerodowntime/rolling/tests/testpki"
)

func testConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("  tok-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Config{
		Listen:          "127.0.0.1:0",
		Version:         "v1",
		TokenFile:       token,
		PIDFile:         filepath.Join(dir, "pid"),
		ShutdownTimeout: 5 * time.Second,
		StartTimeout:    time.Second,
	}
}

type result struct {
	status int
	body   string
	err    error
}

func getAsync(url string) <-chan result {
	c := make(chan result, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			c <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		c <- result{resp.StatusCode, string(body), err}
	}()
	return c
}

// TestServeGraceful checks the zero-downtime contract: once told to stop, the
// server refuses new connections but finishes the request in flight.
func TestServeGraceful(t *testing.T) {
	cfg := testConfig(t)
	logs := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	s, err := Start(ctx, cfg, log.New(logs, "", 0))
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	if pid, err := readPIDFile(cfg.PIDFile); err != nil || pid != os.Getpid() {
		t.Errorf("pid file after Start() = %d, %v; want %d", pid, err, os.Getpid())
	}
	// The token is read once: a later write must not change what is served.
	if err := os.WriteFile(cfg.TokenFile, []byte("tok-2"), 0o644); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()

	url := "http://" + s.Addr()
	if r := <-getAsync(url + "/token"); r.err != nil || r.body != "tok-1\n" {
		t.Errorf("GET /token = %q, %v; want tok-1 as read at start", r.body, r.err)
	}
	slow := getAsync(url + "/slow?ms=800")
	time.Sleep(200 * time.Millisecond) // let the request reach the handler
	cancel(errors.New("test stop"))

	waitRefused(t, s.Addr())
	if r := <-slow; r.err != nil || r.status != 200 || r.body != "v1\n" {
		t.Errorf("in-flight GET /slow = %d %q, %v; want 200 v1", r.status, r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve() error = %v", err)
	}
	if _, err := os.Stat(cfg.PIDFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after Serve(): %v, want it removed", err)
	}
	for _, line := range []string{"starting version v1", "listening on " + s.Addr(), "shutting down (test stop)", "stopped"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, logs)
		}
	}
}

// waitRefused fails the test unless addr stops accepting connections soon.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		conn.Close()
	}
	t.Errorf("%s still accepts connections after the stop", addr)
}

func TestServeShutdownTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.ShutdownTimeout = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Start(ctx, cfg, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()

	slow := getAsync("http://" + s.Addr() + "/slow?ms=10000")
	time.Sleep(200 * time.Millisecond)
	cancel()
	err = <-served
	if err == nil || !strings.Contains(err.Error(), "still running after -shutdown-timeout 100ms were cut off") {
		t.Errorf("Serve() error = %v, want requests cut off", err)
	}
	if r := <-slow; r.err == nil {
		t.Errorf("cut-off GET /slow = %d %q, want a connection error", r.status, r.body)
	}
	if _, err := os.Stat(cfg.PIDFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after Serve(): %v, want it removed", err)
	}
}

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"missing token file", func(c *Config) { c.TokenFile += ".missing" }, "read -token-file: open"},
		{"empty token file", func(c *Config) { os.WriteFile(c.TokenFile, []byte(" \n"), 0o644) }, "is empty; the deploy must write"},
		{"port in use", func(c *Config) { c.Listen = busy.Addr().String() }, "address already in use; is the previous process still running?"},
		{"missing auth file", func(c *Config) { c.AuthFile = c.TokenFile + ".missing" }, "read -auth-file: open"},
		{"auth file without password", func(c *Config) { c.AuthFile = c.TokenFile }, "want one line user:password"},
		{"tls key missing", func(c *Config) { c.TLSListen, c.TLSCert, c.TLSKey = "127.0.0.1:0", c.TokenFile, c.TokenFile+".key" }, "-tls-cert/-tls-key: open"},
		{"pid file directory missing", func(c *Config) { c.PIDFile = filepath.Join(c.PIDFile, "x", "pid") }, "write -pid-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.change(&cfg)
			s, err := Start(context.Background(), cfg, log.New(io.Discard, "", 0))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Start() = %v, %v; want error containing %q", s, err, tt.wantErr)
			}
		})
	}
}

// TestStartDelayCanceled checks that SIGTERM during a slow boot stops the app
// before it listens or writes its pid file.
func TestStartDelayCanceled(t *testing.T) {
	cfg := testConfig(t)
	cfg.StartDelay = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Start(ctx, cfg, log.New(io.Discard, "", 0)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start() error = %v, want the context's", err)
	}
	if _, err := os.Stat(cfg.PIDFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file: %v, want none", err)
	}
}

func TestMainExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantLog  string
	}{
		{"help", []string{"-h"}, 0, "Usage: demoapp [flags]"},
		{"unknown flag", []string{"-x"}, 2, "flag provided but not defined: -x\nUsage"},
		{"invalid config", []string{"-broken", "sometimes"}, 2, `-broken "sometimes": want one of`},
		{"nostart", []string{"-broken", "nostart", "-version", "v5"}, 1, "release v5 is broken (-broken nostart): refusing to start"},
		{"stop without pid file", []string{"-stop", "-pid-file", filepath.Join(dir, "none")}, 0, "nothing to stop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := Main(tt.args, &out); code != tt.wantCode {
				t.Errorf("Main(%q) = %d, want %d; output:\n%s", tt.args, code, tt.wantCode, &out)
			}
			if !strings.Contains(out.String(), tt.wantLog) {
				t.Errorf("Main(%q) output lacks %q:\n%s", tt.args, tt.wantLog, &out)
			}
		})
	}
}

// TestServeTLSAndAuth: -tls-listen serves the same endpoints over HTTPS
// with the given certificate, and -auth-file guards /token on both
// listeners while the rest stays open.
func TestServeTLSAndAuth(t *testing.T) {
	cfg := testConfig(t)
	dir := t.TempDir()
	pki, err := testpki.Write(dir, net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSListen, cfg.TLSCert, cfg.TLSKey = "127.0.0.1:0", pki.Cert, pki.Key
	cfg.AuthFile = filepath.Join(dir, "auth")
	if err := os.WriteFile(cfg.AuthFile, []byte("deploy:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, cfg, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve() = %v", err)
		}
	}()

	caPEM, err := os.ReadFile(pki.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	get := func(url, user, pass string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	https := "https://" + s.tlsLn.Addr().String()
	for _, base := range []string{https, "http://" + s.Addr()} {
		if code, body := get(base+"/token", "deploy", "s3cret"); code != 200 || body != "tok-1\n" {
			t.Errorf("%s/token with the credentials = %d %q, want 200 tok-1", base, code, body)
		}
		for _, pass := range []string{"", "wrong"} {
			if code, body := get(base+"/token", "deploy", pass); code != 401 || strings.Contains(body, "tok-1") {
				t.Errorf("%s/token with password %q = %d %q, want 401 without the token", base, pass, code, body)
			}
		}
		if code, _ := get(base+"/healthz", "", ""); code != 200 {
			t.Errorf("%s/healthz = %d, want 200 without credentials", base, code)
		}
	}
}
