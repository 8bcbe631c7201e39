package haproxymaint

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// Tests against a real HAProxy started by haproxytest.

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real HAProxy; not in -short mode")
	}
}

// runModule runs the module on params as Ansible would and returns the
// decoded result and when it ended.
func runModule(t *testing.T, params map[string]any) (map[string]any, time.Time) {
	t.Helper()
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ansible.RunArgs(context.Background(), spec, b, &out, run)
	end := time.Now()
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("module output is not JSON: %v\n%s", err, out.String())
	}
	return res, end
}

func mustSucceed(t *testing.T, res map[string]any) {
	t.Helper()
	if res["failed"] == true {
		t.Fatalf("module failed: %v\n%v", res["msg"], res)
	}
}

func backendRow(t *testing.T, res map[string]any, i int) map[string]any {
	t.Helper()
	bs, _ := res["backends"].([]any)
	if len(bs) <= i {
		t.Fatalf("want at least %d backends in the result, got %v", i+1, res["backends"])
	}
	return bs[i].(map[string]any)
}

// twoApps starts web1 and web2 behind backend www.
func twoApps(t *testing.T, params string, cfg haproxytest.Config) (*haproxytest.HAProxy, *haproxytest.App, *haproxytest.App) {
	t.Helper()
	skipShort(t)
	a1 := haproxytest.StartApp(t, "web1")
	a2 := haproxytest.StartApp(t, "web2")
	cfg.Backends = append([]haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
		{Name: "web1", Addr: a1.Addr, Params: params},
		{Name: "web2", Addr: a2.Addr, Params: params},
	}}}, cfg.Backends...)
	return haproxytest.Start(t, cfg), a1, a2
}

// load sends requests through addr until stop is closed and counts them by
// the server that answered; failures are counted under "error".
type load struct {
	mu     sync.Mutex
	counts map[string]int
	stop   chan struct{}
	done   sync.WaitGroup
	n      atomic.Int64
}

func startLoad(addr string) *load {
	l := &load{counts: map[string]int{}, stop: make(chan struct{})}
	for range 4 {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				srv, code, err := haproxytest.Get(ctx, addr, "/")
				cancel()
				key := srv
				if err != nil || code != 200 {
					key = "error"
				}
				l.mu.Lock()
				l.counts[key]++
				l.mu.Unlock()
				l.n.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) end() map[string]int {
	close(l.stop)
	l.done.Wait()
	return l.counts
}
