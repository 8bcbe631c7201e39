package providers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// drainIn runs lb_drain against lbsim with the pools' locks in dir.
func drainIn(t *testing.T, dir string, args map[string]any) map[string]any {
	t.Helper()
	r := lb.NewRunner(providers.Open, lb.WithLockDir(dir))
	b, _ := json.Marshal(args)
	var buf bytes.Buffer
	ansible.RunArgs(context.Background(), lb.NewSpec("lb_drain", lb.DrainOptions), b, &buf, r.Drain)
	var out map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Errorf("output: %v\n%s", err, buf.String())
	}
	return out
}

// The health-file method as the role runs it, against the real Hetzner
// client and lbsim: three hosts of a batch reserve at once (min_healthy 2),
// one gets through; its application fails its health check (the health
// file); the drain waits until the load balancer calls it unhealthy and
// drops the reservation; healthy again, the next host may reserve.
func TestLbsimReserveThenHealthDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("lbsim")
	}
	w := startWorld(t)
	dir := t.TempDir()
	// Never fewer than two healthy from the first reserve on.
	belowTwo := w.watch(t, func(st sim.State) bool {
		n := 0
		for _, m := range st.Hetzner.LoadBalancers[0].Services[0].Members {
			if m.Health == "healthy" {
				n++
			}
		}
		return n < 2
	})
	reserve := map[string]any{"method": "health", "reserve": true, "min_healthy": 2, "wait_for_capacity": false}
	outs := make([]map[string]any, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = drainIn(t, dir, w.args("hetzner", i, reserve))
		}()
	}
	wg.Wait()
	first := -1
	for i, out := range outs {
		switch {
		case out["failed"] == false && first < 0:
			first = i
		case lbtest.Get(out, "failure", "code") != "min_healthy":
			t.Errorf("reserve of host %d: failed=%v %v", i, out["failed"], out["msg"])
		}
	}
	if first < 0 {
		t.Fatalf("no host reserved: %v", outs)
	}
	// The role makes the health file on the app host.
	w.backends[first].SetHealthy(false)
	out := drainIn(t, dir, w.args("hetzner", first, map[string]any{"method": "health", "min_healthy": 2}))
	if out["failed"] != false {
		t.Fatalf("drain of host %d: %v", first, out["msg"])
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.ledger")); len(m) != 0 {
		t.Errorf("the drain left its reservation: %v", m)
	}
	next := (first + 1) % 3
	if out := drainIn(t, dir, w.args("hetzner", next, reserve)); lbtest.Get(out, "failure", "code") != "min_healthy" {
		t.Errorf("host %d reserved while host %d was out: %v", next, first, out["msg"])
	}
	w.backends[first].SetHealthy(true)
	simtest.Eventually(t, 10*time.Second, "the drained host healthy again", func() bool { return w.healthyCount("hetzner") == 3 })
	if out := drainIn(t, dir, w.args("hetzner", next, reserve)); out["failed"] != false {
		t.Errorf("host %d after host %d came back: %v", next, first, out["msg"])
	}
	if at := belowTwo(); !at.IsZero() {
		t.Errorf("fewer than two healthy targets at %s", at.Format(time.StampMilli))
	}
}
