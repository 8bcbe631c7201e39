package haproxymaint

import (
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

func TestFailFast(t *testing.T) {
	down500 := haproxy.Stat{Status: "DOWN", CheckStatus: "L7STS", CheckCode: "500", CheckDesc: "Layer7 wrong status", CheckInfo: "Internal Server Error"}
	ok := haproxy.Stat{Status: "DOWN", CheckStatus: "L7OK", CheckCode: "200"}
	rising := down500
	rising.Status, rising.CheckHealth = "DOWN 1/2", 1
	type look struct {
		at   float64 // seconds after the wait's start
		stat haproxy.Stat
	}
	cases := []struct {
		name   string
		after  int
		looks  []look
		failAt float64 // the look that fails, -1 for none
	}{
		{"first pass not counted", 3, []look{{0.5, down500}, {1.9, down500}, {3.9, down500}}, -1},
		{"fails after the first pass and three checks", 3, []look{{0.5, down500}, {2, down500}, {4, down500}, {6, down500}, {7.9, down500}, {8, down500}}, 8},
		{"a passed check starts again", 3, []look{{0.5, down500}, {6, down500}, {6.5, ok}, {7, down500}, {12.4, down500}, {12.5, down500}}, 12.5},
		{"progress toward rise starts again", 3, []look{{3, down500}, {7, rising}, {7.5, down500}, {13, down500}}, 13},
		{"stale pass from before maintenance", 1, []look{{0, ok}, {1, down500}, {3.9, down500}, {4, down500}}, 4},
		{"fail_after_checks 0 never fails", 0, []look{{100, down500}}, -1},
		{"one", 1, []look{{3.9, down500}, {4, down500}}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ff := failFast{after: tc.after, every: 2 * time.Second}
			tg := &target{st: haproxy.ServerState{Backend: "www", Name: "web1"}}
			start := time.Unix(1000, 0)
			ff.start(tg, start)
			failedAt := -1.0
			var err error
			for _, l := range tc.looks {
				if err = ff.observe(tg, l.stat, start.Add(time.Duration(l.at*float64(time.Second)))); err != nil {
					failedAt = l.at
					break
				}
			}
			if failedAt != tc.failAt {
				t.Fatalf("failed at %v s (%v), want %v", failedAt, err, tc.failAt)
			}
			if err == nil {
				return
			}
			for _, want := range []string{"server web1 in backend www", "L7STS/500", "Internal Server Error", "in a row", "fail_after_checks"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message lacks %q: %s", want, err)
				}
			}
		})
	}
}
