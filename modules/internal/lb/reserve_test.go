package lb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// healthPool is a pool whose members' health the test sets, as health
// files on the app hosts would; every read is signalled on reads.
type healthPool struct {
	mu     sync.Mutex
	health map[string]lb.Health
	reads  chan string // the ids of the targets read, one a read
	calls  int
}

func newHealthPool(ids ...string) *healthPool {
	p := &healthPool{health: map[string]lb.Health{}, reads: make(chan string, 1000)}
	for _, id := range ids {
		p.health[id] = lb.StateHealthy
	}
	return p
}

func (p *healthPool) Name() string { return "web-lb" }

func (p *healthPool) Members(context.Context) ([]lb.Member, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ms []lb.Member
	for id, h := range p.health {
		ms = append(ms, member(id, h))
	}
	select {
	case p.reads <- "":
	default:
	}
	return ms, nil
}

func (p *healthPool) set(id string, h lb.Health) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.health[id] = h
}

func (p *healthPool) Register(context.Context, lb.Target, lb.RegisterOpts) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	return nil
}

func (p *healthPool) Deregister(ctx context.Context, t lb.Target) error {
	return p.Register(ctx, t, lb.RegisterOpts{})
}

var reserveArgs = map[string]any{"method": "health", "reserve": true, "min_healthy": 2}

func with(base map[string]any, kv ...any) map[string]any {
	out := maps.Clone(base)
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// runReal runs lb_drain on p on the real clock: a run that waits for
// capacity must see other runs change the pool meanwhile.
func runReal(dir string, p lb.Pool, extra map[string]any) (string, int) {
	open := func(context.Context, *ansible.Module, lb.Args, lb.Env) (lb.Provider, error) {
		return fakeProvider{pools: []lb.Pool{p}}, nil
	}
	args := with(map[string]any{"provider": "hetzner", "load_balancer": "web-lb", "api_token": "fake-token-3f9a1c"})
	maps.Copy(args, extra)
	data, _ := json.Marshal(args)
	r := lb.NewRunner(open, lb.WithWaitOptions(wait.WithoutJitter()), lb.WithLockDir(dir))
	var buf bytes.Buffer
	code := ansible.RunArgs(context.Background(), lb.NewSpec("lb_drain", lb.DrainOptions), data, &buf, r.Drain)
	return buf.String(), code
}

// reserveAll runs a reserve for targets 1..n at once, in dirs[i]'s lock
// directory, and returns their results.
func reserveAll(t *testing.T, p lb.Pool, dirs []string, extra map[string]any) []map[string]any {
	t.Helper()
	outs, codes := make([]string, len(dirs)), make([]int, len(dirs))
	var wg sync.WaitGroup
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = runFakeOut(dirs[i], true, with(extra, "target", fmt.Sprint(i+1)), p)
		}()
	}
	wg.Wait()
	res := make([]map[string]any, len(dirs))
	for i := range dirs {
		res[i] = checkResult(t, outs[i], codes[i])
	}
	return res
}

// The hole reserve closes: three hosts of a batch count before any health
// file is made, so every count sees three healthy targets. Counted without
// the ledger (a lock directory each), all three go; with it, one reserves
// and the two others are refused at once, naming the reservation.
func TestReserveOfABatchKeepsMinHealthy(t *testing.T) {
	p := newHealthPool("1", "2", "3")
	extra := with(reserveArgs, "wait_for_capacity", false)
	apart := reserveAll(t, p, []string{t.TempDir(), t.TempDir(), t.TempDir()}, extra)
	for i, res := range apart {
		if res["failed"] != false {
			t.Fatalf("without a shared ledger, reserve %d failed: %v", i+1, res["msg"])
		}
	}
	dir := t.TempDir()
	shared := reserveAll(t, p, []string{dir, dir, dir}, extra)
	var reserved []int
	for i, res := range shared {
		switch code := failureCode(res); code {
		case "":
			reserved = append(reserved, i+1)
			r, _ := res["reserved"].(map[string]any)
			if res["changed"] != false || fmt.Sprint(r["pools"]) != "[load balancer web-lb]" || r["expires"] == nil ||
				!strings.HasPrefix(res["msg"].(string), fmt.Sprintf("reserved server %d in load balancer web-lb until ", i+1)) {
				t.Errorf("reserve %d: changed=%v reserved=%v msg=%v", i+1, res["changed"], r, res["msg"])
			}
		case "min_healthy":
			if msg := res["msg"].(string); !strings.Contains(msg, "has 1 other healthy targets (of 2), 0 draining, unhealthy or not yet healthy, 1 about to go out (reserved by pid") {
				t.Errorf("reserve %d: %s", i+1, msg)
			}
		default:
			t.Errorf("reserve %d: %v", i+1, res["msg"])
		}
	}
	if len(reserved) != 1 {
		t.Fatalf("reserved: targets %v, want exactly one of three with min_healthy 2", reserved)
	}
	if p.calls != 0 {
		t.Errorf("%d calls to the load balancer, want none", p.calls)
	}
}

// With wait_for_capacity, the two refused reserves wait instead. The first
// host's drain (method health, its file made) drops its reservation once
// the target is unhealthy; when it is healthy again, one waiter reserves,
// and so on through the batch: one target at a time is reserved or out.
func TestReserveWaitsAndTheDrainDropsIt(t *testing.T) {
	p := newHealthPool("1", "2", "3")
	dir := t.TempDir()
	extra := with(reserveArgs, "wait_for_capacity", true, "interval", 0.05, "timeout", 60)
	type outcome struct {
		id   string
		out  string
		code int
	}
	done := make(chan outcome, 3)
	for _, id := range []string{"1", "2", "3"} {
		go func() {
			out, code := runReal(dir, p, with(extra, "target", id))
			done <- outcome{id, out, code}
		}()
	}
	// Each step waits for what it needs, up to a bound far above it.
	next := func(step string) outcome {
		t.Helper()
		select {
		case o := <-done:
			return o
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no reserve returned within 20s", step)
		}
		return outcome{}
	}
	ledger := func() string {
		data, _ := os.ReadFile(ledgerPath(t, dir))
		return string(data)
	}
	for round := 1; round <= 3; round++ {
		o := next(fmt.Sprintf("round %d", round))
		res := checkResult(t, o.out, o.code)
		if res["failed"] != false {
			t.Fatalf("round %d: reserve of %s failed: %v", round, o.id, res["msg"])
		}
		if !strings.Contains(ledger(), fmt.Sprintf(`"target":"%s"`, o.id)) {
			t.Fatalf("round %d: %s is not in the ledger: %s", round, o.id, ledger())
		}
		if round < 3 {
			// The others wait: none returns while o.id is reserved,
			// though each counts again meanwhile.
			countedAgain(t, p)
			select {
			case o2 := <-done:
				t.Fatalf("round %d: %s returned while %s was reserved: %s", round, o2.id, o.id, o2.out)
			default:
			}
		}
		// The role makes the health file; the drain waits until the load
		// balancer counts the target unhealthy, and drops the reservation.
		p.set(o.id, lb.StateUnhealthy)
		dout, dcode := runFakeOut(dir, true, map[string]any{"method": "health", "min_healthy": 2, "target": o.id}, p)
		res = checkResult(t, dout, dcode)
		if res["failed"] != false {
			t.Fatalf("round %d: drain of %s: %v", round, o.id, res["msg"])
		}
		if strings.Contains(ledger(), fmt.Sprintf(`"target":"%s"`, o.id)) {
			t.Fatalf("round %d: the drain of %s left its reservation: %s", round, o.id, ledger())
		}
		// Deployed, it registers again: capacity comes back.
		p.set(o.id, lb.StateHealthy)
	}
}

// countedAgain waits for four more reads of the pool: the waiting reserves
// count again meanwhile.
func countedAgain(t *testing.T, p *healthPool) {
	t.Helper()
	for range len(p.reads) {
		<-p.reads
	}
	for i := range 4 {
		select {
		case <-p.reads:
		case <-time.After(10 * time.Second):
			t.Fatalf("no count of the pool within 10s (read %d)", i+1)
		}
	}
}

func ledgerPath(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.ledger"))
	if len(m) == 0 {
		return filepath.Join(dir, "none.ledger")
	}
	return m[0]
}

// A drain that fails still drops its target's reservation: the others'
// counts need not wait for its expiry.
func TestFailedDrainDropsTheReservation(t *testing.T) {
	p := newHealthPool("1", "2", "3")
	dir := t.TempDir()
	if res := runFakeIn(t, dir, true, with(reserveArgs, "target", "1"), p); res["failed"] != false {
		t.Fatalf("reserve: %v", res["msg"])
	}
	// No health file made: the target stays healthy until the timeout.
	res := runFakeIn(t, dir, true, map[string]any{"method": "health", "min_healthy": 2, "target": "1", "timeout": 5}, p)
	if failureCode(res) != "timeout" {
		t.Fatalf("drain: %v", res)
	}
	if _, err := os.Lstat(ledgerPath(t, dir)); !os.IsNotExist(err) {
		data, _ := os.ReadFile(ledgerPath(t, dir))
		t.Fatalf("the failed drain left the ledger: %s", data)
	}
	// Reserving again refreshes, and a second target is refused by it.
	for range 2 {
		if res := runFakeIn(t, dir, true, with(reserveArgs, "target", "1"), p); res["failed"] != false {
			t.Fatalf("reserve again: %v", res["msg"])
		}
	}
	if res := runFakeIn(t, dir, true, with(reserveArgs, "target", "2"), p); failureCode(res) != "min_healthy" {
		t.Fatalf("second target: %v", res["msg"])
	}
}

func TestReserveOptionsAndCheckMode(t *testing.T) {
	p := newHealthPool("1", "2", "3")
	for name, extra := range map[string]map[string]any{
		"method remove": {"reserve": true, "method": "remove"},
		"health_file":   {"reserve": true, "method": "health", "health_file": "/tmp/zdt-down"},
		"provider aws":  {"reserve": true, "provider": "aws", "target_group_names": []string{"web"}, "region": "eu-central-1"},
	} {
		res := runFake(t, true, extra, p)
		if msg, _ := res["msg"].(string); res["failed"] != true || !strings.HasPrefix(msg, "reserve is only for provider hetzner with method: health and no health_file") {
			t.Errorf("%s: %v", name, res["msg"])
		}
	}
	dir := t.TempDir()
	res := runFakeIn(t, dir, true, with(reserveArgs, "target", "1", "_ansible_check_mode", true), p)
	if res["failed"] != false || res["changed"] != false ||
		!strings.HasPrefix(res["msg"].(string), "check mode: would reserve server 1 in load balancer web-lb (2 of its 2 other targets healthy) for 300s, changing nothing on the load balancer; min_healthy 2 allows it") {
		t.Fatalf("check mode: %v", res)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("check mode wrote %v", m)
	}
	// min_healthy 0 keeps nothing, so nothing is reserved.
	res = runFakeIn(t, dir, true, with(reserveArgs, "target", "1", "min_healthy", 0), p)
	if r, _ := res["reserved"].(map[string]any); res["failed"] != false || fmt.Sprint(r["pools"]) != "[]" {
		t.Fatalf("min_healthy 0: %v", res)
	}
}
