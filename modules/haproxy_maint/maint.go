// Package haproxymaint is the zerodowntime.rolling.haproxy_maint module: drain,
// maintenance and ready for HAProxy servers through the runtime API.
package haproxymaint

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

var spec = ansible.Spec{
	Name: "haproxy_maint",
	Options: map[string]ansible.Option{
		"socket":            {Type: ansible.Path, Default: "/run/haproxy/admin.sock"},
		"master_socket":     {Type: ansible.Bool},
		"worker":            {Type: ansible.Str, Default: "1"},
		"server":            {Type: ansible.Str, Required: true, Aliases: []string{"host"}},
		"backend":           {Type: ansible.Str},
		"state":             {Type: ansible.Str, Required: true, Choices: []string{"ready", "drain", "maint", "enabled", "disabled"}},
		"wait":              {Type: ansible.Bool, Default: true},
		"timeout":           {Type: ansible.Int, Default: 60},
		"interval":          {Type: ansible.Float, Default: 0.1},
		"shutdown_sessions": {Type: ansible.Str, Default: "never", Choices: []string{"never", "on_timeout", "immediately"}},
		"weight":            {Type: ansible.Raw},
		"health":            {Type: ansible.Bool},
		"agent":             {Type: ansible.Bool},
		"fail_on_not_found": {Type: ansible.Bool, Default: true},
	},
	SupportsCheckMode: true,
	TimeoutOption:     "timeout",
}

type args struct {
	Socket           string  `json:"socket"`
	MasterSocket     *bool   `json:"master_socket"`
	Worker           string  `json:"worker"`
	Server           string  `json:"server"`
	Backend          string  `json:"backend"`
	State            string  `json:"state"`
	Wait             bool    `json:"wait"`
	Timeout          int     `json:"timeout"`
	Interval         float64 `json:"interval"`
	ShutdownSessions string  `json:"shutdown_sessions"`
	Weight           any     `json:"weight"`
	Health           *bool   `json:"health"`
	Agent            *bool   `json:"agent"`
	FailOnNotFound   bool    `json:"fail_on_not_found"`
}

// Shutdown policies for sessions still open when the wait ends.
const (
	shutdownNever       = "never"
	shutdownOnTimeout   = "on_timeout"
	shutdownImmediately = "immediately"
)

// desiredState maps the option to HAProxy's word; enabled and disabled are
// community.general.haproxy's names.
func desiredState(s string) haproxy.AdminState {
	switch s {
	case "enabled":
		return haproxy.StateReady
	case "disabled":
		return haproxy.StateMaint
	}
	return haproxy.AdminState(s)
}

// weightSpec is the weight option: absolute (0-256) or a percentage of the
// server's initial weight.
type weightSpec struct {
	value   int
	percent bool
}

func (w weightSpec) String() string {
	if w.percent {
		return strconv.Itoa(w.value) + "%"
	}
	return strconv.Itoa(w.value)
}

// absolute is the weight HAProxy will set, computed as it does
// (server_parse_weight_change_request): iweight*N/100, capped at 256.
func (w weightSpec) absolute(initial int) int {
	if !w.percent {
		return w.value
	}
	return min(initial*min(w.value, 25600)/100, 256)
}

func parseWeight(v any) (*weightSpec, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case float64:
		if x != math.Trunc(x) {
			return nil, fmt.Errorf("weight must be a whole number or a percentage like 50%%, got %v", x)
		}
		s = strconv.Itoa(int(x))
	case string:
		s = strings.TrimSpace(x)
	default:
		return nil, fmt.Errorf("weight must be a number (0-256) or a percentage like 50%%, got %v", v)
	}
	w := &weightSpec{}
	if strings.HasSuffix(s, "%") {
		w.percent = true
		s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("weight must be a number (0-256) or a percentage like 50%%, got %q", v)
	case n < 0:
		return nil, fmt.Errorf("weight must not be negative, got %v", v)
	case !w.percent && n > 256:
		return nil, fmt.Errorf("weight %d is above HAProxy's maximum of 256; use 0-256 or a percentage", n)
	}
	w.value = n
	return w, nil
}

// checkNames refuses, before anything is sent, a name that is not one
// HAProxy could have: each of them ends up in a runtime API command, where
// ";" or a line end would start a command of the caller's choosing.
func checkNames(a args) error {
	if err := haproxy.CheckName(a.Server); err != nil {
		return fmt.Errorf("server: %q is not a HAProxy server name: %w", a.Server, err)
	}
	if a.Backend == "" {
		return nil
	}
	if err := haproxy.CheckName(a.Backend); err != nil {
		return fmt.Errorf("backend: %q is not a HAProxy backend name: %w", a.Backend, err)
	}
	return nil
}

// snapshot is what the module reports about one server at one moment.
type snapshot struct {
	Admin       haproxy.AdminFlags
	Op          haproxy.OpState
	Status      string
	Sessions    int
	Queued      int
	Weight      int
	CheckStatus string
	CheckDesc   string
}

func takeSnapshot(st haproxy.ServerState, stat haproxy.Stat) snapshot {
	return snapshot{
		Admin:       st.Admin,
		Op:          st.Op,
		Status:      stat.Status,
		Sessions:    stat.Sessions,
		Queued:      stat.Queued,
		Weight:      st.UserWeight,
		CheckStatus: stat.CheckStatus,
		CheckDesc:   stat.CheckDesc,
	}
}

// target is one backend/server the task acts on.
type target struct {
	st        haproxy.ServerState // before
	before    snapshot
	after     snapshot
	changes   []string // what the task changes, in words
	dance     bool     // leave maintenance through a fresh health check
	setState  bool
	setWeight *weightSpec
	health    *bool
	agent     *bool
	shutdown  bool // shut sessions down right after setting the state
	waited    time.Duration
	done      bool
	cut       bool // sessions shut down on timeout
}

func (t *target) key() string { return t.st.Backend + "/" + t.st.Name }

func run(ctx context.Context, m *ansible.Module, a args) (ansible.Result, error) {
	want := desiredState(a.State)
	weight, err := parseWeight(a.Weight)
	if err != nil {
		return ansible.Result{}, err
	}
	if a.Wait {
		err := ansible.CheckSeconds("timeout", float64(a.Timeout))
		if err == nil {
			err = ansible.CheckSeconds("interval", a.Interval)
		}
		if err != nil {
			return ansible.Result{}, fmt.Errorf("%w (with wait: true)", err)
		}
	}
	if err := haproxy.CheckWorker(a.Worker); err != nil {
		return ansible.Result{}, fmt.Errorf("worker must be a worker number such as 1 or !<pid>, got %q", a.Worker)
	}
	if err := checkNames(a); err != nil {
		return ansible.Result{}, err
	}
	if want == haproxy.StateReady && a.ShutdownSessions != shutdownNever {
		m.Warn("shutdown_sessions: %s has no effect with state: %s", a.ShutdownSessions, a.State)
	}

	mode := haproxy.MasterAuto
	if a.MasterSocket != nil {
		mode = haproxy.MasterOff
		if *a.MasterSocket {
			mode = haproxy.MasterOn
		}
	}
	c, err := haproxy.Dial(ctx, a.Socket, haproxy.WithMaster(mode), haproxy.WithWorker(a.Worker))
	if err != nil {
		return ansible.Result{}, fail(err, "")
	}
	if err := c.Require(1, 6, "`set server <backend>/<server> state`"); err != nil {
		return ansible.Result{}, fail(err, "")
	}

	targets, err := resolve(ctx, c, a.Backend, a.Server)
	if err != nil {
		if errors.Is(err, haproxy.ErrNoServer) || errors.Is(err, haproxy.ErrNoBackend) {
			if !a.FailOnNotFound {
				m.Warn("%s; skipped because fail_on_not_found is false", err)
				return ansible.Result{Data: map[string]any{"backends": []any{}, "waited": 0.0, "state": string(want), "haproxy_version": c.Version().String()}}, nil
			}
		}
		return ansible.Result{}, fail(err, a.Server)
	}
	stats, err := statsByKey(ctx, c)
	if err != nil {
		return ansible.Result{}, fail(err, "")
	}
	for _, t := range targets {
		t.before = takeSnapshot(t.st, stats[t.key()])
		plan(m, t, want, weight, a)
	}

	changed := false
	for _, t := range targets {
		changed = changed || len(t.changes) > 0
	}
	res := ansible.Result{Changed: changed}
	if m.CheckMode {
		for _, t := range targets {
			t.after = predict(t, want)
		}
		return finish(res, targets, want, c, 0), nil
	}

	for _, t := range targets {
		if err := apply(ctx, m, c, t, want); err != nil {
			refresh(ctx, c, targets, want)
			return finish(res, targets, want, c, 0), fail(err, t.key())
		}
	}

	var waited time.Duration
	if a.Wait {
		waited, err = waitFor(ctx, m, c, targets, want, a)
	}
	refresh(ctx, c, targets, want)
	return finish(res, targets, want, c, waited), err
}

// resolve finds the servers to act on: in the given backend, or in every
// backend that has a server of that name.
func resolve(ctx context.Context, c *haproxy.Client, backend, server string) ([]*target, error) {
	states, err := c.ServersState(ctx, backend)
	if errors.Is(err, haproxy.ErrNoBackend) {
		return nil, fmt.Errorf("backend %q not found in HAProxy (%s)%s: %w", backend, c.Path(), backendList(ctx, c), err)
	}
	if err != nil {
		return nil, err
	}
	var targets []*target
	var names []string
	for _, s := range states {
		if s.Name == server {
			targets = append(targets, &target{st: s})
		} else {
			names = append(names, s.Name)
		}
	}
	if len(targets) > 0 {
		return targets, nil
	}
	if backend != "" {
		return nil, fmt.Errorf("server %q not found in backend %q (its servers: %s): %w", server, backend, listOrNone(names), haproxy.ErrNoServer)
	}
	return nil, fmt.Errorf("server %q not found in any backend of HAProxy (%s)%s; set backend, or check the server name in haproxy.cfg: %w",
		server, c.Path(), backendList(ctx, c), haproxy.ErrNoServer)
}

func backendList(ctx context.Context, c *haproxy.Client) string {
	states, err := c.ServersState(ctx, "")
	if err != nil {
		return ""
	}
	seen := map[string]bool{}
	var names []string
	for _, s := range states {
		if !seen[s.Backend] {
			seen[s.Backend] = true
			names = append(names, s.Backend)
		}
	}
	return "; backends with servers: " + listOrNone(names)
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func statsByKey(ctx context.Context, c *haproxy.Client) (map[string]haproxy.Stat, error) {
	stats, err := c.Stats(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]haproxy.Stat, len(stats))
	for _, s := range stats {
		out[s.Key()] = s
	}
	return out, nil
}

// plan decides what to change on t. It only reads.
func plan(m *ansible.Module, t *target, want haproxy.AdminState, w *weightSpec, a args) {
	st := t.st
	if a.Health != nil {
		switch {
		case !st.HasCheck():
			if *a.Health {
				m.Warn("%s has no health check configured (no `check` on its server line); health: true ignored", t.key())
			}
		case st.CheckEnabled() != *a.Health:
			t.health = a.Health
			t.changes = append(t.changes, enableWord(*a.Health)+" health checks")
		}
	}
	if a.Agent != nil {
		switch {
		case !st.HasAgent():
			if *a.Agent {
				m.Warn("%s has no agent check configured (no `agent-check`); agent: true ignored", t.key())
			}
		case st.AgentEnabled() != *a.Agent:
			t.agent = a.Agent
			t.changes = append(t.changes, enableWord(*a.Agent)+" agent checks")
		}
	}
	if cur := st.Admin.Forced(); cur != want {
		t.setState = true
		t.changes = append(t.changes, fmt.Sprintf("state %s -> %s", cur, want))
		checksOn := st.CheckEnabled()
		if t.health != nil {
			checksOn = *t.health
		}
		// HAProxy 2.6 puts a server leaving maintenance straight into UP
		// (shown as "UP 1/3") before any check has run, so it would take
		// requests even if nothing listens yet. See apply.
		t.dance = want == haproxy.StateReady && cur == haproxy.StateMaint && checksOn
	}
	if st.Admin.Inherited() {
		m.Warn("%s tracks another server and inherits its %s; change the tracked server (admin state %d)", t.key(), st.Admin.State(), st.Admin)
	}
	if w != nil && w.absolute(st.InitialWeight) != st.UserWeight {
		t.setWeight = w
		t.changes = append(t.changes, fmt.Sprintf("weight %d -> %d", st.UserWeight, w.absolute(st.InitialWeight)))
	}
	if want != haproxy.StateReady && a.ShutdownSessions == shutdownImmediately && t.before.Sessions > 0 {
		t.shutdown = true
		t.changes = append(t.changes, "shut down "+plural(t.before.Sessions, "session"))
	}
}

func enableWord(on bool) string {
	if on {
		return "enable"
	}
	return "disable"
}

// predict is the state check mode reports as "after".
func predict(t *target, want haproxy.AdminState) snapshot {
	s := t.before
	if t.setState {
		s.Admin &^= haproxy.FMaint | haproxy.CMaint | haproxy.FDrain
		switch want {
		case haproxy.StateMaint:
			s.Admin |= haproxy.FMaint
		case haproxy.StateDrain:
			s.Admin |= haproxy.FDrain
		}
	}
	if t.setWeight != nil {
		s.Weight = t.setWeight.absolute(t.st.InitialWeight)
	}
	if t.shutdown {
		s.Sessions = 0
	}
	return s
}

// apply sends the commands planned for t.
func apply(ctx context.Context, m *ansible.Module, c *haproxy.Client, t *target, want haproxy.AdminState) error {
	b, s := t.st.Backend, t.st.Name
	if t.health != nil {
		if err := c.EnableHealth(ctx, b, s, *t.health); err != nil {
			return err
		}
	}
	if t.agent != nil {
		if err := c.EnableAgent(ctx, b, s, *t.agent); err != nil {
			return err
		}
	}
	if t.dance {
		// Leave maintenance through a fresh health check: with weight 0 the
		// server takes no new requests while it is (wrongly) UP, then
		// "health down" makes it earn UP with `rise` passing checks, and
		// its weight comes back while it is DOWN, so traffic starts only
		// once HAProxy's own checks have passed. Verified on 2.6.12: no
		// request reaches a server that does not listen yet.
		m.Progress("%s: weight 0 before leaving maintenance", t.key())
		if err := c.SetWeight(ctx, b, s, "0%"); err != nil {
			return err
		}
		restore := restoreWeight(t)
		m.Progress("%s: weight 0, leaving maintenance; the weight to restore is %s", t.key(), restore)
		if err := c.SetState(ctx, b, s, haproxy.StateReady); err != nil {
			c.SetWeight(ctx, b, s, restore)
			return err
		}
		if err := c.SetHealth(ctx, b, s, "down"); err != nil {
			c.SetWeight(ctx, b, s, restore)
			return err
		}
		m.Progress("%s: ready, DOWN until its health check passes; restoring weight %s", t.key(), restore)
		return c.SetWeight(ctx, b, s, restore)
	}
	if t.setWeight != nil && want != haproxy.StateReady {
		if err := c.SetWeight(ctx, b, s, t.setWeight.String()); err != nil {
			return err
		}
	}
	if t.setState {
		if err := c.SetState(ctx, b, s, want); err != nil {
			return err
		}
		m.Progress("%s set to %s", t.key(), want)
	}
	if t.setWeight != nil && want == haproxy.StateReady {
		if err := c.SetWeight(ctx, b, s, t.setWeight.String()); err != nil {
			return err
		}
	}
	if t.shutdown {
		if err := c.ShutdownSessions(ctx, b, s); err != nil {
			return err
		}
		m.Progress("%s set to %s, sessions shut down", t.key(), want)
	}
	return nil
}

// restoreWeight is the weight a server gets back after the ready dance:
// the one asked for, else the one it had. Percentages keep it valid for
// static algorithms, which only accept 0% and 100%.
func restoreWeight(t *target) string {
	if t.setWeight != nil {
		return t.setWeight.String()
	}
	if t.st.UserWeight == t.st.InitialWeight {
		return "100%"
	}
	return strconv.Itoa(t.st.UserWeight)
}

// firstLook is the first delay of a wait; delays double up to interval.
const firstLook = 20 * time.Millisecond

// waitFor polls "show stat" until every target is drained (drain, maint) or
// UP (ready), and applies shutdown_sessions on timeout.
func waitFor(ctx context.Context, m *ansible.Module, c *haproxy.Client, targets []*target, want haproxy.AdminState, a args) (time.Duration, error) {
	start := time.Now()
	var last map[string]haproxy.Stat
	check := func(ctx context.Context) (wait.Outcome, string, error) {
		stats, err := statsByKey(ctx, c)
		if err != nil {
			var se *haproxy.SocketError
			if errors.As(err, &se) {
				return wait.Retry, "", err // HAProxy reloading: try again
			}
			return wait.Failure, "", err
		}
		last = stats
		var pending []string
		for _, t := range targets {
			s, ok := stats[t.key()]
			if !ok {
				return wait.Failure, "", fmt.Errorf("%s disappeared from `show stat` while waiting (HAProxy reloaded with another configuration?)", t.key())
			}
			if t.done {
				continue
			}
			ok, why, err := reached(t, s, want)
			if err != nil {
				return wait.Failure, why, err
			}
			if ok {
				t.done, t.waited = true, time.Since(start)
				continue
			}
			pending = append(pending, why)
		}
		observed := strings.Join(pending, "; ")
		if len(pending) == 0 {
			return wait.Success, "", nil
		}
		m.Progress("%s set to %s, waiting: %s", keys(targets), want, observed)
		return wait.Retry, observed, nil
	}
	// The runtime API is a local socket and cheap to ask: look again after
	// 20 ms, then back off to interval, so a server left with a few
	// short requests is done within tens of milliseconds.
	interval := ansible.Seconds(a.Interval)
	_, err := wait.New(check, wait.WithDelay(min(firstLook, interval), interval)).Wait(ctx, time.Duration(a.Timeout)*time.Second)
	elapsed := time.Since(start)
	var te *wait.TimeoutError
	switch {
	case err == nil:
		return elapsed, nil
	case errors.As(err, &te) && want != haproxy.StateReady && a.ShutdownSessions != shutdownNever:
		var cut []string
		for _, t := range targets {
			if t.done {
				continue
			}
			if err := c.ShutdownSessions(ctx, t.st.Backend, t.st.Name); err != nil {
				return elapsed, fail(err, t.key())
			}
			t.cut = true
			s := last[t.key()]
			cut = append(cut, fmt.Sprintf("%s (%s, %d queued)", t.key(), plural(s.Sessions, "session"), s.Queued))
		}
		m.Warn("sessions still open after %ds were shut down (shutdown_sessions: on_timeout): %s", a.Timeout, strings.Join(cut, ", "))
		// Give HAProxy a moment to close them so "after" shows the result.
		waitSessionsGone(ctx, c, targets)
		return time.Since(start), nil
	case errors.As(err, &te):
		return elapsed, timeoutError(targets, last, want, a)
	}
	var fe *wait.FailureError
	if errors.As(err, &fe) {
		return elapsed, fail(fe.Unwrap(), "")
	}
	return elapsed, err
}

// reached says whether t is where the task wants it, or why not.
func reached(t *target, s haproxy.Stat, want haproxy.AdminState) (bool, string, error) {
	if want != haproxy.StateReady {
		if s.Sessions == 0 && s.Queued == 0 {
			return true, "", nil
		}
		return false, fmt.Sprintf("%s has %s, %d queued", t.key(), plural(s.Sessions, "session"), s.Queued), nil
	}
	switch {
	case s.Status == "UP" || s.Status == "no check":
		// Not "UP 1/3": that is a server failing checks, or one that left
		// maintenance without a check yet.
		return true, "", nil
	case strings.HasPrefix(s.Status, "MAINT"):
		// Someone else put it back in maintenance, or it follows a tracked
		// server that is in maintenance: it will not come up by waiting.
		return false, "", fmt.Errorf("%s is %s while waiting for it to come UP; if it tracks another server, make that one ready", t.key(), s.Status)
	}
	return false, fmt.Sprintf("%s is %s%s", t.key(), s.Status, checkText(s)), nil
}

func checkText(s haproxy.Stat) string {
	if s.CheckStatus == "" {
		return ""
	}
	switch {
	case s.CheckDesc != "" && s.CheckInfo != "":
		return fmt.Sprintf(", last check %s: %s (%s)", s.CheckStatus, s.CheckDesc, s.CheckInfo)
	case s.CheckDesc != "":
		return fmt.Sprintf(", last check %s: %s", s.CheckStatus, s.CheckDesc)
	}
	return ", last check " + s.CheckStatus
}

func waitSessionsGone(ctx context.Context, c *haproxy.Client, targets []*target) {
	check := func(ctx context.Context) (wait.Outcome, string, error) {
		stats, err := statsByKey(ctx, c)
		if err != nil {
			return wait.Retry, "", err
		}
		for _, t := range targets {
			if stats[t.key()].Sessions > 0 {
				return wait.Retry, "", nil
			}
		}
		return wait.Success, "", nil
	}
	wait.New(check, wait.WithDelay(20*time.Millisecond, 100*time.Millisecond)).Wait(ctx, 2*time.Second)
}

func timeoutError(targets []*target, last map[string]haproxy.Stat, want haproxy.AdminState, a args) error {
	var parts []string
	for _, t := range targets {
		if t.done {
			continue
		}
		s := last[t.key()]
		if want == haproxy.StateReady {
			parts = append(parts, fmt.Sprintf("%s is %s%s", t.key(), s.Status, checkText(s)))
		} else {
			parts = append(parts, fmt.Sprintf("%s still has %s and %d queued", t.key(), plural(s.Sessions, "session"), s.Queued))
		}
	}
	var msg string
	if want == haproxy.StateReady {
		msg = fmt.Sprintf("not UP after %ds: %s. It gets no traffic until its health check passes; check that the application listens on the server's address, or raise timeout",
			a.Timeout, strings.Join(parts, "; "))
	} else {
		msg = fmt.Sprintf("not drained after %ds: %s. The server stays in %s; raise timeout, or set shutdown_sessions: on_timeout to cut the remaining sessions",
			a.Timeout, strings.Join(parts, "; "), want)
	}
	return &ansible.Error{Msg: msg, Data: map[string]any{"failure": failure("timeout", keys(targets))}}
}

func keys(targets []*target) string {
	var k []string
	for _, t := range targets {
		k = append(k, t.key())
	}
	return strings.Join(k, ", ")
}

// refresh reads the "after" state; on error "after" stays the prediction.
func refresh(ctx context.Context, c *haproxy.Client, targets []*target, want haproxy.AdminState) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, t := range targets {
		t.after = predict(t, want)
	}
	states, err := c.ServersState(ctx, "")
	if err != nil {
		return
	}
	stats, err := statsByKey(ctx, c)
	if err != nil {
		return
	}
	byKey := map[string]haproxy.ServerState{}
	for _, s := range states {
		byKey[s.Backend+"/"+s.Name] = s
	}
	for _, t := range targets {
		if st, ok := byKey[t.key()]; ok {
			t.after = takeSnapshot(st, stats[t.key()])
		}
	}
}

func finish(res ansible.Result, targets []*target, want haproxy.AdminState, c *haproxy.Client, waited time.Duration) ansible.Result {
	backends := make([]map[string]any, 0, len(targets))
	before, after := map[string]any{}, map[string]any{}
	for _, t := range targets {
		backends = append(backends, map[string]any{
			"backend":                  t.st.Backend,
			"server":                   t.st.Name,
			"admin_state_before":       string(t.before.Admin.State()),
			"admin_state_after":        string(t.after.Admin.State()),
			"operational_state_before": string(t.before.Op),
			"operational_state_after":  string(t.after.Op),
			"status_before":            t.before.Status,
			"status_after":             t.after.Status,
			"sessions_before":          t.before.Sessions,
			"sessions_after":           t.after.Sessions,
			"queued":                   t.after.Queued,
			"weight_before":            t.before.Weight,
			"weight_after":             t.after.Weight,
			"check_status_before":      t.before.CheckStatus,
			"check_status_after":       t.after.CheckStatus,
			"changes":                  nonNil(t.changes),
			"sessions_shut_down":       t.cut || t.shutdown,
			"waited":                   seconds(t.waited),
		})
		before[t.key()] = diffView(t.before)
		after[t.key()] = diffView(t.after)
	}
	res.Diff = &ansible.Diff{Before: before, After: after}
	res.Data = map[string]any{
		"backends":        backends,
		"waited":          seconds(waited),
		"state":           string(want),
		"haproxy_version": c.Version().String(),
	}
	return res
}

func diffView(s snapshot) map[string]any {
	return map[string]any{"state": string(s.Admin.State()), "weight": s.Weight, "sessions": s.Sessions}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// fail adds failure: {provider, code, resource} to an error.
func fail(err error, resource string) error {
	var ae *ansible.Error
	if errors.As(err, &ae) {
		return err
	}
	code := "command_failed"
	var se *haproxy.SocketError
	switch {
	case errors.As(err, &se):
		code = "socket_unreachable"
	case errors.Is(err, haproxy.ErrPermission):
		code = "permission_denied"
	case errors.Is(err, haproxy.ErrNoBackend):
		code = "backend_not_found"
	case errors.Is(err, haproxy.ErrNoServer):
		code = "server_not_found"
	case errors.Is(err, haproxy.ErrTooOld), errors.Is(err, haproxy.ErrUnknownCommand):
		code = "version_too_old"
	case errors.Is(err, context.DeadlineExceeded):
		code = "timeout"
	}
	return &ansible.Error{Msg: err.Error(), Err: err, Data: map[string]any{"failure": failure(code, resource)}}
}

func failure(code, resource string) map[string]any {
	return map[string]any{"provider": "haproxy", "code": code, "resource": resource}
}

// Module is zerodowntime.rolling.haproxy_maint.
var Module = ansible.NewModule(spec, run)

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
