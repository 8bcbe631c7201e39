package deploywatch

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/watch"
)

// missingAlarm is a cloud signal whose alarm does not exist.
type missingAlarm struct{}

func (missingAlarm) Name() string { return "CloudWatch alarms web-5XX" }
func (missingAlarm) Start(context.Context) error {
	return failure.Errorf(lb.AWS, failure.NotFound, "alarm web-5XX", nil, `CloudWatch alarm "web-5XX" not found`)
}
func (missingAlarm) Check(context.Context) (watch.Finding, error) { return watch.Finding{}, nil }
func (missingAlarm) Report() map[string]any                       { return map[string]any{"kind": "cloudwatch_alarms"} }

// TestCloud: the cloud providers get their signals from CloudSignals with
// the load balancer options, and a failure.Error ends the watch at once
// with its failure dict. Not parallel: it sets CloudSignals.
func TestCloud(t *testing.T) {
	var got lb.Args
	CloudSignals = func(_ context.Context, _ *ansible.Module, a lb.Args) ([]watch.Signal, error) {
		got = a
		return []watch.Signal{missingAlarm{}}, nil
	}
	t.Cleanup(func() { CloudSignals = nil })
	res := runModule(t, map[string]any{"provider": "aws", "target": "i-0123", "target_group_names": []string{"web"}, "window": 30})
	if res["failed"] != true || res["msg"] != `the watch of CloudWatch alarms web-5XX failed after 0.0 s of 30 s: CloudWatch alarm "web-5XX" not found` {
		t.Fatalf("result %v", res)
	}
	if f := fmt.Sprint(res["failure"]); f != "map[code:not_found provider:aws resource:alarm web-5XX]" {
		t.Errorf("failure %s", f)
	}
	if got.Target != "i-0123" || fmt.Sprint(got.TargetGroupNames) != "[web]" || got.Interval != 1 {
		t.Errorf("CloudSignals got %+v", got)
	}

	// An error making the signals keeps its failure dict too.
	CloudSignals = func(context.Context, *ansible.Module, lb.Args) ([]watch.Signal, error) {
		return nil, failure.Errorf(lb.AWS, failure.NotFound, "target_group web", nil, "target group web not found")
	}
	res = runModule(t, map[string]any{"provider": "aws", "target": "i-0123", "target_group_names": []string{"web"}})
	if f := fmt.Sprint(res["failure"]); res["msg"] != "target group web not found" || f != "map[code:not_found provider:aws resource:target_group web]" {
		t.Errorf("result %v", res)
	}

	CloudSignals = nil // the host build
	res = runModule(t, map[string]any{"provider": "hetzner", "target": "app-1", "api_token": "hcloud-token-0123456789", "load_balancer": []string{"web"}})
	if res["failed"] != true || !strings.Contains(res["msg"].(string), "provider hetzner needs the collection's full module build") {
		t.Errorf("host build: %v", res)
	}
}
