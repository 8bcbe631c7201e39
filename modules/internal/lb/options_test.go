package lb_test

import (
	"os"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
)

func TestOptionChecks(t *testing.T) {
	tests := []struct {
		name string
		args map[string]any
		msg  string
	}{
		{"hetzner needs a token", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": "l"}, "provider is hetzner but all of the following are missing: api_token"},
		{"aws needs groups", map[string]any{"provider": "aws", "target": "i-1"}, "provider is aws but any of the following are missing: target_group_arns, target_group_names"},
		{"health_file needs method health", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": "l", "api_token": "tok-abcdefgh", "health_file": "/tmp/x"}, "health_file is only used with method: health"},
		{"ip target must be an IP", map[string]any{"provider": "hetzner", "target": "web-1", "target_type": "ip", "load_balancer": "l", "api_token": "tok-abcdefgh"}, `target "web-1" is not an IP address`},
		{"load_balancer not empty", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": []any{}, "api_token": "tok-abcdefgh"}, "load_balancer is empty: give the name or id of a load balancer"},
		{"load_balancer without empty names", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": "web-lb,", "api_token": "tok-abcdefgh"}, `load_balancer "web-lb," holds an empty name`},
		{"load_balancer names each once", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": []any{"a", "b", "a"}, "api_token": "tok-abcdefgh"}, `load_balancer names "a" twice`},
		{"timeout must be positive", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": "l", "api_token": "tok-abcdefgh", "timeout": 0}, "timeout must be a positive number"},
		{"timeout at most a year", map[string]any{"provider": "aws", "target": "i-1", "target_group_names": []string{"tg"}, "region": "eu-central-1", "timeout": 10000000000}, "timeout must be at most 31536000 seconds (a year), got 10000000000"},
		{"fail_after_checks not negative", map[string]any{"provider": "hetzner", "target": "x", "load_balancer": "l", "api_token": "tok-abcdefgh", "fail_after_checks": -2}, "fail_after_checks must be 0 (never fail early) or more, got -2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HCLOUD_TOKEN", "")
			os.Unsetenv("HCLOUD_TOKEN")
			module := "lb_drain"
			if _, ok := tc.args["fail_after_checks"]; ok {
				module = "lb_register"
			}
			r := lbtest.RunModule(t, module, tc.args)
			if r.Out["failed"] != true || !strings.Contains(r.Out["msg"].(string), tc.msg) {
				t.Errorf("got %v, want msg containing %q", r.Out["msg"], tc.msg)
			}
		})
	}
}
