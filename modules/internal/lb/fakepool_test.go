package lb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// fakePool is an lb.Pool without HTTP: Members answers from states, one a
// call, the last one again; Register and Deregister are recorded.
type fakePool struct {
	name   string
	mu     sync.Mutex
	states [][]lb.Member
	reads  int
	calls  []string

	registered []registration
}

func (p *fakePool) Name() string { return p.name }

func (p *fakePool) Members(context.Context) ([]lb.Member, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ms := p.states[min(p.reads, len(p.states)-1)]
	p.reads++
	return ms, nil
}

func (p *fakePool) Register(_ context.Context, t lb.Target, o lb.RegisterOpts) error {
	p.record("register " + t.ID)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.registered = append(p.registered, registration{t, o})
	return nil
}

// registration is one Register call.
type registration struct {
	t lb.Target
	o lb.RegisterOpts
}

func (p *fakePool) Deregister(_ context.Context, t lb.Target) error {
	p.record("deregister " + t.ID)
	return nil
}

func (p *fakePool) record(call string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, call)
}

// judgedPool adds the provider rules a test gives.
type judgedPool struct {
	*fakePool
	drained func(lb.State) bool
	judge   func(t lb.Target, prev, st lb.State) lb.Verdict
}

func (p *judgedPool) Drained(st lb.State) bool { return p.drained(st) }

func (p *judgedPool) Judge(t lb.Target, prev, st lb.State) lb.Verdict { return p.judge(t, prev, st) }

// fakeProvider opens the pools as they are.
type fakeProvider struct{ pools []lb.Pool }

func (p fakeProvider) Name() string                             { return lb.Hetzner }
func (p fakeProvider) API() string                              { return "fake API" }
func (p fakeProvider) Interval() time.Duration                  { return time.Second }
func (p fakeProvider) Pools(context.Context) ([]lb.Pool, error) { return p.pools, nil }
func (p fakeProvider) Resolve(_ context.Context, t lb.Target) (lb.Target, error) {
	return t, nil
}

// member is target id in state on port 80.
func member(id string, state lb.Health) lb.Member {
	return lb.Member{Target: lb.Target{Type: lb.TypeServer, ID: id}, Health: []lb.PortHealth{{Port: 80, State: state}}}
}

// runFake runs lb_drain (drain) or lb_register on pools with the given
// options beside the required ones, on a virtual clock, and returns the
// result.
func runFake(t *testing.T, drain bool, extra map[string]any, pools ...lb.Pool) map[string]any {
	t.Helper()
	return runFakeIn(t, t.TempDir(), drain, extra, pools...)
}

// runFakeIn is runFake with the pools' locks in dir.
func runFakeIn(t *testing.T, lockDir string, drain bool, extra map[string]any, pools ...lb.Pool) map[string]any {
	t.Helper()
	out, code := runFakeOut(lockDir, drain, extra, pools...)
	return checkResult(t, out, code)
}

// runFakeOut runs the module as runFakeIn does and returns its output and
// exit code; it may run in any goroutine.
func runFakeOut(lockDir string, drain bool, extra map[string]any, pools ...lb.Pool) (string, int) {
	open := func(context.Context, *ansible.Module, lb.Args, lb.Env) (lb.Provider, error) {
		return fakeProvider{pools: pools}, nil
	}
	return runOut(lockDir, open, drain, extra)
}

// runOpener runs lb_drain with the provider open gives.
func runOpener(t *testing.T, lockDir string, open lb.Opener, extra map[string]any) map[string]any {
	t.Helper()
	out, code := runOut(lockDir, open, true, extra)
	return checkResult(t, out, code)
}

func runOut(lockDir string, open lb.Opener, drain bool, extra map[string]any) (string, int) {
	args := map[string]any{"provider": "hetzner", "load_balancer": "web-lb", "api_token": "fake-token-3f9a1c", "target": "1"}
	maps.Copy(args, extra)
	data, _ := json.Marshal(args) // plain values only
	r := lb.NewRunner(open, lb.WithWaitOptions(virtualClock(), wait.WithoutJitter()), lb.WithLockDir(lockDir))
	name, own, run := "lb_register", lb.RegisterOptions, r.Register
	if drain {
		name, own, run = "lb_drain", lb.DrainOptions, r.Drain
	}
	var buf bytes.Buffer
	code := ansible.RunArgs(context.Background(), lb.NewSpec(name, own), data, &buf, run)
	return buf.String(), code
}

// failureCode is the result's failure.code, or "" when it has none.
func failureCode(res map[string]any) string {
	f, _ := res["failure"].(map[string]any)
	code, _ := f["code"].(string)
	return code
}

// afterState is pool i's after-state in res.
func afterState(t *testing.T, res map[string]any, i int) map[string]any {
	t.Helper()
	pools, _ := res["pools"].([]any)
	if len(pools) <= i {
		t.Fatalf("result has %d pools, want pool %d: %v", len(pools), i, res)
	}
	after, _ := pools[i].(map[string]any)["after"].(map[string]any)
	return after
}

func wantCalls(t *testing.T, p *fakePool, want ...string) {
	t.Helper()
	if fmt.Sprint(p.calls) != fmt.Sprint(want) {
		t.Errorf("calls = %q, want %q", p.calls, want)
	}
}
