package lb_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/hetzner"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
	"github.com/zerodowntime/rolling/modules/internal/wait"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// fuzzWorld is one lbsim and the secrets it accepts.
type fuzzWorld struct {
	sim      *sim.Sim
	ep       sim.Endpoints
	token    string
	secret   string
	session  string
	tgARN    string
	tmp      string
	noLog    map[string]bool // no_log options and their aliases
	replacer *strings.Replacer
}

// randomSecret is alphanumeric, so every encoding of a string that holds
// it (JSON, URL, quoted) holds it verbatim.
func randomSecret(prefix string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}

func startFuzzWorld(f *testing.F, spec ansible.Spec) *fuzzWorld {
	f.Helper()
	w := &fuzzWorld{
		token:   randomSecret("zdtfuzzhztoken"),
		secret:  randomSecret("zdtfuzzawssecret"),
		session: randomSecret("zdtfuzzawssession"),
		tgARN:   simtest.TGARN,
		tmp:     f.TempDir(),
		noLog:   map[string]bool{},
	}
	for name, o := range spec.Options {
		if o.NoLog {
			w.noLog[name] = true
			for _, a := range o.Aliases {
				w.noLog[a] = true
			}
		}
	}
	hosts := simtest.Hosts(3)
	// No backends and hour-long health checks: targets keep the state the
	// API calls give them, and nothing runs between iterations.
	hc := sim.HealthCheck{Protocol: "http", Interval: sim.Duration(time.Hour), Timeout: sim.Duration(time.Second), Retries: 1}
	zero := sim.Duration(0)
	cfg := &sim.Config{
		Hetzner: sim.Hetzner{
			Token:             w.token,
			ActionDelay:       sim.Duration(time.Millisecond),
			LockDuringActions: new(bool),
			RateLimit:         sim.RateLimit{Limit: 1 << 30, Window: sim.Duration(time.Hour)},
			LoadBalancers: []sim.LoadBalancer{{ID: 1, Name: simtest.LBName,
				Network:  &sim.PrivateNet{ID: 1, IP: "10.0.0.2"},
				Services: []sim.Service{{Protocol: "http", DestinationPort: 8081, HealthCheck: hc}},
				Targets: []sim.Target{
					{Type: "server", Server: &sim.TargetServer{ID: 101}},
					{Type: "server", Server: &sim.TargetServer{ID: 102}},
					{Type: "label_selector", LabelSelector: &sim.TargetLabelSelector{Selector: "role=extra"}},
				}}},
		},
		AWS: sim.AWS{
			Region: simtest.Region, AccessKeyID: fuzzKeyID, SecretAccessKey: w.secret,
			TargetGroups: []sim.TargetGroup{{ARN: w.tgARN, Name: simtest.TGName, Port: 8081, DeregistrationDelay: &zero,
				HealthCheck: sim.AWSHealthCheck{Path: "/healthz", Interval: sim.Duration(time.Hour), Timeout: sim.Duration(time.Second)},
				Targets:     []sim.AWSTarget{{ID: simtest.InstanceID(0)}, {ID: simtest.InstanceID(1)}}}},
			Listeners: []sim.Listener{{TargetGroup: simtest.TGName}},
		},
	}
	for i, h := range hosts {
		labels := map[string]string{}
		if i == 2 {
			labels["role"] = "extra"
		}
		cfg.Hetzner.Servers = append(cfg.Hetzner.Servers, sim.Server{ID: simtest.ServerID(i), Name: simtest.ServerName(i), Address: h, Labels: labels, PrivateIP: fmt.Sprintf("10.0.0.%d", 11+i)})
		cfg.AWS.Instances = append(cfg.AWS.Instances, sim.Instance{ID: simtest.InstanceID(i), Address: h})
	}
	s, err := sim.Start(context.Background(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	w.sim, w.ep = s, s.Endpoints()
	w.replacer = strings.NewReplacer(phToken, w.token, phSecret, w.secret, phSession, w.session, phKeyID, fuzzKeyID, phTG, w.tgARN)

	// The environment fallbacks hold the same secrets; the AWS SDK finds
	// no files and no instance role; any non-loopback HTTP goes to a dead
	// proxy. Fuzz targets run after the package's tests, one at a time.
	dead := deadAddr(f)
	for k, v := range map[string]string{
		"HCLOUD_TOKEN": w.token, "HCLOUD_ENDPOINT": w.ep.HetznerAPI,
		"AWS_ACCESS_KEY_ID": fuzzKeyID, "AWS_SECRET_ACCESS_KEY": w.secret, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_ENDPOINT_URL": "",
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE":           filepath.Join(w.tmp, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(w.tmp, "aws-credentials"),
		"HTTP_PROXY": "http://" + dead, "HTTPS_PROXY": "http://" + dead, "NO_PROXY": "127.0.0.0/8,localhost",
		lb.MetadataEnv: w.ep.Hosts[0].MetadataURL,
	} {
		f.Setenv(k, v)
	}
	return w
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(f *testing.F) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// opener is the real providers.Open, with the API and metadata addresses
// pinned to lbsim and every backoff and sleep at zero.
func (w *fuzzWorld) opener() lb.Opener {
	zero := func(int) time.Duration { return 0 }
	open := providers.New(providers.Options{
		Hetzner: []hetzner.Option{
			hetzner.WithPollBackoff(func(int) time.Duration { return time.Millisecond }),
			hetzner.WithRetryBackoff(zero),
			hetzner.WithSleep(func(context.Context, time.Duration) error { return nil }),
		},
		AWSBackoff: zeroBackoff{},
	})
	return func(ctx context.Context, m *ansible.Module, a lb.Args, env lb.Env) (lb.Provider, error) {
		a.Endpoint, a.EndpointURL, a.MetadataURL = w.ep.HetznerAPI, w.ep.AWSAPI, w.ep.Hosts[0].MetadataURL
		return open(ctx, m, a, env)
	}
}

type zeroBackoff struct{}

func (zeroBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// virtualClock makes the runner's waits instant: sleeping only moves the
// clock, so a wait ends at its timeout without taking it.
func virtualClock() wait.Option {
	var mu sync.Mutex
	now := time.Now()
	return wait.WithClock(func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
		return nil
	}, func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	})
}

// sandbox rewrites what would reach outside the test: health_file goes to
// a temporary directory, and URLs to hosts other than loopback go to lbsim.
func (w *fuzzWorld) sandbox(data []byte) []byte {
	raw, ok := decodeObject(data)
	if !ok {
		return data
	}
	opts := raw
	if inner, ok := raw["ANSIBLE_MODULE_ARGS"].(map[string]any); ok && len(raw) == 1 {
		opts = inner
	}
	changed := false
	if v, ok := opts["health_file"]; ok && v != nil {
		b, _ := json.Marshal(v)
		sum := sha256.Sum256(b)
		opts["health_file"] = filepath.Join(w.tmp, "health-"+hex.EncodeToString(sum[:4]))
		changed = true
	}
	for _, k := range []string{"metadata_url", "endpoint", "endpoint_url", "aws_endpoint_url"} {
		if s, ok := opts[k].(string); ok && !loopbackURL(s) {
			opts[k] = w.ep.Hosts[0].MetadataURL
			changed = true
		}
	}
	if !changed {
		return data
	}
	out, err := json.Marshal(raw)
	if err != nil {
		panic(err)
	}
	return out
}

func loopbackURL(s string) bool {
	if !strings.Contains(s, "://") {
		return true // no scheme: the clients refuse it without a request
	}
	u, err := url.Parse(s)
	if err != nil {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

func decodeObject(data []byte) (map[string]any, bool) {
	var raw map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil || raw == nil {
		return nil, false
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return raw, true
}

// checkResult asserts the module protocol: exactly one JSON object, failed
// as a bool, a msg when it failed, an exit code that agrees.
func checkResult(t *testing.T, out string, code int) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(out))
	var res map[string]any
	if err := d.Decode(&res); err != nil || res == nil {
		t.Fatalf("output is not one JSON object (%v): %q", err, out)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("output has more than one JSON value: %q", out)
	}
	failed, ok := res["failed"].(bool)
	if !ok {
		t.Fatalf("result has no boolean failed: %s", out)
	}
	if msg, _ := res["msg"].(string); failed && strings.TrimSpace(msg) == "" {
		t.Fatalf("failed without a msg: %s", out)
	}
	if (code != 0) != failed {
		t.Fatalf("exit code %d but failed=%v: %s", code, failed, out)
	}
	return res
}

// secretsGiven splits the string leaves of the options: those of no_log
// options, and everything else (keys included), which the user shows.
func (w *fuzzWorld) secretsGiven(data []byte) (secret, public []string, parsed bool) {
	raw, ok := decodeObject(data)
	if !ok {
		return nil, nil, false
	}
	if inner, ok := raw["ANSIBLE_MODULE_ARGS"].(map[string]any); ok && len(raw) == 1 {
		raw = inner
	}
	for k, v := range raw {
		public = append(public, k)
		if w.noLog[k] {
			secret = leaves(v, secret, false)
		} else {
			public = leaves(v, public, true)
		}
	}
	return secret, public, true
}

func leaves(v any, out []string, keys bool) []string {
	switch x := v.(type) {
	case string:
		return append(out, x)
	case json.Number:
		return append(out, x.String())
	case []any:
		for _, e := range x {
			out = leaves(e, out, keys)
		}
	case map[string]any:
		for k, e := range x {
			if keys {
				out = append(out, k)
			}
			out = leaves(e, out, keys)
		}
	}
	return out
}

// checkNoSecret fails if out shows one of the world's secrets, or a no_log
// value holding one, in any common encoding, unless the user put that
// secret into an option that is not no_log.
func (w *fuzzWorld) checkNoSecret(t *testing.T, data []byte, out string) {
	t.Helper()
	secretLeaves, public, parsed := w.secretsGiven(data)
	for _, s := range []string{w.token, w.secret, w.session} {
		shown := false
		for _, p := range public {
			shown = shown || strings.Contains(p, s)
		}
		if !parsed && bytes.Contains(data, []byte(s)) {
			// Not an object: only the JSON error can speak, and it quotes no value.
			shown = false
		}
		if shown {
			continue
		}
		forms := []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte("Bearer " + s))}
		for _, l := range secretLeaves {
			if strings.Contains(l, s) {
				forms = append(forms, l, base64.StdEncoding.EncodeToString([]byte(l)))
			}
		}
		for _, form := range forms {
			if strings.Contains(out, form) || strings.Contains(out, url.QueryEscape(form)) {
				t.Fatalf("output shows the secret %q (as %q):\n%s\ninput: %s", s, form, out, data)
			}
			if j, _ := json.Marshal(form); strings.Contains(out, strings.Trim(string(j), `"`)) {
				t.Fatalf("output shows the secret %q (JSON-escaped):\n%s\ninput: %s", s, out, data)
			}
		}
	}
}
