package sim

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// app is a built-in backend; guarded by Sim.mu.
type app struct {
	cfg     App
	healthy bool
	served  int64
}

func (s *Sim) startApps() error {
	s.mu.Lock()
	s.apps = map[string]*app{}
	s.mu.Unlock()
	for _, c := range s.cfg.Apps {
		a := &app{cfg: c, healthy: true}
		addr := net.JoinHostPort(c.Address, strconv.Itoa(c.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("app %q: listen on %s: %w (is your own app already running there? then drop it from apps:)", c.Name, addr, err)
		}
		s.mu.Lock()
		s.apps[c.Name] = a
		s.mu.Unlock()
		s.serveListener(ln, s.appHandler(a))
		s.endpoints.Apps = append(s.endpoints.Apps, AppEndpoint{Name: c.Name, Address: ln.Addr().String(), URL: "http://" + ln.Addr().String()})
	}
	return nil
}

func (s *Sim) appHandler(a *app) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		healthy := a.healthy
		if r.URL.Path != "/healthz" {
			a.served++
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/healthz" {
			if !healthy {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, "unhealthy\n")
				return
			}
			_, _ = io.WriteString(w, "ok\n")
			return
		}
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			waitCtx(r.Context(), d)
		}
		_, _ = io.WriteString(w, a.cfg.Name+"\n")
	})
}

// SetAppHealthy makes built-in app name answer /healthz with 200 (true)
// or 503 (false).
func (s *Sim) SetAppHealthy(name string, healthy bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[name]
	if a == nil {
		return fmt.Errorf("no app %q in the config's apps", name)
	}
	a.healthy = healthy
	return nil
}

// appStates lists the apps; the caller holds Sim.mu.
func (s *Sim) appStates() []AppState {
	var out []AppState
	for _, c := range s.cfg.Apps {
		if a := s.apps[c.Name]; a != nil {
			out = append(out, AppState{Name: c.Name, Address: net.JoinHostPort(c.Address, strconv.Itoa(c.Port)), Healthy: a.healthy, Served: a.served})
		}
	}
	return out
}
