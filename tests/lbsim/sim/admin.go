package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// Counts are the request counters since the start or the last reset.
type Counts struct {
	// API counts control-plane requests per operation, e.g.
	// "hetzner GET /load_balancers/{id}", "aws DescribeTargetHealth",
	// "metadata GET /latest/meta-data/instance-id".
	API map[string]int64 `json:"api"`
	// Proxied counts data-plane requests per target, e.g.
	// "hetzner/web-lb/80/app-1", "aws/web-tg/i-0000000000000001:8081";
	// "<kind>/<lb>/no-target" counts 503s for want of a target.
	Proxied map[string]int64 `json:"proxied"`
	// ProxiedByHost sums Proxied per host address, across both clouds.
	ProxiedByHost map[string]int64 `json:"proxied_by_host"`
}

func newCounts() Counts {
	return Counts{API: map[string]int64{}, Proxied: map[string]int64{}, ProxiedByHost: map[string]int64{}}
}

func (s *Sim) countAPI(op string) {
	s.countMu.Lock()
	s.counts.API[op]++
	s.countMu.Unlock()
}

func (s *Sim) countProxied(label, host string) {
	s.countMu.Lock()
	s.counts.Proxied[label]++
	if host != "" {
		s.counts.ProxiedByHost[host]++
	}
	s.countMu.Unlock()
}

// Counts returns a copy of the counters.
func (s *Sim) Counts() Counts {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	c := newCounts()
	for k, v := range s.counts.API {
		c.API[k] = v
	}
	for k, v := range s.counts.Proxied {
		c.Proxied[k] = v
	}
	for k, v := range s.counts.ProxiedByHost {
		c.ProxiedByHost[k] = v
	}
	return c
}

// ResetCounts sets every counter back to zero.
func (s *Sim) ResetCounts() {
	s.countMu.Lock()
	s.counts = newCounts()
	s.countMu.Unlock()
}

// State is a snapshot of every load balancer, target group and target.
type State struct {
	Hetzner HetznerState `json:"hetzner"`
	AWS     AWSState     `json:"aws"`
	Apps    []AppState   `json:"apps,omitempty"`
}

// HetznerState holds the Hetzner load balancers and actions.
type HetznerState struct {
	LoadBalancers []LoadBalancerState `json:"load_balancers"`
	Actions       []ActionState       `json:"actions"`
}

// LoadBalancerState is one Hetzner load balancer.
type LoadBalancerState struct {
	ID             int64          `json:"id"`
	Name           string         `json:"name"`
	RunningActions int            `json:"running_actions"`
	Targets        []Target       `json:"targets"`
	Services       []ServiceState `json:"services"`
}

// ServiceState is one service and the health of each backend on it.
type ServiceState struct {
	ListenPort      int           `json:"listen_port"`
	DestinationPort int           `json:"destination_port"`
	Address         string        `json:"address"`
	Members         []MemberState `json:"members"`
	// Leaving are targets removed from the load balancer whose in-flight
	// requests are still completing; they take no new requests and are
	// dropped from the list once idle.
	Leaving []MemberState `json:"leaving,omitempty"`
}

// MemberState is one backend host of a Hetzner service.
type MemberState struct {
	// Target is the counter label, e.g. "hetzner/web-lb/80/app-1".
	Target   string `json:"target"`
	ServerID int64  `json:"server_id,omitempty"`
	Host     string `json:"host"`
	Address  string `json:"address"`
	// Health is healthy, unhealthy or unknown.
	Health         string `json:"health"`
	Detail         string `json:"detail,omitempty"`
	HTTPStatusCode int    `json:"http_status_code,omitempty"`
	InRotation     bool   `json:"in_rotation"`
	InFlight       int    `json:"in_flight"`
}

// ActionState is one Hetzner action.
type ActionState struct {
	ID           int64  `json:"id"`
	Command      string `json:"command"`
	Status       string `json:"status"`
	LoadBalancer int64  `json:"load_balancer"`
	ErrorCode    string `json:"error_code,omitempty"`
}

// AWSState holds the target groups.
type AWSState struct {
	TargetGroups []TargetGroupState `json:"target_groups"`
}

// TargetGroupState is one target group.
type TargetGroupState struct {
	ARN     string           `json:"arn"`
	Name    string           `json:"name"`
	Targets []AWSTargetState `json:"targets"`
}

// AWSTargetState is one registered or draining target.
type AWSTargetState struct {
	ID          string `json:"id"`
	Port        int    `json:"port"`
	Host        string `json:"host"`
	Address     string `json:"address"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	InRotation  bool   `json:"in_rotation"`
	InFlight    int    `json:"in_flight"`
	// AvailabilityZone is the one an ip target was registered with.
	AvailabilityZone string `json:"availability_zone,omitempty"`
}

// AppState is a built-in backend.
type AppState struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Healthy bool   `json:"healthy"`
	Served  int64  `json:"served"`
}

// State returns a snapshot of the whole world.
func (s *Sim) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Hetzner: HetznerState{LoadBalancers: []LoadBalancerState{}, Actions: []ActionState{}}, AWS: AWSState{TargetGroups: []TargetGroupState{}}}
	for _, lb := range s.hz.lbs {
		ls := LoadBalancerState{ID: lb.cfg.ID, Name: lb.cfg.Name, RunningActions: lb.running, Targets: append([]Target{}, lb.targets...)}
		for _, svc := range lb.services {
			ss := ServiceState{ListenPort: svc.port, DestinationPort: svc.cfg.DestinationPort, Address: svc.addr, Members: []MemberState{}}
			for _, m := range svc.leaving {
				ss.Leaving = append(ss.Leaving, MemberState{
					Target: m.label, ServerID: m.serverID, Host: m.host, Address: m.addr,
					Health: m.status, Detail: m.detail, HTTPStatusCode: m.httpCode, InFlight: m.inflight,
				})
			}
			for _, k := range svc.order {
				m := svc.members[k]
				ss.Members = append(ss.Members, MemberState{
					Target: m.label, ServerID: m.serverID, Host: m.host, Address: m.addr,
					Health: m.status, Detail: m.detail, HTTPStatusCode: m.httpCode,
					InRotation: m.status == hzHealthy, InFlight: m.inflight,
				})
			}
			ls.Services = append(ls.Services, ss)
		}
		st.Hetzner.LoadBalancers = append(st.Hetzner.LoadBalancers, ls)
	}
	var ids []int64
	for id := range s.hz.actions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		a := s.hz.actions[id]
		st.Hetzner.Actions = append(st.Hetzner.Actions, ActionState{ID: a.id, Command: a.command, Status: a.status, LoadBalancer: a.lbID, ErrorCode: a.errCode})
	}
	for _, tg := range s.aws.tgs {
		ts := TargetGroupState{ARN: tg.cfg.ARN, Name: tg.cfg.Name, Targets: []AWSTargetState{}}
		anyHealthy := false
		for _, t := range tg.targets {
			anyHealthy = anyHealthy || t.state == awsHealthy
		}
		for _, k := range tg.order {
			t := tg.targets[k]
			ts.Targets = append(ts.Targets, AWSTargetState{
				ID: t.id, Port: t.port, Host: t.host, Address: t.addr,
				State: t.state, Reason: t.reason, Description: t.description,
				InRotation: t.state == awsHealthy || (!anyHealthy && *tg.cfg.FailOpen && t.state == awsUnhealthy),
				InFlight:   t.inflight, AvailabilityZone: t.az,
			})
		}
		st.AWS.TargetGroups = append(st.AWS.TargetGroups, ts)
	}
	st.Apps = s.appStates()
	return st
}

// HetznerHealth returns the health of the host behind server name (or IP
// target) on the service listening on port of load balancer lb, or "" if
// it is not a target.
func (st State) HetznerHealth(lb string, port int, server string) string {
	for _, l := range st.Hetzner.LoadBalancers {
		if l.Name != lb {
			continue
		}
		for _, svc := range l.Services {
			if svc.ListenPort != port {
				continue
			}
			for _, m := range svc.Members {
				if strings.HasSuffix(m.Target, "/"+server) {
					return m.Health
				}
			}
		}
	}
	return ""
}

// AWSTarget returns target id in target group tg (name or ARN), or nil if
// it is not registered.
func (st State) AWSTarget(tg, id string) *AWSTargetState {
	for _, g := range st.AWS.TargetGroups {
		if g.Name != tg && g.ARN != tg {
			continue
		}
		for i := range g.Targets {
			if g.Targets[i].ID == id {
				return &g.Targets[i]
			}
		}
	}
	return nil
}

// adminHandler serves the admin endpoint.
func (s *Sim) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /endpoints", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Endpoints())
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("GET /counts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Counts())
	})
	reset := func(w http.ResponseWriter, r *http.Request) {
		s.ResetCounts()
		writeJSON(w, http.StatusOK, s.Counts())
	}
	mux.HandleFunc("POST /counts/reset", reset)
	mux.HandleFunc("DELETE /counts", reset)
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	setFaults := func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if r.Method == http.MethodPatch {
			f = s.Faults()
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			adminError(w, http.StatusBadRequest, "read faults JSON: %v (see GET /faults for the shape)", err)
			return
		}
		if err := s.SetFaults(f); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, s.Faults())
	}
	mux.HandleFunc("PUT /faults", setFaults)
	mux.HandleFunc("PATCH /faults", setFaults)
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) {
		_ = s.SetFaults(Faults{})
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("GET /apps", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		st := s.appStates()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("PUT /apps/{name}/health", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Healthy *bool `json:"healthy"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Healthy == nil {
			adminError(w, http.StatusBadRequest, `send {"healthy": true} or {"healthy": false}`)
			return
		}
		if err := s.SetAppHealthy(r.PathValue("name"), *body.Healthy); err != nil {
			adminError(w, http.StatusNotFound, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /alarms", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Alarms())
	})
	mux.HandleFunc("PUT /alarms/{name}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			State  string `json:"state"`
			Reason string `json:"reason"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			adminError(w, http.StatusBadRequest, `send {"state": "ALARM", "reason": "…"} (state OK, ALARM or INSUFFICIENT_DATA): %v`, err)
			return
		}
		if err := s.SetAlarm(r.PathValue("name"), body.State, body.Reason); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, s.Alarms())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "no admin route %s %s; try GET /state, GET /counts, POST /counts/reset, GET|PUT|PATCH|DELETE /faults, GET /endpoints, GET /apps, PUT /apps/{name}/health, GET /alarms, PUT /alarms/{name}", r.Method, r.URL.Path)
	})
	return mux
}

func adminError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
