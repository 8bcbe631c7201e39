// Package haproxymaint is the zerodowntime.rolling.haproxy_maint module: drain,
// maintenance and ready for HAProxy servers through the runtime API.
package haproxymaint

import (
	"fmt"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
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
		"fail_after_checks": {Type: ansible.Int, Default: 3},
		"check_interval":    {Type: ansible.Float, Default: 2},
		"min_healthy":       {Type: ansible.Int, Default: 0},
		// Unset, the action plugin sets it from the play's strategy.
		"wait_for_capacity": {Type: ansible.Bool},
	},
	SupportsCheckMode: true,
	TimeoutOption:     "timeout",
}

// Module is zerodowntime.rolling.haproxy_maint.
var Module = ansible.NewModule(spec, run)

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
	FailAfterChecks  int     `json:"fail_after_checks"`
	CheckInterval    float64 `json:"check_interval"`
	MinHealthy       int     `json:"min_healthy"`
	WaitForCapacity  bool    `json:"wait_for_capacity"`
}

// Shutdown policies for sessions still open when the wait ends.
const (
	shutdownNever       = "never"
	shutdownOnTimeout   = "on_timeout"
	shutdownImmediately = "immediately"
)

// goal is what the task asks for, checked and typed: the options that
// say where the servers should end up.
type goal struct {
	state  haproxy.AdminState
	weight *weightSpec
}

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

// checkArgs checks what the spec cannot, before anything is sent, and
// returns the goal.
func checkArgs(m *ansible.Module, a args) (goal, error) {
	g := goal{state: desiredState(a.State)}
	var err error
	if g.weight, err = parseWeight(a.Weight); err != nil {
		return goal{}, err
	}
	if a.Wait {
		err := ansible.CheckSeconds("timeout", float64(a.Timeout))
		if err == nil {
			err = ansible.CheckSeconds("interval", a.Interval)
		}
		if err == nil {
			err = ansible.CheckSeconds("check_interval", a.CheckInterval)
		}
		if err != nil {
			return goal{}, fmt.Errorf("%w (with wait: true)", err)
		}
	}
	if a.FailAfterChecks < 0 {
		return goal{}, fmt.Errorf("fail_after_checks must be 0 (never fail early) or more, got %d", a.FailAfterChecks)
	}
	if a.MinHealthy < 0 {
		return goal{}, fmt.Errorf("min_healthy must be 0 or more, got %d", a.MinHealthy)
	}
	if err := haproxy.CheckWorker(a.Worker); err != nil {
		return goal{}, fmt.Errorf("worker must be a worker number such as 1 or !<pid>, got %q", a.Worker)
	}
	if err := checkNames(a); err != nil {
		return goal{}, err
	}
	if g.state == haproxy.StateReady && a.ShutdownSessions != shutdownNever {
		m.Warn("shutdown_sessions: %s has no effect with state: %s", a.ShutdownSessions, a.State)
	}
	return g, nil
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
