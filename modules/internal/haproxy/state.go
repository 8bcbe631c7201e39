package haproxy

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// Version is HAProxy's version from "show info".
type Version struct {
	Major, Minor, Patch int
	Raw                 string
}

func (v Version) String() string { return v.Raw }

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// ParseVersion parses "2.6.12-1+deb12u4", "1.5.18", "3.0-dev4".
func ParseVersion(s string) (Version, error) {
	v := Version{Raw: s}
	core := s
	if i := strings.IndexAny(core, "-+ ~"); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(core, ".")
	nums := []*int{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if i >= len(nums) {
			break
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, fmt.Errorf("cannot parse the HAProxy version %q", s)
		}
		*nums[i] = n
	}
	if len(parts) < 2 {
		return v, fmt.Errorf("cannot parse the HAProxy version %q", s)
	}
	return v, nil
}

// Info is what the module needs from "show info".
type Info struct {
	Version Version
	Pid     int
}

// Info reads "show info".
func (c *Client) Info(ctx context.Context) (Info, error) {
	out, err := c.Exec(ctx, "show info")
	if err != nil {
		return Info{}, err
	}
	return parseInfo(out)
}

func parseInfo(out string) (Info, error) {
	var info Info
	found := false
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Version":
			ver, err := ParseVersion(v)
			if err != nil {
				return info, err
			}
			info.Version, found = ver, true
		case "Pid":
			info.Pid, _ = strconv.Atoi(v)
		}
	}
	if !found {
		return info, fmt.Errorf("unexpected answer to `show info` (no Version line): %.200q", out)
	}
	return info, nil
}

// Version is the version read when the client connected.
func (c *Client) Version() Version {
	if c.info == nil {
		return Version{}
	}
	return c.info.Version
}

// Require fails with a *VersionError when HAProxy is older than major.minor.
func (c *Client) Require(major, minor int, feature string) error {
	if c.info == nil || c.info.Version.AtLeast(major, minor) {
		return nil
	}
	return &VersionError{Have: c.info.Version, Need: Version{Major: major, Minor: minor}, Feature: feature}
}

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

// Stat is a server row of "show stat".
type Stat struct {
	Backend     string
	Server      string
	Status      string // UP, DOWN, DRAIN, MAINT, no check, UP 1/3, ...
	CheckStatus string // L4OK, L7STS, ... without the "* " of a running check
	CheckDesc   string // "Layer4 connection problem"
	CheckInfo   string // last_chk: "Connection refused", "HTTP status check returned code <3C>503<3E>"
	Sessions    int    // scur
	Queued      int    // qcur
	Total       int    // stot
	Weight      int    // effective weight
}

// Key is "backend/server".
func (s Stat) Key() string { return s.Backend + "/" + s.Server }

// Stats reads the server rows of "show stat" for all backends.
func (c *Client) Stats(ctx context.Context) ([]Stat, error) {
	out, err := c.Exec(ctx, "show stat -1 4 -1")
	if err != nil {
		return nil, err
	}
	return parseStat(out)
}

// parseStat parses "show stat" CSV by header name: columns are appended in
// newer versions.
func parseStat(out string) ([]Stat, error) {
	out = strings.TrimSpace(out)
	if !strings.HasPrefix(out, "# ") {
		return nil, fmt.Errorf("unexpected answer to `show stat`: %.200q", out)
	}
	r := csv.NewReader(strings.NewReader(out[2:]))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("cannot parse `show stat`: %v", err)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	for _, need := range []string{"pxname", "svname", "scur", "qcur", "status", "type"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("`show stat` has no %s column", need)
		}
	}
	var stats []Stat
	for _, rec := range recs[1:] {
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		num := func(name string) int {
			n, _ := strconv.Atoi(get(name))
			return n
		}
		if get("type") != "2" {
			continue
		}
		stats = append(stats, Stat{
			Backend:     get("pxname"),
			Server:      get("svname"),
			Status:      get("status"),
			CheckStatus: strings.TrimPrefix(get("check_status"), "* "),
			CheckDesc:   get("check_desc"),
			CheckInfo:   get("last_chk"),
			Sessions:    num("scur"),
			Queued:      num("qcur"),
			Total:       num("stot"),
			Weight:      num("weight"),
		})
	}
	return stats, nil
}

// SetState sends "set server b/s state st".
func (c *Client) SetState(ctx context.Context, backend, server string, st AdminState) error {
	return c.runOn(ctx, backend, server, "set server", " state "+string(st))
}

// SetWeight sends "set server b/s weight w"; w is "0".."256" or "N%".
func (c *Client) SetWeight(ctx context.Context, backend, server, w string) error {
	return c.runOn(ctx, backend, server, "set server", " weight "+w)
}

// SetHealth forces the operational state: "up", "stopping" or "down". The
// next check result overrides it.
func (c *Client) SetHealth(ctx context.Context, backend, server, h string) error {
	return c.runOn(ctx, backend, server, "set server", " health "+h)
}

// EnableHealth enables or disables health checks.
func (c *Client) EnableHealth(ctx context.Context, backend, server string, on bool) error {
	return c.runOn(ctx, backend, server, enableWord(on)+" health", "")
}

// EnableAgent enables or disables agent checks.
func (c *Client) EnableAgent(ctx context.Context, backend, server string, on bool) error {
	return c.runOn(ctx, backend, server, enableWord(on)+" agent", "")
}

// ShutdownSessions kills every session on the server.
func (c *Client) ShutdownSessions(ctx context.Context, backend, server string) error {
	return c.runOn(ctx, backend, server, "shutdown sessions server", "")
}

// runOn runs "<verb> <backend>/<server><rest>" once both names are checked.
func (c *Client) runOn(ctx context.Context, backend, server, verb, rest string) error {
	if err := checkNames(backend, server); err != nil {
		return err
	}
	return c.run(ctx, verb+" "+backend+"/"+server+rest)
}

func enableWord(on bool) string {
	if on {
		return "enable"
	}
	return "disable"
}
