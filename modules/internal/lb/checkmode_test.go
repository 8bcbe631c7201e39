package lb_test

import (
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb"
)

// TestCheckModeMsg: check mode's msg says what a run would change in
// which pool, the wait after it, and where there is nothing to do.
func TestCheckModeMsg(t *testing.T) {
	healthy := []lb.Member{member("1", lb.StateHealthy), member("2", lb.StateHealthy), member("3", lb.StateUnhealthy)}
	for _, c := range []struct {
		name  string
		drain bool
		extra map[string]any
		pools []lb.Pool
		want  string
	}{
		{"drain", true, nil, []lb.Pool{&fakePool{name: "web-lb", states: [][]lb.Member{healthy}}},
			"check mode: would deregister server 1 from load balancer web-lb (1 of its 2 other targets healthy); min_healthy 1 allows it; " +
				"then wait up to 300s until server 1 is no longer registered"},
		{"drain with health_file", true, map[string]any{"method": "health", "health_file": "/nonexistent/zdt-down", "timeout": 30},
			[]lb.Pool{&fakePool{name: "web-lb", states: [][]lb.Member{healthy}}},
			"check mode: would create health_file /nonexistent/zdt-down; min_healthy 1 allows it; " +
				"then wait up to 30s until server 1 is unhealthy on every service"},
		{"drain, out already in one", true, nil, []lb.Pool{&fakePool{name: "web-lb", states: [][]lb.Member{healthy}},
			&fakePool{name: "int-lb", states: [][]lb.Member{{member("2", lb.StateHealthy)}}}},
			"would deregister server 1 from load balancer web-lb (1 of its 2 other targets healthy); min_healthy 1 allows it; " +
				"then wait up to 300s until server 1 is no longer registered; server 1 is out of rotation already in load balancer int-lb: nothing to drain there"},
		{"register", false, map[string]any{"timeout": 30}, []lb.Pool{&fakePool{name: "web-lb", states: [][]lb.Member{{member("2", lb.StateHealthy)}}}},
			"check mode: would register server 1 in load balancer web-lb; then wait up to 30s until server 1 is healthy"},
		{"register, not healthy yet", false, map[string]any{"timeout": 30}, []lb.Pool{&fakePool{name: "web-lb", states: [][]lb.Member{{member("1", lb.StateUnhealthy)}}}},
			"check mode: would wait up to 30s until server 1 is healthy in load balancer web-lb"},
		{"register, in already", false, nil, []lb.Pool{&fakePool{name: "web-lb", states: [][]lb.Member{healthy}}},
			"check mode: server 1 is registered already in load balancer web-lb and healthy: nothing to register there"},
	} {
		t.Run(c.name, func(t *testing.T) {
			extra := map[string]any{"_ansible_check_mode": true}
			for k, v := range c.extra {
				extra[k] = v
			}
			res := runFake(t, c.drain, extra, c.pools...)
			if res["failed"] != false || !contains(res["msg"], c.want) {
				t.Errorf("failed=%v msg:\n%v\nwant it to hold:\n%s", res["failed"], res["msg"], c.want)
			}
			for _, p := range c.pools {
				wantCalls(t, p.(*fakePool))
			}
		})
	}
}

func contains(msg any, want string) bool {
	s, _ := msg.(string)
	return strings.Contains(s, want)
}
