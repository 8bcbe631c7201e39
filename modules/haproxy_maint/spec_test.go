package haproxymaint

import (
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible/doccheck"
)

func TestBadOptions(t *testing.T) {
	cases := []struct {
		params map[string]any
		msg    string
	}{
		{map[string]any{"server": "web1"}, "missing required arguments: state"},
		{map[string]any{"server": "web1", "state": "up"}, "value of state must be one of: ready, drain, maint, enabled, disabled, got: up"},
		{map[string]any{"server": "web1", "state": "drain", "shutdown_sessions": true}, "value of shutdown_sessions must be one of: never, on_timeout, immediately"},
		{map[string]any{"server": "web1", "state": "drain", "wait_interval": 5}, "Unsupported parameters for (haproxy_maint) module: wait_interval"},
		{map[string]any{"server": "web1", "state": "drain", "weight": "lots"}, "weight must be a number"},
		{map[string]any{"server": "web1", "state": "drain", "timeout": 0}, "timeout must be a positive number of seconds, got 0 (with wait: true)"},
		{map[string]any{"server": "web1", "state": "drain", "interval": 1e12}, "interval must be at most 31536000 seconds (a year), got 1000000000000 (with wait: true)"},
		{map[string]any{"server": "web1", "state": "drain", "worker": "first"}, "worker must be a worker number"},
		{map[string]any{"server": "web1", "state": "ready", "fail_after_checks": -1}, "fail_after_checks must be 0 (never fail early) or more, got -1"},
		{map[string]any{"server": "web1", "state": "ready", "check_interval": 0}, "check_interval must be a positive number of seconds, got 0 (with wait: true)"},
		{map[string]any{"server": "web1", "state": "drain", "socket": "/nonexistent/haproxy.sock"}, "is HAProxy running"},
	}
	for _, tc := range cases {
		res, _ := runModule(t, tc.params)
		if res["failed"] != true || !strings.Contains(res["msg"].(string), tc.msg) {
			t.Errorf("%v: got %v, want msg with %q", tc.params, res["msg"], tc.msg)
		}
	}
}

// TestDocMatchesSpec compares the doc stub's options with the Go spec.
func TestDocMatchesSpec(t *testing.T) { doccheck.Check(t, spec) }
