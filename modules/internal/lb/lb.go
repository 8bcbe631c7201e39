// Package lb is what the lb_drain and lb_register modules need from a load
// balancer, and nothing more: a Pool of targets that can be listed with their
// health, registered and deregistered. Providers live in lb/hetzner and
// lb/awselb, with their own rules behind the optional interfaces below; the
// shared option spec, the metadata lookup and drain and register, run on
// package step, live here, and what deploy_watch reads from the clouds
// (watch.go).
package lb

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// Target types.
const (
	TypeServer   = "server"   // Hetzner cloud server, by id
	TypeIP       = "ip"       // an IP address (Hetzner ip target, AWS ip target)
	TypeInstance = "instance" // EC2 instance, by id
)

// Health is a target's health state on one port, named as the providers
// name them. Hetzner reports healthy, unhealthy and unknown per service;
// AWS reports one state per target.
type Health string

// Health states.
const (
	StateHealthy     Health = "healthy"
	StateUnhealthy   Health = "unhealthy"
	StateUnknown     Health = "unknown"
	StateInitial     Health = "initial"
	StateDraining    Health = "draining"
	StateUnused      Health = "unused"
	StateUnavailable Health = "unavailable"
)

// Target identifies one load balancer member.
type Target struct {
	Type string // TypeServer, TypeIP or TypeInstance
	ID   string // server id, instance id or IP
	Name string // server name, when known
	Port int    // AWS target port; 0 = the group's port / any port
}

func (t Target) String() string {
	s := t.ID
	if t.Name != "" && t.Name != t.ID {
		s = fmt.Sprintf("%s (%s)", t.Name, t.ID)
	}
	if t.Port != 0 {
		s += ":" + strconv.Itoa(t.Port)
	}
	return s
}

// Matches reports whether member m is target t. A zero port matches any.
func (t Target) Matches(m Target) bool {
	return t.ID == m.ID && (t.Port == 0 || m.Port == 0 || t.Port == m.Port)
}

// PortHealth is the health of a target on one port: a Hetzner service's
// listen port, or an AWS target's port.
type PortHealth struct {
	Port        int
	State       Health
	Reason      string // AWS reason code, Hetzner detail
	Description string
}

// Member is one target as the load balancer sees it.
type Member struct {
	Target Target
	// Via is empty for a target added directly, or names the label
	// selector it came from ("label_selector role=web").
	Via    string
	Health []PortHealth
	// Opts is how the target was registered, as far as the provider
	// tells: a drain returns it so that a register can restore it.
	Opts RegisterOpts
}

// Healthy reports whether the member is healthy on every port.
func (m Member) Healthy() bool {
	if len(m.Health) == 0 {
		return false
	}
	for _, h := range m.Health {
		if h.State != StateHealthy {
			return false
		}
	}
	return true
}

// Pool is one load balancer (Hetzner) or target group (AWS).
type Pool interface {
	// Name is the name the user knows the pool by.
	Name() string
	// Members lists the registered targets with their health. Draining
	// AWS targets are still members. The first call may answer from what
	// the lookup of the pool returned (Hetzner); later calls, the waits,
	// read the current state.
	Members(ctx context.Context) ([]Member, error)
	// Register adds the target and returns when the provider accepted it
	// (Hetzner: the action finished).
	Register(ctx context.Context, t Target, opts RegisterOpts) error
	// Deregister removes the target and returns when the provider accepted
	// it; draining may go on.
	Deregister(ctx context.Context, t Target) error
}

// RegisterOpts are provider-specific registration settings.
type RegisterOpts struct {
	UsePrivateIP     bool   // Hetzner server targets
	AvailabilityZone string // AWS: an AZ or "all", for ip targets
}

// PoolInfo is optional: what a pool can say about itself for results.
type PoolInfo interface {
	Kind() string // "load_balancer" or "target_group"
	ID() string
}

// DrainTimer is implemented by pools whose draining takes a configured time
// (AWS deregistration_delay); the default timeout follows it.
type DrainTimer interface {
	DrainDelay(ctx context.Context) (seconds int, err error)
}

// TargetChecker is implemented by pools that can tell an unknown target
// from one that is simply not registered.
type TargetChecker interface {
	CheckTarget(ctx context.Context, t Target) error
}

// TargetTyper is implemented by pools that only take one kind of target
// (AWS target groups: instance or ip).
type TargetTyper interface {
	TargetType() string
}

// DrainJudge is implemented by pools where a target still listed can count
// as drained (AWS: unused, as the SDK's TargetDeregistered waiter).
type DrainJudge interface {
	Drained(st State) bool
}

// HealthJudge is implemented by pools with rules of their own for a
// registered target that is not yet healthy on every port: Judge gives
// the verdict on st, the previous observation being prev. Without it a
// register goes on waiting.
type HealthJudge interface {
	Judge(t Target, prev, st State) Verdict
}

// Verdict is a HealthJudge's answer. Msg says why on wait.Failure; on
// wait.Success it is a warning for the user, if not empty. Checks marks a
// failure that rests on failed health checks, which fail_after_checks: 0
// turns into waiting on.
type Verdict struct {
	Outcome wait.Outcome
	Msg     string
	Checks  bool
}

// LateChecker is implemented by pools where a target cannot be healthy
// right after its registration (AWS: initial until a health check
// passes): a register skips the wait's first check there.
type LateChecker interface {
	ChecksLate() bool
}

// Label is how messages name a pool: "target group web".
func Label(p Pool) string {
	kind := "load_balancer"
	if info, ok := p.(PoolInfo); ok {
		kind = info.Kind()
	}
	return strings.ReplaceAll(kind, "_", " ") + " " + p.Name()
}

// Provider opens the pools a module works on and resolves target names.
type Provider interface {
	// Name is "hetzner" or "aws".
	Name() string
	// API names the provider's API in messages ("ELBv2 API").
	API() string
	// Interval is the largest delay between two checks of a wait when the
	// interval option is not given.
	Interval() time.Duration
	// Resolve completes the target the options give: its id from the
	// metadata service for target: auto, its type and name. Pools runs
	// first.
	Resolve(ctx context.Context, t Target) (Target, error)
	// Pools looks up the load balancer or target groups.
	Pools(ctx context.Context) ([]Pool, error)
}

// State is a target's membership and health in one pool, as returned to
// the user.
type State struct {
	Registered bool              `json:"registered"`
	Via        string            `json:"via,omitempty"`
	Health     map[string]Health `json:"health"`
	Reasons    map[string]string `json:"reasons,omitempty"`
	// HealthyOthers counts the other targets healthy on every port.
	HealthyOthers int `json:"healthy_others"`
	// Targets counts all members.
	Targets int `json:"targets"`
}

// StateOf summarizes target t among members.
func StateOf(t Target, members []Member) State {
	st := State{Health: map[string]Health{}}
	seen := map[string]bool{}
	for _, m := range members {
		key := m.Target.ID + ":" + strconv.Itoa(m.Target.Port)
		if t.Matches(m.Target) {
			if m.Via == "" || !st.Registered {
				st.Via = m.Via
			}
			st.Registered = true
			for _, h := range m.Health {
				p := strconv.Itoa(h.Port)
				st.Health[p] = h.State
				if r := joinReason(h.Reason, h.Description); r != "" && h.State != StateHealthy {
					if st.Reasons == nil {
						st.Reasons = map[string]string{}
					}
					st.Reasons[p] = r
				}
			}
			continue
		}
		// A server can be a target directly and through a label selector.
		if seen[key] {
			continue
		}
		seen[key] = true
		st.Targets++
		if m.Healthy() {
			st.HealthyOthers++
		}
	}
	if st.Registered {
		st.Targets++
	}
	return st
}

// sortedPorts is the ports of h in numeric order.
func sortedPorts(h map[string]Health) []string {
	ports := make([]string, 0, len(h))
	for p := range h {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool {
		a, _ := strconv.Atoi(ports[i])
		b, _ := strconv.Atoi(ports[j])
		return a < b
	})
	return ports
}

func joinReason(reason, desc string) string {
	switch {
	case reason != "" && desc != "":
		return reason + ": " + desc
	case reason != "":
		return reason
	}
	return desc
}

// AllPorts reports whether every port of s is in state want (and there is
// at least one port).
func (s State) AllPorts(want Health) bool {
	if len(s.Health) == 0 {
		return false
	}
	for _, v := range s.Health {
		if v != want {
			return false
		}
	}
	return true
}

// AnyPort reports whether some port of s is in state want.
func (s State) AnyPort(want Health) bool {
	for _, v := range s.Health {
		if v == want {
			return true
		}
	}
	return false
}

// Describe puts s in words: "registered, healthy on 80, unhealthy on 443
// (unexpected_http_status)".
func (s State) Describe() string {
	if !s.Registered {
		return "not registered"
	}
	var parts []string
	if s.Via != "" {
		parts = append(parts, "registered through "+s.Via)
	} else {
		parts = append(parts, "registered")
	}
	for _, p := range sortedPorts(s.Health) {
		d := string(s.Health[p]) + " on port " + p
		if r := s.Reasons[p]; r != "" {
			d += " (" + r + ")"
		}
		parts = append(parts, d)
	}
	if len(s.Health) == 0 {
		parts = append(parts, "no health reported")
	}
	return strings.Join(parts, ", ")
}
