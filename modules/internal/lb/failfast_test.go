package lb

import (
	"strings"
	"testing"
	"time"
)

type timings map[int]CheckTiming

func (t timings) CheckTiming(port int) (CheckTiming, bool) { c, ok := t[port]; return c, ok }

func TestFailCount(t *testing.T) {
	check := timings{80: {Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 3}}
	unhealthy := State{Registered: true, Health: map[string]Health{"80": StateUnhealthy}, Reasons: map[string]string{"80": "unexpected_http_status: HTTP 500"}}
	healthy := State{Registered: true, Health: map[string]Health{"80": StateHealthy}}
	unknown := State{Registered: true, Health: map[string]Health{"80": StateUnknown}}
	otherPort := State{Registered: true, Health: map[string]Health{"443": StateUnhealthy}}
	type look struct {
		at float64 // seconds after the register
		st State
	}
	// Counting starts after the first pass (interval + timeout = 15 s);
	// retries 3 means 2 more intervals of unhealthy are a recovery, so
	// fail_after_checks 3 fails at 15 + (2+3)*10 = 65 s.
	cases := []struct {
		name   string
		after  int
		looks  []look
		failAt float64 // -1: never
	}{
		{"never healthy", 3, []look{{2, unknown}, {12, unhealthy}, {40, unhealthy}, {64.9, unhealthy}, {65, unhealthy}}, 65},
		{"first pass not counted", 1, []look{{1, unhealthy}, {44.9, unhealthy}, {45, unhealthy}}, 45},
		{"healthy starts again", 3, []look{{12, unhealthy}, {60, unhealthy}, {61, healthy}, {62, unhealthy}, {111.9, unhealthy}, {112, unhealthy}}, 112},
		{"unknown starts again", 3, []look{{12, unhealthy}, {60, unknown}, {70, unhealthy}, {119, unhealthy}}, -1},
		{"slow boot recovers", 3, []look{{12, unhealthy}, {30, unhealthy}, {55, unhealthy}, {64, healthy}}, -1},
		{"port without a known check", 1, []look{{1000, otherPort}}, -1},
		{"off", 0, []look{{1000, unhealthy}}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f failCount
			reg := time.Unix(5000, 0)
			failedAt, msg := -1.0, ""
			for _, l := range tc.looks {
				if msg = f.observe(tc.after, check, Target{ID: "42", Name: "web-1"}, "load balancer web-lb", reg, reg.Add(time.Duration(l.at*float64(time.Second))), l.st); msg != "" {
					failedAt = l.at
					break
				}
			}
			if failedAt != tc.failAt {
				t.Fatalf("failed at %v s (%q), want %v", failedAt, msg, tc.failAt)
			}
			if msg == "" {
				return
			}
			for _, want := range []string{"target web-1 (42) failed", "in a row in load balancer web-lb on port 80", "unexpected_http_status: HTTP 500", "retries 3", "fail_after_checks"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q: %s", want, msg)
				}
			}
		})
	}
}
