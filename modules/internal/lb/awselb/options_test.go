package awselb_test

import (
	"fmt"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
)

// The aws option rules run through the module: their warnings in order,
// and method forced to remove, so health_file is refused after them.
func TestOptionRules(t *testing.T) {
	args := map[string]any{
		"provider": "aws", "target": "i-1", "target_group_names": []string{"tg"}, "region": "eu-central-1",
		"endpoint": "http://x", "load_balancer": "l", "method": "health", "target_type": "ip",
		"use_private_ip": true, "health_file": "/tmp/x",
	}
	r := lbtest.RunModule(t, "lb_register", args)
	const msg = "health_file is only used with method: health (provider hetzner); remove it or set method: health"
	if r.Out["failed"] != true || r.Out["msg"] != msg {
		t.Errorf("msg %q, want %q", r.Out["msg"], msg)
	}
	want := "[option endpoint is ignored with provider aws option load_balancer is ignored with provider aws option method is ignored with provider aws" +
		" option target_type is ignored with provider aws: the target group's target type decides whether target is an instance id or an IP" +
		" option use_private_ip is ignored with provider aws]"
	if w := fmt.Sprint(r.Out["warnings"]); w != want {
		t.Errorf("warnings %s\nwant %s", w, want)
	}
}
