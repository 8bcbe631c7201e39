package sim_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// The CLIs are called by absolute path: on some machines a different aws
// (a pyenv v1 shim) comes first on PATH.
const (
	awsCLI    = "/usr/bin/aws"
	hcloudCLI = "/usr/bin/hcloud"
)

// needCLI fails (skips under -short) when a CLI binary is missing.
func needCLI(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if testing.Short() {
			t.Skipf("%s not installed (-short)", path)
		}
		t.Fatalf("%s not found: install the Debian package %s (apt-get install -y %s); lbsim's fidelity tests run the real CLI", path, pkg, pkg)
	}
}

// runCLI runs a CLI with exactly env (plus PATH) and returns stdout,
// stderr and the exit code.
func runCLI(t *testing.T, env []string, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LANG=C.UTF-8"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	return out.String(), errb.String(), code
}

func TestAWSCLI(t *testing.T) {
	needCLI(t, awsCLI, "awscli")
	t.Parallel()
	w := newWorld(t, 2, nil)
	w.waitHealthy(t)
	env := []string{
		"AWS_ACCESS_KEY_ID=" + w.ep.AWSAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + w.ep.AWSSecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		"AWS_CONFIG_FILE=" + filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(t.TempDir(), "none"),
	}
	aws := func(args ...string) (map[string]any, string, int) {
		t.Helper()
		args = append([]string{"elbv2", "--endpoint-url", w.ep.AWSAPI, "--region", w.ep.AWSRegion, "--output", "json"}, args...)
		out, stderr, code := runCLI(t, env, awsCLI, args...)
		var v map[string]any
		if code == 0 && strings.TrimSpace(out) != "" {
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("aws %v: output is not JSON: %v\n%s", args, err, out)
			}
		}
		return v, stderr, code
	}
	health := func(v map[string]any) map[string]string {
		got := map[string]string{}
		for _, d := range v["TargetHealthDescriptions"].([]any) {
			d := d.(map[string]any)
			th := d["TargetHealth"].(map[string]any)
			got[d["Target"].(map[string]any)["Id"].(string)] = th["State"].(string) + " " + str(th["Reason"])
		}
		return got
	}

	v, stderr, code := aws("describe-target-groups", "--names", "web-tg")
	if code != 0 {
		t.Fatalf("describe-target-groups: %d %s", code, stderr)
	}
	tg := v["TargetGroups"].([]any)[0].(map[string]any)
	if tg["TargetGroupArn"] != testTGARN || tg["Port"] != float64(w.port) || tg["HealthCheckPath"] != "/healthz" {
		t.Errorf("target group = %v", tg)
	}
	v, _, _ = aws("describe-target-health", "--target-group-arn", testTGARN)
	if got := health(v); got[instanceID(0)] != "healthy " || got[instanceID(1)] != "healthy " {
		t.Errorf("describe-target-health = %v", got)
	}
	if _, stderr, code = aws("deregister-targets", "--target-group-arn", testTGARN, "--targets", "Id="+instanceID(1)); code != 0 {
		t.Fatalf("deregister-targets: %d %s", code, stderr)
	}
	v, _, _ = aws("describe-target-health", "--target-group-arn", testTGARN, "--targets", "Id="+instanceID(1))
	if got := health(v)[instanceID(1)]; got != "unused Target.NotRegistered" {
		t.Errorf("after deregister-targets: %q, want unused Target.NotRegistered", got)
	}
	if _, stderr, code = aws("register-targets", "--target-group-arn", testTGARN, "--targets", "Id="+instanceID(1)); code != 0 {
		t.Fatalf("register-targets: %d %s", code, stderr)
	}
	simtest.Eventually(t, 5*time.Second, "registered again and healthy", func() bool {
		return w.sim.State().AWSTarget("web-tg", instanceID(1)).State == "healthy"
	})
	v, _, _ = aws("describe-target-health", "--target-group-arn", testTGARN, "--targets", "Id="+instanceID(1))
	if got := health(v)[instanceID(1)]; got != "healthy " {
		t.Errorf("after register-targets: %q, want healthy", got)
	}
	_, stderr, code = aws("describe-target-health", "--target-group-arn", testTGARN, "--targets", "Id=i-0badbadbadbadbad0")
	if code == 0 || !strings.Contains(stderr, "InvalidTarget") {
		t.Errorf("unknown instance: %d %s", code, stderr)
	}
	env[1] = "AWS_SECRET_ACCESS_KEY=wrong"
	if _, stderr, code = aws("describe-target-groups"); code == 0 || !strings.Contains(stderr, "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: %d %s", code, stderr)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func TestHcloudCLI(t *testing.T) {
	needCLI(t, hcloudCLI, "hcloud-cli")
	t.Parallel()
	w := newWorld(t, 2, nil)
	w.waitHealthy(t)
	env := []string{"HCLOUD_ENDPOINT=" + w.ep.HetznerAPI, "HCLOUD_TOKEN=" + w.ep.HetznerToken, "HCLOUD_CONFIG=" + filepath.Join(t.TempDir(), "cli.toml")}
	hc := func(args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, env, hcloudCLI, append([]string{"--poll-interval", "100ms"}, args...)...)
	}
	type lbJSON struct {
		ID       int64 `json:"id"`
		Services []struct {
			ListenPort int `json:"listen_port"`
		} `json:"services"`
		Targets []struct {
			Type   string `json:"type"`
			Server *struct {
				ID int64 `json:"id"`
			} `json:"server"`
			LabelSelector *struct {
				Selector string `json:"selector"`
			} `json:"label_selector"`
			HealthStatus []struct {
				ListenPort int    `json:"listen_port"`
				Status     string `json:"status"`
			} `json:"health_status"`
			Targets []json.RawMessage `json:"targets"`
		} `json:"targets"`
	}
	describe := func() lbJSON {
		t.Helper()
		out, stderr, code := hc("load-balancer", "describe", "web-lb", "-o", "json")
		if code != 0 {
			t.Fatalf("describe: %d %s", code, stderr)
		}
		var lb lbJSON
		if err := json.Unmarshal([]byte(out), &lb); err != nil {
			t.Fatalf("describe -o json: %v\n%s", err, out)
		}
		return lb
	}
	lb := describe()
	if lb.ID != 1 || len(lb.Targets) != 2 || lb.Services[0].ListenPort != w.ep.Services[0].ListenPort {
		t.Fatalf("describe = %+v", lb)
	}
	for _, tg := range lb.Targets {
		if tg.HealthStatus[0].Status != "healthy" || tg.HealthStatus[0].ListenPort != w.ep.Services[0].ListenPort {
			t.Errorf("target %d health = %+v", tg.Server.ID, tg.HealthStatus)
		}
	}
	if out, _, code := hc("load-balancer", "describe", "web-lb"); code != 0 || !strings.Contains(out, "app-1") {
		t.Errorf("describe (text) should name the servers: %d\n%s", code, out)
	}

	steps := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"remove app-1", []string{"load-balancer", "remove-target", "web-lb", "--server", "app-1"}, 0, "Target removed"},
		{"remove app-1 again", []string{"load-balancer", "remove-target", "web-lb", "--server", "app-1"}, 1, "not_found"},
		{"add app-1", []string{"load-balancer", "add-target", "web-lb", "--server", "app-1"}, 0, "Target added"},
		{"add app-1 again", []string{"load-balancer", "add-target", "web-lb", "--server", "app-1"}, 1, "target_already_defined"},
		{"add label selector", []string{"load-balancer", "add-target", "web-lb", "--label-selector", "role=web"}, 0, "Target added"},
		{"add ip", []string{"load-balancer", "add-target", "web-lb", "--ip", w.hosts[1]}, 0, "Target added"},
	}
	for _, s := range steps {
		out, stderr, code := hc(s.args...)
		if code != s.wantCode || !strings.Contains(out+stderr, s.wantOut) {
			t.Errorf("%s: exit %d, output %q %q; want exit %d with %q", s.name, code, out, stderr, s.wantCode, s.wantOut)
		}
	}
	lb = describe()
	if len(lb.Targets) != 4 || lb.Targets[2].LabelSelector == nil || len(lb.Targets[2].Targets) != 2 || lb.Targets[3].Type != "ip" {
		t.Errorf("targets after the steps = %+v", lb.Targets)
	}

	env[1] = "HCLOUD_TOKEN=wrong"
	if _, stderr, code := hc("load-balancer", "describe", "web-lb"); code == 0 || !strings.Contains(stderr, "unauthorized") {
		t.Errorf("wrong token: %d %s", code, stderr)
	}
}
