package hetzner_test

import (
	"fmt"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
)

// The Hetzner option rules run through the module: their warnings in
// order, and their errors ahead of health_file's.
func TestOptionRules(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		args := map[string]any{"provider": "hetzner", "target": "web-1", "load_balancer": "l", "api_token": "tok-abcdefgh"}
		for k, v := range extra {
			args[k] = v
		}
		return args
	}
	tests := []struct {
		name     string
		args     map[string]any
		msg      string
		warnings string
	}{
		{"aws options and target_port ignored", base(map[string]any{"region": "eu-central-1", "endpoint_url": "http://x", "target_port": 80, "load_balancer": []any{}}),
			"load_balancer is empty: give the name or id of a load balancer, or a list of them",
			"[option endpoint_url is ignored with provider hetzner option region is ignored with provider hetzner]"},
		{"target_port warned after the list check", base(map[string]any{"target_port": 80, "target_type": "ip", "health_file": "/tmp/x"}),
			`target "web-1" is not an IP address, but target_type is ip: give the IP, or use target_type: server for a server name or id`,
			"[option target_port is ignored with provider hetzner]"},
		{"auto needs target_type server", base(map[string]any{"target": "auto", "target_type": "ip", "health_file": "/tmp/x"}),
			"target: auto reads the server id from the metadata service and needs target_type: server; give the IP itself for target_type: ip",
			"[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HCLOUD_TOKEN", "")
			r := lbtest.RunModule(t, "lb_drain", tc.args)
			if r.Out["failed"] != true || r.Out["msg"] != tc.msg {
				t.Errorf("msg %q, want %q", r.Out["msg"], tc.msg)
			}
			w := "[]"
			if r.Out["warnings"] != nil {
				w = fmt.Sprint(r.Out["warnings"])
			}
			if w != tc.warnings {
				t.Errorf("warnings %s, want %s", w, tc.warnings)
			}
		})
	}
}
