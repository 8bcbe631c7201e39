package haproxytest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// App is a small HTTP application to put behind HAProxy. GET / answers its
// name; GET /sleep?d=2s holds the request for that long first; GET
// /hold?d=30s holds it until Release is called, or for d at most. Every
// request is counted, health checks included.
type App struct {
	Name string
	Addr string

	hits   atomic.Int64
	active atomic.Int64
	srv    *http.Server
	mu     sync.Mutex
	ends   []time.Time
	held   chan struct{} // closed by Release
	once   sync.Once
}

// StartApp starts an App on a free 127.0.0.1 port.
func StartApp(t testing.TB, name string) *App {
	t.Helper()
	return StartAppAt(t, name, "127.0.0.1:0")
}

// ReserveAddr returns a free 127.0.0.1 address with nothing listening on it,
// for a server that starts later (StartAppAt).
func ReserveAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// StartAppAt starts an App on addr.
func StartAppAt(t testing.TB, name, addr string) *App {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("app %s: %v", name, err)
	}
	a := &App{Name: name, Addr: l.Addr().String(), held: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		a.active.Add(1)
		defer a.active.Add(-1)
		if d, err := time.ParseDuration(r.URL.Query().Get("d")); err == nil {
			var release <-chan struct{}
			switch {
			case strings.HasPrefix(r.URL.Path, "/sleep"):
			case strings.HasPrefix(r.URL.Path, "/hold"):
				release = a.held
			default:
				d = 0
			}
			select {
			case <-time.After(d):
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("X-Server", name)
		fmt.Fprintln(w, name)
		a.mu.Lock()
		a.ends = append(a.ends, time.Now())
		a.mu.Unlock()
	})
	a.srv = &http.Server{Handler: mux}
	go a.srv.Serve(l)
	t.Cleanup(a.Stop)
	return a
}

// Hits counts the requests received, health checks included.
func (a *App) Hits() int { return int(a.hits.Load()) }

// Active counts the requests being served now.
func (a *App) Active() int { return int(a.active.Load()) }

// Release ends every /hold request, now and from now on.
func (a *App) Release() { a.once.Do(func() { close(a.held) }) }

// Stop closes the listener and every connection at once.
func (a *App) Stop() { a.srv.Close() }

// Get sends GET path through addr (a frontend) and returns the X-Server of
// the answer, the status code, and when the answer ended.
func Get(ctx context.Context, addr, path string) (server string, status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return "", 0, err
	}
	// A fresh connection per request: HAProxy balances per connection in
	// some modes, and a test must see every request routed anew.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("X-Server"), resp.StatusCode, err
}
