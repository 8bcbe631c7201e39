package lb_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/capacity"
	"github.com/zerodowntime/rolling/modules/internal/lb"
)

// livePool is a pool whose state the drains change: Deregister removes a
// member. Its first `together` reads wait (a bounded moment) for each
// other, as the drains of a batch started by parallel forks read at once.
type livePool struct {
	mu       sync.Mutex
	healthy  map[string]bool
	reads    int
	together int
	arrived  chan struct{}
	fewest   int // the fewest healthy members after a change
}

func newLivePool(n, together int) *livePool {
	p := &livePool{healthy: map[string]bool{}, together: together, arrived: make(chan struct{}), fewest: n}
	for i := 1; i <= n; i++ {
		p.healthy[fmt.Sprint(i)] = true
	}
	return p
}

func (p *livePool) Name() string { return "web-lb" }

func (p *livePool) Members(context.Context) ([]lb.Member, error) {
	p.mu.Lock()
	p.reads++
	if p.reads == p.together {
		close(p.arrived)
	}
	first := p.reads <= p.together
	var ms []lb.Member
	for id := range p.healthy {
		ms = append(ms, member(id, lb.StateHealthy))
	}
	p.mu.Unlock()
	if first {
		select {
		case <-p.arrived:
		case <-time.After(300 * time.Millisecond):
		}
	}
	return ms, nil
}

func (p *livePool) Register(context.Context, lb.Target, lb.RegisterOpts) error { return nil }

func (p *livePool) Deregister(_ context.Context, t lb.Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.healthy, t.ID)
	p.fewest = min(p.fewest, len(p.healthy))
	return nil
}

// Four drains of one batch against four healthy targets with min_healthy
// 2: each counted alone at its start, all four went out. Under the lock,
// two go and two are refused, and the pool never has fewer than two.
func TestDrainsOfABatchKeepMinHealthy(t *testing.T) {
	const n = 4
	p := newLivePool(n, n)
	dir := t.TempDir()
	// Goroutines, not parallel subtests: -parallel may be below n.
	outs, exits := make([]string, n), make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], exits[i] = runFakeOut(dir, true, map[string]any{"target": fmt.Sprint(i + 1), "min_healthy": 2, "wait_for_capacity": false}, p)
		}()
	}
	wg.Wait()
	codes := map[string]int{}
	for i := range n {
		res := checkResult(t, outs[i], exits[i])
		code := failureCode(res)
		codes[code]++
		if code != "" && code != "min_healthy" {
			t.Errorf("drain %d: %v", i+1, res["msg"])
		}
	}
	if p.fewest < 2 {
		t.Errorf("the pool went down to %d healthy targets with min_healthy 2", p.fewest)
	}
	if codes[""] != 2 || codes["min_healthy"] != 2 {
		t.Errorf("outcomes %v, want two drained and two refused for min_healthy", codes)
	}
}

func TestDrainWaitsForCapacity(t *testing.T) {
	short := []lb.Member{member("1", lb.StateHealthy), member("2", lb.StateDraining), member("3", lb.StateHealthy)}
	p := &fakePool{name: "web-lb", states: [][]lb.Member{
		short, // the lookup: short, so the locks go
		short, // counted again under the locks
		{member("1", lb.StateHealthy), member("2", lb.StateHealthy), member("3", lb.StateHealthy)},
		{member("2", lb.StateHealthy), member("3", lb.StateHealthy)},
	}}
	res := runFake(t, true, map[string]any{"min_healthy": 2, "wait_for_capacity": true}, p)
	if res["failed"] != false || res["changed"] != true {
		t.Fatalf("failed=%v: %v", res["failed"], res["msg"])
	}
	wantCalls(t, p, "deregister 1")
	if w, _ := res["capacity_wait"].(float64); w <= 0 {
		t.Errorf("capacity_wait = %v, want > 0", res["capacity_wait"])
	}
	if ws := fmt.Sprint(res["warnings"]); !strings.Contains(ws, "for capacity to come back before taking 1 out (min_healthy 2)") {
		t.Errorf("warnings = %s", ws)
	}
	if p.reads != 4 {
		t.Errorf("%d reads, want 4 (lookup, two counts, the drain's check)", p.reads)
	}
}

func TestDrainCapacityRefusals(t *testing.T) {
	healthy2 := [][]lb.Member{{member("1", lb.StateHealthy), member("2", lb.StateHealthy)}}
	oneOut := [][]lb.Member{{member("1", lb.StateHealthy), member("2", lb.StateInitial), member("3", lb.StateHealthy)}}
	cases := map[string]struct {
		states [][]lb.Member
		extra  map[string]any
		want   string
		reads  int
	}{
		// A drain removes its target from the pool: a pool of two may
		// be a pool of three whose third an earlier drain took out, so
		// it waits rather than call it impossible.
		"a pool too small for now waits": {healthy2, map[string]any{"min_healthy": 2, "wait_for_capacity": true, "timeout": 20},
			"load balancer web-lb has 1 other healthy targets (of 1), 0 draining, unhealthy or not yet healthy; capacity did not come back within 20s (timeout)", 0},
		"short without waiting": {oneOut, map[string]any{"min_healthy": 2, "wait_for_capacity": false},
			"has 1 other healthy targets (of 2), 1 draining, unhealthy or not yet healthy, and wait_for_capacity is false", 1},
		"wait_for_capacity unset is false": {oneOut, map[string]any{"min_healthy": 2},
			"and wait_for_capacity is false", 1},
		"capacity never comes back": {oneOut, map[string]any{"min_healthy": 2, "wait_for_capacity": true, "timeout": 20},
			"capacity did not come back within 20s (timeout); nothing was changed. Bring the other targets back to health, take at most 1 host(s) out at once", 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := &fakePool{name: "web-lb", states: c.states}
			res := runFake(t, true, c.extra, p)
			if failureCode(res) != "min_healthy" || !strings.Contains(res["msg"].(string), c.want) {
				t.Fatalf("code %q msg %q\nwant %q", failureCode(res), res["msg"], c.want)
			}
			wantCalls(t, p)
			if c.reads > 0 && p.reads != c.reads {
				t.Errorf("%d reads, want %d", p.reads, c.reads)
			}
		})
	}
}

// A target that is not healthy already is no capacity to keep: it drains
// whatever the others' state (re-draining a failed host).
func TestDrainOfAnUnhealthyTargetIsNotRefused(t *testing.T) {
	p := &fakePool{name: "web-lb", states: [][]lb.Member{
		{member("1", lb.StateUnhealthy), member("2", lb.StateUnhealthy)},
		{member("2", lb.StateUnhealthy)},
	}}
	res := runFake(t, true, map[string]any{"min_healthy": 1}, p)
	if res["failed"] != false {
		t.Fatalf("refused: %v", res["msg"])
	}
	wantCalls(t, p, "deregister 1")
}

func TestDrainCheckModeCountsWithoutWaiting(t *testing.T) {
	states := [][]lb.Member{{member("1", lb.StateHealthy), member("2", lb.StateDraining), member("3", lb.StateHealthy)}}
	p := &fakePool{name: "web-lb", states: states}
	res := runFake(t, true, map[string]any{"min_healthy": 2, "wait_for_capacity": true, "_ansible_check_mode": true}, p)
	if res["failed"] != false || res["changed"] != true || !strings.Contains(fmt.Sprint(res["warnings"]), "would wait for capacity to come back") ||
		!strings.Contains(fmt.Sprint(res["msg"]), "min_healthy 2 does not allow it now: a run would first wait for capacity") {
		t.Fatalf("check mode with waiting: %v", res)
	}
	p = &fakePool{name: "web-lb", states: states}
	res = runFake(t, true, map[string]any{"min_healthy": 2, "wait_for_capacity": false, "_ansible_check_mode": true}, p)
	if failureCode(res) != "min_healthy" {
		t.Fatalf("check mode without waiting: %v", res)
	}
	if p.reads != 1 {
		t.Errorf("%d reads in check mode, want 1", p.reads)
	}
}

// A drain waits for another drain's lock of the same pool up to its
// timeout, and then says whose lock it waited for.
func TestDrainWaitsForTheLockAndNamesItsHolder(t *testing.T) {
	dir := t.TempDir()
	// The key of a pool without an Identifier: provider, kind and name.
	key := capacity.NewKey("load balancer web-lb", "hetzner", "load_balancer\x00web-lb")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	h, err := capacity.Lock(ctx, dir, "pid 7, lb_drain of target 2", key)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	p := &fakePool{name: "web-lb", states: [][]lb.Member{{member("1", lb.StateHealthy), member("2", lb.StateHealthy)}}}
	res := runFakeIn(t, dir, true, map[string]any{"timeout": 1}, p)
	msg, _ := res["msg"].(string)
	if failureCode(res) != "timeout" || !strings.Contains(msg, "for the lock of load balancer web-lb on this host, held by pid 7, lb_drain of target 2") {
		t.Fatalf("code %q msg %q", failureCode(res), msg)
	}
	wantCalls(t, p)
	if p.reads != 0 {
		t.Errorf("%d reads before the lock, want 0", p.reads)
	}
}

// refsProvider names its pools before the lookup, as Hetzner does, whose
// lookup reads the targets: Pools checks that the lock is held by then.
type refsProvider struct {
	fakeProvider
	t       *testing.T
	dir     string
	checked bool
}

func (p *refsProvider) PoolRefs() []string {
	return []string{"https://api.example/v1/load_balancers/web-lb"}
}

func (p *refsProvider) Pools(ctx context.Context) ([]lb.Pool, error) {
	key := capacity.NewKey("load balancer web-lb", "hetzner", p.PoolRefs()[0])
	lctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if h, err := capacity.Lock(lctx, p.dir, "test", key); err == nil {
		h.Release()
		p.t.Errorf("the pool was not locked before its lookup")
	}
	p.checked = true
	return p.fakeProvider.Pools(ctx)
}

func TestDrainLocksBeforeALookupThatReadsTargets(t *testing.T) {
	dir := t.TempDir()
	p := &fakePool{name: "web-lb", states: [][]lb.Member{
		{member("1", lb.StateHealthy), member("2", lb.StateHealthy)},
		{member("2", lb.StateHealthy)},
	}}
	prov := &refsProvider{fakeProvider: fakeProvider{pools: []lb.Pool{p}}, t: t, dir: dir}
	open := func(context.Context, *ansible.Module, lb.Args, lb.Env) (lb.Provider, error) { return prov, nil }
	res := runOpener(t, dir, open, map[string]any{"min_healthy": 1})
	if res["failed"] != false || !prov.checked {
		t.Fatalf("failed=%v checked=%v: %v", res["failed"], prov.checked, res["msg"])
	}
	wantCalls(t, p, "deregister 1")
}

// What counts as healthy, for the others and for the target itself: only
// a target healthy on every port. Any other state of another target leaves
// min_healthy 1 unmet; the same state of the target itself means it is
// no capacity to keep, and its drain is never refused.
func TestDrainCountsOnlyTargetsHealthyOnEveryPort(t *testing.T) {
	twoPorts := func(id string, a, b lb.Health) lb.Member {
		return lb.Member{Target: lb.Target{Type: lb.TypeServer, ID: id}, Health: []lb.PortHealth{{Port: 80, State: a}, {Port: 443, State: b}}}
	}
	cases := map[string]func(id string) lb.Member{
		"draining":                 func(id string) lb.Member { return member(id, lb.StateDraining) },
		"initial":                  func(id string) lb.Member { return member(id, lb.StateInitial) },
		"unused":                   func(id string) lb.Member { return member(id, lb.StateUnused) },
		"unavailable":              func(id string) lb.Member { return member(id, lb.StateUnavailable) },
		"unhealthy":                func(id string) lb.Member { return member(id, lb.StateUnhealthy) },
		"unknown":                  func(id string) lb.Member { return member(id, lb.StateUnknown) },
		"unhealthy on one service": func(id string) lb.Member { return twoPorts(id, lb.StateHealthy, lb.StateUnhealthy) },
		"no health reported":       func(id string) lb.Member { return lb.Member{Target: lb.Target{Type: lb.TypeServer, ID: id}} },
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			p := &fakePool{name: "web-lb", states: [][]lb.Member{{member("1", lb.StateHealthy), in("2")}}}
			if res := runFake(t, true, map[string]any{"min_healthy": 1}, p); failureCode(res) != "min_healthy" {
				t.Errorf("another target %s counted as healthy: %v", name, res["msg"])
			}
			p = &fakePool{name: "web-lb", states: [][]lb.Member{{in("1"), member("2", lb.StateUnhealthy)}, {member("2", lb.StateUnhealthy)}}}
			if res := runFake(t, true, map[string]any{"min_healthy": 1}, p); failureCode(res) == "min_healthy" {
				t.Errorf("a target %s was refused: %v", name, res["msg"])
			}
		})
	}
}
