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
	"os"
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

// The parameter fuzzers run lb_drain's and lb_register's real spec and
// runner, with the real providers, against an in-process lbsim on
// loopback. Seeds name the credentials by placeholder, which each run
// replaces with secrets made up at start, so that the fuzzer can move a
// secret anywhere in the arguments and the check can still tell whether
// the output gives it away.
const (
	phToken   = "@HZ_TOKEN@"   // the lbsim Hetzner token (also HCLOUD_TOKEN)
	phSecret  = "@AWS_SECRET@" // the lbsim AWS secret key (also AWS_SECRET_ACCESS_KEY)
	phSession = "@AWS_SESSION@"
	phKeyID   = "@AWS_KEY_ID@"
	phTG      = "@TG_ARN@"
)

const fuzzKeyID = "AKIAZDTFUZZ000000001"

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
		tgARN:   "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web-tg/0123456789abcdef",
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
			LoadBalancers: []sim.LoadBalancer{{ID: 1, Name: "web-lb",
				Network:  &sim.PrivateNet{ID: 1, IP: "10.0.0.2"},
				Services: []sim.Service{{Protocol: "http", DestinationPort: 8081, HealthCheck: hc}},
				Targets: []sim.Target{
					{Type: "server", Server: &sim.TargetServer{ID: 101}},
					{Type: "server", Server: &sim.TargetServer{ID: 102}},
					{Type: "label_selector", LabelSelector: &sim.TargetLabelSelector{Selector: "role=extra"}},
				}}},
		},
		AWS: sim.AWS{
			Region: "eu-central-1", AccessKeyID: fuzzKeyID, SecretAccessKey: w.secret,
			TargetGroups: []sim.TargetGroup{{ARN: w.tgARN, Name: "web-tg", Port: 8081, DeregistrationDelay: &zero,
				HealthCheck: sim.AWSHealthCheck{Path: "/healthz", Interval: sim.Duration(time.Hour), Timeout: sim.Duration(time.Second)},
				Targets:     []sim.AWSTarget{{ID: "i-0000000000000001"}, {ID: "i-0000000000000002"}}}},
			Listeners: []sim.Listener{{TargetGroup: "web-tg"}},
		},
	}
	for i, h := range hosts {
		labels := map[string]string{}
		if i == 2 {
			labels["role"] = "extra"
		}
		cfg.Hetzner.Servers = append(cfg.Hetzner.Servers, sim.Server{ID: int64(101 + i), Name: fmt.Sprintf("app-%d", i+1), Address: h, Labels: labels, PrivateIP: fmt.Sprintf("10.0.0.%d", 11+i)})
		cfg.AWS.Instances = append(cfg.AWS.Instances, sim.Instance{ID: fmt.Sprintf("i-000000000000000%d", i+1), Address: h})
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

func fuzzParams(f *testing.F, name string, own map[string]ansible.Option, drain bool, seeds []string) {
	spec := lb.NewSpec(name, own)
	w := startFuzzWorld(f, spec)
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = w.sandbox([]byte(w.replacer.Replace(string(data))))
		r := lb.NewRunner(w.opener(), lb.WithWaitOptions(virtualClock(), wait.WithoutJitter()))
		run := r.Register
		if drain {
			run = r.Drain
		}
		var buf bytes.Buffer
		code := ansible.RunArgs(context.Background(), spec, data, &buf, run)
		checkResult(t, buf.String(), code)
		if os.Getenv("ZDT_FUZZ_SHOW") != "" { // see what the seeds reach: go test -run FuzzDrainParams -v
			t.Logf("%s\n=> %s", data, buf.String())
		}
		w.checkNoSecret(t, data, buf.String())
	})
}

// Seeds shared by both modules: success paths of each provider, each way
// of giving credentials, wrong credentials, type errors on the secret
// options, dependencies and choices, check mode.
var paramSeeds = []string{
	`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-1", "api_token": "@HZ_TOKEN@"}`,
	`{"provider": "hetzner", "load_balancer": "1", "target": "102", "timeout": 1, "_ansible_check_mode": true, "_ansible_diff": true}`,
	`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-3", "method": "health", "health_file": "/tmp/x", "api_token": "@HZ_TOKEN@"}`,
	`{"provider": "hetzner", "load_balancer": "web-lb", "target": "127.0.0.14", "target_type": "ip", "api_token": "@HZ_TOKEN@", "timeout": 1}`,
	`{"provider": "hetzner", "load_balancer": "web-lb", "target": "auto", "api_token": "@HZ_TOKEN@", "use_private_ip": true}`,
	`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-1", "api_token": "wrong-@HZ_TOKEN@-wrong"}`,
	`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-1", "api_token": {"token": "@HZ_TOKEN@"}}`,
	`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-1", "api_token": ["@HZ_TOKEN@", 1]}`,
	`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-1", "api_tokn": "@HZ_TOKEN@", "api_token": "@HZ_TOKEN@"}`,
	`{"provider": "hetzner", "load_balancer": "nope", "target": "app-9", "api_token": "@HZ_TOKEN@", "timeout": 0, "min_healthy": -1, "target_port": 70000}`,
	`{"provider": "hetzner", "target": "app-1", "endpoint": "http://203.0.113.1/v1", "metadata_url": "http://169.254.169.254", "validate_certs": "no"}`,
	`{"ANSIBLE_MODULE_ARGS": {"provider": "hetzner", "load_balancer": "web-lb", "target": "app-2", "api_token": "@HZ_TOKEN@", "_ansible_no_log": false}}`,
	`{"provider": "aws", "target_group_arns": ["@TG_ARN@"], "target": "i-0000000000000001", "region": "eu-central-1", "access_key": "@AWS_KEY_ID@", "secret_key": "@AWS_SECRET@"}`,
	`{"provider": "aws", "target_group_names": "web-tg", "target": "i-0000000000000002", "region": "eu-central-1", "aws_access_key_id": "@AWS_KEY_ID@", "aws_secret_access_key": "@AWS_SECRET@", "aws_session_token": "@AWS_SESSION@", "timeout": 1}`,
	`{"provider": "aws", "target_group_names": ["web-tg"], "target": "i-0000000000000003", "region": "eu-central-1", "_ansible_check_mode": true}`,
	`{"provider": "aws", "target_group_names": ["web-tg"], "target": "i-0000000000000001", "region": "eu-central-1", "access_key": "@AWS_KEY_ID@", "secret_key": "bad@AWS_SECRET@"}`,
	`{"provider": "aws", "target_group_names": ["web-tg"], "target": "i-0000000000000001", "region": "us-east-1", "secret_key": {"k": "@AWS_SECRET@"}, "session_token": ["@AWS_SESSION@"]}`,
	`{"provider": "aws", "target_group_names": ["web-tg"], "target_group_arns": ["@TG_ARN@"], "target": "auto", "profile": "nope", "access_key": "@AWS_KEY_ID@"}`,
	`{"provider": "aws", "target_group_names": ["nope"], "target": "10.1.2.3", "target_port": 8081, "region": "eu-central-1", "secret_kee": "@AWS_SECRET@", "secret_key": "@AWS_SECRET@", "access_key": "@AWS_KEY_ID@"}`,
	`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-2", "api_token": "@HZ_TOKEN@", "interval": 0.05, "timeout": 1}`,
	`{"provider": "aws", "target_group_names": ["web-tg"], "target": "i-0000000000000002", "region": "eu-central-1", "interval": "NaN"}`,
	`{"provider": "aws", "target_group_names": ["web-tg"], "target": "i-0000000000000003", "region": "eu-central-1", "interval": -1e300, "timeout": 1}`,
	`{"provider": "hetzner", "load_balancer": ["web-lb", "nope"], "target": "app-1", "api_token": "@HZ_TOKEN@", "timeout": 1}`,
	`{"provider": "hetzner", "load_balancer": "web-lb,,web-lb", "target": "app-1", "api_token": "@HZ_TOKEN@"}`,
	`{"provider": "hetzner", "load_balancer": [], "target": "app-1", "api_token": "@HZ_TOKEN@"}`,
	`{"provider": "hetzner", "load_balancer": [1, {"x": "@HZ_TOKEN@"}], "target": "app-1", "api_token": "@HZ_TOKEN@"}`,
	`{"provider": "gcp", "target": 5}`,
	`{}`,
	`[]`,
	`null`,
	`{"provider": "hetzner"} {}`,
}

// FuzzDrainParams fuzzes lb_drain's arguments: no panic, one JSON object,
// a msg with every failure, and no secret in the output.
func FuzzDrainParams(f *testing.F) {
	fuzzParams(f, "lb_drain", lb.DrainOptions, true, append(paramSeeds,
		`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-2", "api_token": "@HZ_TOKEN@", "min_healthy": 5}`,
		`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-1", "min_healthy": 0, "timeout": 2}`,
		`{"provider": "aws", "target_group_names": ["web-tg"], "target": "i-0000000000000002", "region": "eu-central-1", "min_healthy": "0"}`))
}

// FuzzRegisterParams is FuzzDrainParams for lb_register.
func FuzzRegisterParams(f *testing.F) {
	fuzzParams(f, "lb_register", lb.RegisterOptions, false, append(paramSeeds,
		`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-3", "api_token": "@HZ_TOKEN@", "use_private_ip": "yes", "timeout": "1"}`,
		`{"provider": "aws", "target_group_names": ["web-tg"], "target": "i-0000000000000003", "region": "eu-central-1", "target_port": 8082, "timeout": 1}`))
}
