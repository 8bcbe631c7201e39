package app

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// StaleToken is what /token serves with -broken stale-token. The token file is
// ignored, as by a release that kept serving an old configuration, so a deploy
// check "served token == token just written" fails.
const StaleToken = "stale"

// MaxSlow caps /slow?ms=, so a typo cannot hold a connection for hours.
const MaxSlow = 60 * time.Second

// App is what one app process serves. All fields are fixed at start.
type App struct {
	Version    string
	Host       string // the listen address, sent as X-App-Host
	Token      string // from the token file; empty if there is none
	HealthFile string
	Broken     Broken
	// ErrorShare is the share of requests -broken errors fails.
	ErrorShare float64
	PID        int
	Started    time.Time

	// AuthUser and AuthPassword, when set, guard /token with basic auth.
	AuthUser, AuthPassword string

	// served counts the requests -broken errors may fail; a pointer, as
	// tests copy App values.
	served *atomic.Uint64
}

// VersionInfo is the JSON body of /version.
type VersionInfo struct {
	Version string `json:"version"`
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Started string `json:"started"` // RFC 3339
}

// Handler serves the endpoints. Every response, errors included, carries
// X-App-Version and X-App-Host, so a client behind a load balancer can tell
// which process answered.
func (a *App) Handler() http.Handler {
	a.served = new(atomic.Uint64)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.root)
	mux.HandleFunc("GET /version", a.version)
	mux.HandleFunc("GET /token", a.token)
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /slow", a.slow)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Version", a.Version)
		w.Header().Set("X-App-Host", a.Host)
		if a.injectError(r.URL.Path) {
			text(w, http.StatusInternalServerError, "injected error (-broken errors)")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// injectError reports whether -broken errors fails this request. The
// deploy's own checks (/token, /healthz, /version) always pass, so the
// release gets through verify and the health checks; of the other
// requests, counted per process, exactly ErrorShare fail, spread evenly
// (with 0.2 every fifth), so a test sees the same count every run.
func (a *App) injectError(path string) bool {
	if a.Broken != BrokenErrors {
		return false
	}
	switch path {
	case "/token", "/healthz", "/version":
		return false
	}
	// Request n fails when n*share passes a whole number; the slack
	// keeps float rounding (5*0.2 = 0.99999...) from moving a failure.
	n := float64(a.served.Add(1))
	const slack = 1e-9
	return math.Floor(n*a.ErrorShare+slack) > math.Floor((n-1)*a.ErrorShare+slack)
}

func (a *App) root(w http.ResponseWriter, _ *http.Request) {
	text(w, http.StatusOK, a.Version)
}

func (a *App) version(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(VersionInfo{
		Version: a.Version,
		Host:    a.Host,
		PID:     a.PID,
		Started: a.Started.UTC().Format(time.RFC3339),
	})
}

func (a *App) token(w http.ResponseWriter, r *http.Request) {
	switch {
	case a.AuthUser != "" && !a.authorized(r):
		w.Header().Set("WWW-Authenticate", `Basic realm="demoapp", charset="UTF-8"`)
		text(w, http.StatusUnauthorized, "unauthorized")
	case a.Broken == BrokenStaleToken:
		text(w, http.StatusOK, StaleToken)
	case a.Token == "":
		text(w, http.StatusNotFound, "no token: the app was started without -token-file")
	default:
		text(w, http.StatusOK, a.Token)
	}
}

func (a *App) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(user), []byte(a.AuthUser)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(a.AuthPassword)) == 1
}

func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	if a.Broken == BrokenUnhealthy {
		text(w, http.StatusInternalServerError, "unhealthy")
		return
	}
	// Checked on every request, so touching or removing the file takes
	// effect at once, as with apps whose health check reads such a file.
	if a.HealthFile != "" {
		if _, err := os.Stat(a.HealthFile); err == nil {
			text(w, http.StatusServiceUnavailable, "draining")
			return
		}
	}
	text(w, http.StatusOK, "ok")
}

func (a *App) slow(w http.ResponseWriter, r *http.Request) {
	d, err := slowDuration(r.URL.Query().Get("ms"))
	if err != nil {
		text(w, http.StatusBadRequest, err.Error())
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		text(w, http.StatusOK, a.Version)
	case <-r.Context().Done():
		// The client is gone; nobody would read an answer.
	}
}

// slowDuration reads the ms parameter of /slow, capped at MaxSlow.
func slowDuration(ms string) (time.Duration, error) {
	if ms == "" {
		return 0, fmt.Errorf("/slow needs ms, the milliseconds to wait, such as /slow?ms=1500")
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("/slow?ms=%s: want a whole number of milliseconds, 0 or more", ms)
	}
	// Compared in milliseconds first, as huge values overflow a Duration.
	return time.Duration(min(n, MaxSlow.Milliseconds())) * time.Millisecond, nil
}

func text(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, body)
}
