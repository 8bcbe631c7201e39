package lb_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/wait"
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
		`{"provider": "aws", "target_group_names": ["web-tg"], "target": "i-0000000000000003", "region": "eu-central-1", "target_port": 8082, "timeout": 1}`,
		`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-1", "api_token": "@HZ_TOKEN@", "timeout": 1, "restore": [{"pool_id": "1", "target": "101", "use_private_ip": true, "port": null}]}`,
		`{"provider": "aws", "target_group_names": ["web-tg"], "target": "i-0000000000000001", "region": "eu-central-1", "restore": [{"pool_id": "@TG_ARN@", "target": "i-0000000000000001", "port": 8081.5, "availability_zone": 3}, "x"]}`,
		`{"provider": "hetzner", "load_balancer": "web-lb", "target": "app-2", "api_token": "@HZ_TOKEN@", "restore": "[{\"pool_id\": \"9\"}]", "_ansible_check_mode": true}`))
}
