package haproxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// AdminFlags is srv_admin_state from "show servers state": a decimal bit set.
type AdminFlags uint

// Admin flag bits (SRV_ADMF_*).
const (
	FMaint AdminFlags = 0x01 // forced maintenance (state maint)
	IMaint AdminFlags = 0x02 // inherited from a tracked server
	CMaint AdminFlags = 0x04 // disabled in the configuration
	FDrain AdminFlags = 0x08 // forced drain (state drain)
	IDrain AdminFlags = 0x10 // inherited drain
	RMaint AdminFlags = 0x20 // DNS resolution failed
	HMaint AdminFlags = 0x40 // FQDN set from the CLI
)

// AdminState is the administrative state in HAProxy's words.
type AdminState string

// Administrative states.
const (
	StateReady AdminState = "ready"
	StateDrain AdminState = "drain"
	StateMaint AdminState = "maint"
)

// State is the effective administrative state; maintenance wins over drain.
func (f AdminFlags) State() AdminState {
	switch {
	case f&(FMaint|IMaint|CMaint|RMaint) != 0:
		return StateMaint
	case f&(FDrain|IDrain) != 0:
		return StateDrain
	}
	return StateReady
}

// Forced is the state set on this server itself (not inherited through
// track): what "set server ... state" changes.
func (f AdminFlags) Forced() AdminState {
	switch {
	case f&(FMaint|CMaint) != 0:
		return StateMaint
	case f&FDrain != 0:
		return StateDrain
	}
	return StateReady
}

// Inherited reports a state that comes from a tracked server.
func (f AdminFlags) Inherited() bool { return f&(IMaint|IDrain) != 0 }

// OpState is the operational state (srv_op_state).
type OpState string

// Operational states.
const (
	OpDown     OpState = "down"
	OpStarting OpState = "starting"
	OpUp       OpState = "up"
	OpStopping OpState = "stopping"
)

var opStates = map[string]OpState{"0": OpDown, "1": OpStarting, "2": OpUp, "3": OpStopping}

// Check state bits (srv_check_state / srv_agent_state).
const (
	checkConfigured = 0x2
	checkEnabled    = 0x4
)

// ServerState is one server line of "show servers state".
type ServerState struct {
	Backend       string
	Name          string
	Addr          string
	Port          string
	Op            OpState
	Admin         AdminFlags
	UserWeight    int
	InitialWeight int
	CheckHealth   int
	CheckState    int
	AgentState    int
}

// Key is "backend/server", as Stat.Key.
func (s ServerState) Key() string { return s.Backend + "/" + s.Name }

// HasCheck reports a configured health check.
func (s ServerState) HasCheck() bool { return s.CheckState&checkConfigured != 0 }

// CheckEnabled reports a configured health check that is not disabled.
func (s ServerState) CheckEnabled() bool { return s.HasCheck() && s.CheckState&checkEnabled != 0 }

// HasAgent reports a configured agent check.
func (s ServerState) HasAgent() bool { return s.AgentState&checkConfigured != 0 }

// AgentEnabled reports a configured agent check that is not disabled.
func (s ServerState) AgentEnabled() bool { return s.HasAgent() && s.AgentState&checkEnabled != 0 }

// ServersState reads "show servers state [backend]"; an empty backend means
// all backends. An unknown backend gives ErrNoBackend.
func (c *Client) ServersState(ctx context.Context, backend string) ([]ServerState, error) {
	cmd := "show servers state"
	if backend != "" {
		if err := checkName("backend", backend); err != nil {
			return nil, err
		}
		cmd += " " + backend
	}
	out, err := c.Exec(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return parseServersState(out)
}

// parseServersState parses the table by its header names, which exist since
// 1.6, so that columns appended in later versions do not matter.
func parseServersState(out string) ([]ServerState, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		return nil, nil
	}
	if strings.TrimSpace(lines[0]) != "1" {
		return nil, fmt.Errorf("unexpected answer to `show servers state` (format %q, want 1): %.200q", lines[0], out)
	}
	col := map[string]int{}
	var rows []ServerState
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "#") {
			for i, name := range strings.Fields(strings.TrimPrefix(l, "#")) {
				col[name] = i
			}
			continue
		}
		if len(col) == 0 {
			return nil, fmt.Errorf("unexpected answer to `show servers state` (no header): %.200q", out)
		}
		f := strings.Fields(l)
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(f) {
				return f[i]
			}
			return ""
		}
		num := func(name string) int {
			n, _ := strconv.Atoi(get(name))
			return n
		}
		s := ServerState{
			Backend:       get("be_name"),
			Name:          get("srv_name"),
			Addr:          get("srv_addr"),
			Port:          get("srv_port"),
			Op:            opStates[get("srv_op_state")],
			Admin:         AdminFlags(num("srv_admin_state")),
			UserWeight:    num("srv_uweight"),
			InitialWeight: num("srv_iweight"),
			CheckHealth:   num("srv_check_health"),
			CheckState:    num("srv_check_state"),
			AgentState:    num("srv_agent_state"),
		}
		if s.Backend == "" || s.Name == "" {
			return nil, fmt.Errorf("unexpected line in `show servers state`: %q", l)
		}
		rows = append(rows, s)
	}
	return rows, nil
}
