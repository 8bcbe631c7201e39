package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

func TestRoundRobinHealthyOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3, nil)
	w.waitHealthy(t)
	ctx := context.Background()
	for _, url := range []string{w.ep.Services[0].URL, w.ep.Listeners[0].URL} {
		seen := map[string]int{}
		for i := 0; i < 9; i++ {
			code, body, err := simtest.Get(ctx, url+"/")
			if err != nil || code != 200 {
				t.Fatalf("GET %s: %d %v", url, code, err)
			}
			seen[strings.TrimSpace(body)]++
		}
		for _, h := range w.hosts {
			if seen[h] != 3 {
				t.Errorf("%s: round robin gave %v, want 3 each", url, seen)
			}
		}
	}
	// app-3 fails its checks: after 2 failures it leaves both rotations.
	w.backends[2].SetHealthy(false)
	simtest.Eventually(t, 3*time.Second, "app-3 out", func() bool {
		st := w.sim.State()
		return st.HetznerHealth("web-lb", w.ep.Services[0].ListenPort, "app-3") == "unhealthy" &&
			st.AWSTarget("web-tg", instanceID(2)).State == "unhealthy"
	})
	w.sim.ResetCounts()
	for _, url := range []string{w.ep.Services[0].URL, w.ep.Listeners[0].URL} {
		for i := 0; i < 6; i++ {
			if code, _, err := simtest.Get(ctx, url+"/"); err != nil || code != 200 {
				t.Fatalf("GET %s: %d %v", url, code, err)
			}
		}
	}
	c := w.sim.Counts()
	if c.ProxiedByHost[w.hosts[2]] != 0 || c.ProxiedByHost[w.hosts[0]] != 6 || c.ProxiedByHost[w.hosts[1]] != 6 {
		t.Errorf("proxied by host = %v, want 6/6/0", c.ProxiedByHost)
	}
	key := "hetzner/web-lb/" + itoa(w.ep.Services[0].ListenPort) + "/app-1"
	if c.Proxied[key] != 3 || c.Proxied["aws/web-tg/"+instanceID(0)+":"+itoa(w.port)] != 3 {
		t.Errorf("proxied = %v", c.Proxied)
	}
	// Hetzner needs retries (2) passes to come back.
	w.backends[2].SetHealthy(true)
	simtest.Eventually(t, 3*time.Second, "app-3 back", func() bool {
		return w.sim.State().HetznerHealth("web-lb", w.ep.Services[0].ListenPort, "app-3") == "healthy"
	})
}

// TestFlappingHealth: a flap fault alternates pass and fail per period, and
// health follows once the thresholds are met.
func TestFlappingHealth(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, func(c *sim.Config) {
		c.Hetzner.LoadBalancers[0].Services[0].HealthCheck.Retries = 1
		c.AWS.TargetGroups[0].HealthCheck.HealthyThreshold = 1
		c.AWS.TargetGroups[0].HealthCheck.UnhealthyThreshold = 1
		c.AWS.TargetGroups[0].HealthCheck.Interval = sim.Duration(100 * time.Millisecond)
		c.Hetzner.LoadBalancers[0].Services[0].HealthCheck.Interval = sim.Duration(100 * time.Millisecond)
	})
	if err := w.sim.SetFaults(sim.Faults{Health: []sim.HealthFault{{Target: "app-1", Mode: "flap", Period: sim.Duration(600 * time.Millisecond)}}}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	all := func() bool {
		return seen["hetzner healthy"] && seen["hetzner unhealthy"] && seen["aws healthy"] && seen["aws unhealthy"]
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && !all() {
		st := w.sim.State()
		seen["hetzner "+st.HetznerHealth("web-lb", w.ep.Services[0].ListenPort, "app-1")] = true
		seen["aws "+st.AWSTarget("web-tg", instanceID(0)).State] = true
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"hetzner healthy", "hetzner unhealthy", "aws healthy", "aws unhealthy"} {
		if !seen[want] {
			t.Errorf("flapping never showed %q (saw %v)", want, seen)
		}
	}
	// fail by instance id forces the check to fail although the app is fine.
	_ = w.sim.SetFaults(sim.Faults{Health: []sim.HealthFault{{Target: instanceID(0), Mode: "fail"}}})
	simtest.Eventually(t, 2*time.Second, "forced unhealthy", func() bool {
		tt := w.sim.State().AWSTarget("web-tg", instanceID(0))
		return tt.State == "unhealthy" && tt.Reason == "Target.ResponseCodeMismatch"
	})
}
