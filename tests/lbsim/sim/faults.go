package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Faults are injected failures. Set them in the config's faults: section,
// with Sim.SetFaults, or with PUT/PATCH /faults on the admin endpoint.
type Faults struct {
	// Hetzner applies to the Hetzner Cloud API.
	Hetzner APIFaults `yaml:"hetzner,omitempty" json:"hetzner"`
	// AWS applies to the ELBv2 Query API.
	AWS APIFaults `yaml:"aws,omitempty" json:"aws"`
	// Metadata applies to every host's metadata server.
	Metadata MetadataFaults `yaml:"metadata,omitempty" json:"metadata"`
	// Actions makes Hetzner actions end with status "error".
	Actions ActionFaults `yaml:"actions,omitempty" json:"actions"`
	// Health overrides health check results of single hosts.
	Health []HealthFault `yaml:"health,omitempty" json:"health"`
}

// APIFaults are the failures of one API. Each request that matches
// Operations first waits Latency, then the first rule that applies wins:
// ThrottleNext, FailNext, ErrorRate.
type APIFaults struct {
	// ErrorRate is the fraction (0..1) of requests answered with
	// ErrorStatus (500 or 503; default 500).
	ErrorRate   float64 `yaml:"error_rate,omitempty" json:"error_rate,omitempty"`
	ErrorStatus int     `yaml:"error_status,omitempty" json:"error_status,omitempty"`
	// ThrottleNext throttles the next N requests: Hetzner 429
	// rate_limit_exceeded, AWS 400 Throttling.
	ThrottleNext int `yaml:"throttle_next,omitempty" json:"throttle_next,omitempty"`
	// FailNext fails the next N requests with FailCode, an API error code
	// such as "conflict", "locked" (Hetzner) or "InvalidTarget" (AWS).
	FailNext int    `yaml:"fail_next,omitempty" json:"fail_next,omitempty"`
	FailCode string `yaml:"fail_code,omitempty" json:"fail_code,omitempty"`
	// Latency is added to every matching request.
	Latency Duration `yaml:"latency,omitempty" json:"latency,omitempty"`
	// Operations limits the faults to operations whose name contains one of
	// these strings, e.g. "remove_target", "DeregisterTargets" (see the
	// counters for the names). Empty means all operations.
	Operations []string `yaml:"operations,omitempty" json:"operations,omitempty"`
}

// MetadataFaults are APIFaults plus an outage.
type MetadataFaults struct {
	APIFaults `yaml:",inline"`
	// Down closes every metadata connection without an answer.
	Down bool `yaml:"down,omitempty" json:"down,omitempty"`
}

// ActionFaults make Hetzner target actions fail.
type ActionFaults struct {
	// FailNext makes the next N actions end with status error.
	FailNext int `yaml:"fail_next,omitempty" json:"fail_next,omitempty"`
	// FailRate is the fraction (0..1) of actions that fail.
	FailRate float64 `yaml:"fail_rate,omitempty" json:"fail_rate,omitempty"`
	// ErrorCode and ErrorMessage default to "action_failed", "Action failed".
	ErrorCode    string `yaml:"error_code,omitempty" json:"error_code,omitempty"`
	ErrorMessage string `yaml:"error_message,omitempty" json:"error_message,omitempty"`
}

// HealthFault overrides the health checks of one host.
type HealthFault struct {
	// Target is a host address, server name or id, or instance id; the
	// fault applies to every health check of that host.
	Target string `yaml:"target" json:"target"`
	// Mode is "fail", "pass" or "flap" (alternate: Period passing, then
	// Period failing, and so on, starting with passing).
	Mode   string   `yaml:"mode" json:"mode"`
	Period Duration `yaml:"period,omitempty" json:"period,omitempty"`
}

func (f *Faults) validate(field string) error {
	var errs []error
	for _, a := range []struct {
		name string
		f    *APIFaults
	}{{"hetzner", &f.Hetzner}, {"aws", &f.AWS}, {"metadata", &f.Metadata.APIFaults}} {
		p := field + "." + a.name
		if a.f.ErrorRate < 0 || a.f.ErrorRate > 1 {
			errs = append(errs, fmt.Errorf("%s.error_rate: must be between 0 and 1, got %v", p, a.f.ErrorRate))
		}
		if a.f.ErrorStatus != 0 && a.f.ErrorStatus != 500 && a.f.ErrorStatus != 503 {
			errs = append(errs, fmt.Errorf("%s.error_status: must be 500 or 503, got %d", p, a.f.ErrorStatus))
		}
		if a.f.FailNext > 0 && a.f.FailCode == "" && a.name != "metadata" {
			errs = append(errs, fmt.Errorf("%s.fail_code: is required with fail_next (e.g. conflict, locked, InvalidTarget)", p))
		}
		if a.f.ThrottleNext < 0 || a.f.FailNext < 0 {
			errs = append(errs, fmt.Errorf("%s: throttle_next and fail_next must not be negative", p))
		}
	}
	if f.Actions.FailRate < 0 || f.Actions.FailRate > 1 {
		errs = append(errs, fmt.Errorf("%s.actions.fail_rate: must be between 0 and 1, got %v", field, f.Actions.FailRate))
	}
	for i, h := range f.Health {
		p := fmt.Sprintf("%s.health[%d]", field, i)
		if h.Target == "" {
			errs = append(errs, fmt.Errorf("%s.target: is required (host address, server name or id, instance id)", p))
		}
		switch h.Mode {
		case "fail", "pass":
		case "flap":
			if h.Period <= 0 {
				errs = append(errs, fmt.Errorf("%s.period: flap needs a period > 0, e.g. \"2s\"", p))
			}
		default:
			errs = append(errs, fmt.Errorf("%s.mode: must be fail, pass or flap, got %q", p, h.Mode))
		}
	}
	return errors.Join(errs...)
}

// injection is what the fault layer decided for one API request.
type injection struct {
	latency  time.Duration
	throttle bool
	failCode string // FailNext
	status   int    // ErrorRate: 500 or 503
}

func (f *APIFaults) matches(op string) bool {
	if len(f.Operations) == 0 {
		return true
	}
	for _, o := range f.Operations {
		if strings.Contains(op, o) {
			return true
		}
	}
	return false
}

// decide consumes one request's worth of f; the caller holds the fault lock.
func (f *APIFaults) decide(op string) injection {
	if !f.matches(op) {
		return injection{}
	}
	in := injection{latency: f.Latency.D()}
	switch {
	case f.ThrottleNext > 0:
		f.ThrottleNext--
		in.throttle = true
	case f.FailNext > 0:
		f.FailNext--
		in.failCode = f.FailCode
		if in.failCode == "" {
			in.status = 500
		}
	case f.ErrorRate > 0 && rand.Float64() < f.ErrorRate:
		in.status = f.ErrorStatus
		if in.status == 0 {
			in.status = 500
		}
	}
	return in
}

// inject decides the faults for one request of api ("hetzner", "aws",
// "metadata") and sleeps the added latency.
func (s *Sim) inject(api, op string) (injection, bool) {
	s.faultMu.Lock()
	var in injection
	down := false
	switch api {
	case "hetzner":
		in = s.faults.Hetzner.decide(op)
	case "aws":
		in = s.faults.AWS.decide(op)
	case "metadata":
		in = s.faults.Metadata.decide(op)
		down = s.faults.Metadata.Down
	}
	s.faultMu.Unlock()
	if in.latency > 0 {
		t := time.NewTimer(in.latency)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
		}
	}
	return in, down
}

// actionFails consumes one action's worth of action faults.
func (s *Sim) actionFails() (code, msg string, fail bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	a := &s.faults.Actions
	switch {
	case a.FailNext > 0:
		a.FailNext--
		fail = true
	case a.FailRate > 0 && rand.Float64() < a.FailRate:
		fail = true
	}
	code, msg = a.ErrorCode, a.ErrorMessage
	if code == "" {
		code = "action_failed"
	}
	if msg == "" {
		msg = "Action failed"
	}
	return code, msg, fail
}

// healthOverride returns the forced result of a health check on host, if
// a health fault applies: pass=true/false and ok=true.
func (s *Sim) healthOverride(host string) (pass, ok bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for _, h := range s.faults.Health {
		if s.hostOf(h.Target) != host {
			continue
		}
		switch h.Mode {
		case "pass":
			return true, true
		case "fail":
			return false, true
		case "flap":
			n := time.Since(s.faultsSet) / h.Period.D()
			return n%2 == 0, true
		}
	}
	return false, false
}

// SetFaults replaces all faults; flapping periods restart now.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.validate("faults"); err != nil {
		return err
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = f.clone()
	s.faultsSet = time.Now()
	return nil
}

// clone copies f so that no slice is shared with the caller.
func (f Faults) clone() Faults {
	f.Hetzner.Operations = append([]string(nil), f.Hetzner.Operations...)
	f.AWS.Operations = append([]string(nil), f.AWS.Operations...)
	f.Metadata.Operations = append([]string(nil), f.Metadata.Operations...)
	f.Health = append([]HealthFault(nil), f.Health...)
	return f
}

// Faults returns the faults in force, with the remaining throttle_next and
// fail_next counts.
func (s *Sim) Faults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults.clone()
}
