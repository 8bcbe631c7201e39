package lbtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/hetzner"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

// What follows runs the modules against a Server on a FakeClock, for the
// tests of the providers and of lb.

// FakeClock makes waits instant: sleeping advances time.
type FakeClock struct {
	mu    sync.Mutex
	T     time.Time
	Slept []time.Duration
}

func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.T
}

func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.T = c.T.Add(d)
	c.Slept = append(c.Slept, d)
	return ctx.Err()
}

// Result is the output of a module run.
type Result struct {
	Out   map[string]any
	Raw   string
	Clock *FakeClock
}

// RunModule runs lb_drain or lb_register through the Ansible protocol.
func RunModule(t *testing.T, module string, args map[string]any) Result {
	t.Helper()
	clk := &FakeClock{T: time.Now()}
	open := providers.New(providers.Options{
		Hetzner: []hetzner.Option{
			hetzner.WithPollBackoff(hcloud.ConstantBackoff(time.Millisecond)),
			hetzner.WithRetryBackoff(hcloud.ConstantBackoff(time.Millisecond)),
			hetzner.WithSleep(clk.Sleep),
		},
		AWSBackoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil }),
	})
	r := lb.NewRunner(open, lb.WithClock(clk.Now), lb.WithWaitOptions(wait.WithClock(clk.Sleep, clk.Now), wait.WithoutJitter()))
	spec := lb.NewSpec(module, lb.DrainOptions)
	fn := r.Drain
	if module == "lb_register" {
		spec = lb.NewSpec(module, lb.RegisterOptions)
		fn = r.Register
	}
	b, _ := json.Marshal(args)
	var buf bytes.Buffer
	ansible.RunArgs(context.Background(), spec, b, &buf, fn)
	var out map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("module output is not JSON: %v\n%s", err, buf.String())
	}
	return Result{Out: out, Raw: buf.String(), Clock: clk}
}

// Pool is the i-th entry of the result's pools.
func (r Result) Pool(t *testing.T, i int) map[string]any {
	t.Helper()
	pools, _ := r.Out["pools"].([]any)
	if len(pools) <= i {
		t.Fatalf("no pool %d in %s", i, r.Raw)
	}
	return pools[i].(map[string]any)
}

// Get follows path through nested maps.
func Get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

// CheckRun checks failed, changed, the msg's parts and failure.code, and
// that no secret of the fixtures is in the output.
func CheckRun(t *testing.T, r Result, failed, changed bool, msg []string, code string) {
	t.Helper()
	if r.Out["failed"] != failed {
		t.Fatalf("failed = %v, want %v: %s", r.Out["failed"], failed, r.Out["msg"])
	}
	if !failed && r.Out["changed"] != changed {
		t.Errorf("changed = %v, want %v", r.Out["changed"], changed)
	}
	m, _ := r.Out["msg"].(string)
	for _, w := range msg {
		if !strings.Contains(m, w) {
			t.Errorf("msg %q lacks %q", m, w)
		}
	}
	if code != "" && Get(r.Out, "failure", "code") != code {
		t.Errorf("failure = %v, want code %s", r.Out["failure"], code)
	}
	for _, s := range []string{HetznerToken, AWSSecret, AWSSession} {
		if strings.Contains(r.Raw, s) {
			t.Errorf("secret %q in output: %s", s, r.Raw)
		}
	}
}

// Secrets of the fixtures, which no output may show.
const (
	HetznerToken = "s3cr3t-hcloud-token"
	AWSSecret    = "AWSs3cr3tKEYvalue"
	AWSSession   = "AWSsessionTOKENvalue"
)

// Repeat is n copies of e.
func Repeat(e Exchange, n int) []Exchange {
	out := make([]Exchange, n)
	for i := range out {
		out[i] = e
	}
	return out
}

// WantSleeps checks that the wait slept exactly these delays.
func WantSleeps(want ...time.Duration) func(t *testing.T, r Result) {
	return func(t *testing.T, r Result) {
		t.Helper()
		if !slices.Equal(r.Clock.Slept, want) {
			t.Errorf("wait sleeps %v, want %v", r.Clock.Slept, want)
		}
	}
}

// WantLongestSleep checks that the wait's delays grew to longest and no
// further.
func WantLongestSleep(longest time.Duration) func(t *testing.T, r Result) {
	return func(t *testing.T, r Result) {
		t.Helper()
		if len(r.Clock.Slept) == 0 || slices.Max(r.Clock.Slept) != longest {
			t.Errorf("wait sleeps %v, want them to grow to %s and no further", r.Clock.Slept, longest)
		}
	}
}

// BodyHas checks that a request body holds each of want.
func BodyHas(want ...string) func(testing.TB, *http.Request, string) {
	return func(t testing.TB, r *http.Request, body string) {
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s %s: body %s lacks %s", r.Method, r.URL.Path, body, w)
			}
		}
	}
}

// Concat joins lists of exchanges.
func Concat(parts ...[]Exchange) []Exchange {
	var out []Exchange
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Together makes the exchanges answer only once all of them have arrived,
// as requests sent at once do; one left waiting alone for a second fails
// the test (the client sent them one after the other) and is answered.
func Together(n int, exchanges ...Exchange) []Exchange {
	arrived := make(chan struct{}, n)
	all := make(chan struct{})
	var once sync.Once
	for i := range exchanges {
		exchanges[i].Check = func(t testing.TB, r *http.Request, body string) {
			arrived <- struct{}{}
			if len(arrived) == n {
				once.Do(func() { close(all) })
			}
			select {
			case <-all:
			case <-time.After(time.Second):
				what := r.Method + " " + r.URL.RequestURI()
				if form, _ := url.ParseQuery(body); form.Get("Action") != "" {
					what = form.Get("Action") + " for " + form.Get("TargetGroupArn")
				}
				t.Errorf("%s waited alone for a second: the %d requests were not sent at once", what, n)
			}
		}
	}
	return exchanges
}

// AWSEnv keeps the SDK away from the host's AWS configuration.
func AWSEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, k := range []string{"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
	}
}
