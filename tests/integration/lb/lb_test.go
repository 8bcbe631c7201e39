// Package lb runs zerodowntime.rolling.lb_drain and lb_register through real
// ansible-playbook against lbsim, with real traffic through its listeners to
// small Go backends on 127.0.0.11-13, and cross-checks with the AWS CLI.
package lb

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
	"github.com/zerodowntime/rolling/tests/slots"
)

const (
	hzToken  = "lbsim-integration-token-7f3a9c0e51d2"
	awsKeyID = "AKIALBSIMINTEG00001"
	awsKey   = "lbsimIntegrationSecretKey0000000001"
)

var hosts = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}

type world struct {
	sim      *sim.Sim
	ep       sim.Endpoints
	backends []*simtest.Backend
}

func startWorld(t *testing.T) *world {
	t.Helper()
	r := simtest.World{
		HetznerToken: hzToken, AWSKeyID: awsKeyID, AWSSecret: awsKey,
		CheckInterval: 200 * time.Millisecond, CheckTimeout: 200 * time.Millisecond, Retries: 2,
		ActionDelay: 100 * time.Millisecond, DeregistrationDelay: 5 * time.Second,
	}.Start(t, hosts)
	return &world{sim: r.Sim, ep: r.Endpoints, backends: r.Backends}
}

// results merges a task's per-host results over all serial batches.
func results(run *ansibletest.Run, name string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, batch := range run.Tasks(name) {
		for h, r := range batch {
			out[h] = r
		}
	}
	return out
}

const awsPlay = `
- hosts: apps
  gather_facts: false
  serial: 1
  vars:
    aws: &aws
      provider: aws
      region: eu-central-1
      endpoint_url: "{{ aws_api }}"
      access_key: "{{ aws_key_id }}"
      secret_key: "{{ aws_secret }}"
      target_group_names: [web-tg]
      target: auto
      metadata_url: "{{ metadata_url }}"
      timeout: 30
    cli_env: &cli_env
      AWS_ACCESS_KEY_ID: "{{ aws_key_id }}"
      AWS_SECRET_ACCESS_KEY: "{{ aws_secret }}"
      AWS_CONFIG_FILE: /dev/null
      AWS_SHARED_CREDENTIALS_FILE: /dev/null
      AWS_EC2_METADATA_DISABLED: "true"
      AWS_PAGER: ""
  tasks:
    - name: drain
      zerodowntime.rolling.lb_drain: *aws
    - name: counts at drain
      ansible.builtin.uri: {url: "{{ admin }}/counts", return_content: true}
    - name: let traffic flow
      ansible.builtin.command: sleep 0.7
      changed_when: false
    - name: counts later
      ansible.builtin.uri: {url: "{{ admin }}/counts", return_content: true}
    - name: cli after drain
      ansible.builtin.command: /usr/bin/aws elbv2 describe-target-health --target-group-arn {{ tg_arn }} --endpoint-url {{ aws_api }} --region eu-central-1 --output json
      environment: *cli_env
      changed_when: false
    - name: register
      zerodowntime.rolling.lb_register: *aws
    - name: cli after register
      ansible.builtin.command: /usr/bin/aws elbv2 describe-target-health --target-group-arn {{ tg_arn }} --endpoint-url {{ aws_api }} --region eu-central-1 --output json
      environment: *cli_env
      changed_when: false
`

func TestRollingAWSWithAutoTargets(t *testing.T) {
	t.Parallel()
	// A rollout under load: one of the machine's end-to-end slots.
	slots.Hold(t)
	if _, err := exec.LookPath("/usr/bin/aws"); err != nil {
		t.Skip("/usr/bin/aws (Debian awscli) is needed for the cross-check")
	}
	coll := ansibletest.Install(t)
	w := startWorld(t)
	var inv strings.Builder
	inv.WriteString("[apps]\n")
	for i, h := range hosts {
		fmt.Fprintf(&inv, "app-%d ansible_connection=local ansible_python_interpreter=/usr/bin/python3 metadata_url=%s addr=%s\n", i+1, w.ep.Metadata[h], h)
	}
	l := simtest.StartLoad(w.ep.Listeners[0].URL, 6, 300*time.Millisecond)
	run := coll.Playbook(t, awsPlay, ansibletest.Inventory(inv.String()), ansibletest.Vars(map[string]any{
		"aws_api": w.ep.AWSAPI, "aws_key_id": awsKeyID, "aws_secret": awsKey, "admin": w.ep.Admin, "tg_arn": simtest.TGARN,
	}))
	l.Finish(t)
	if run.ExitCode != 0 {
		t.Fatalf("ansible-playbook exit %d:\n%s\n%s", run.ExitCode, run.Stdout, run.Stderr)
	}
	if strings.Contains(run.Stdout, awsKey) {
		t.Errorf("the secret key appears in the output")
	}
	drains, regs := results(run, "drain"), results(run, "register")
	at, later := results(run, "counts at drain"), results(run, "counts later")
	cliDrain, cliReg := results(run, "cli after drain"), results(run, "cli after register")
	for i, h := range hosts {
		name := fmt.Sprintf("app-%d", i+1)
		iid := fmt.Sprintf("i-000000000000000%d", i+1)
		d := drains[name]
		if d["changed"] != true || get(d, "target", "id") != iid || get(d, "target", "source") != "metadata" {
			t.Errorf("%s drain: %v", name, d)
		}
		if regs[name]["changed"] != true {
			t.Errorf("%s register: %v", name, regs[name])
		}
		before, after := get(at[name], "json", "proxied_by_host", h), get(later[name], "json", "proxied_by_host", h)
		if before != after {
			t.Errorf("%s: requests reached %s after lb_drain returned: %v then %v", name, h, before, after)
		}
		if st := cliState(t, cliDrain[name], iid); st != "" {
			t.Errorf("%s: aws elbv2 describe-target-health after lb_drain shows %s as %q, want it gone", name, iid, st)
		}
		if st := cliState(t, cliReg[name], iid); st != "healthy" {
			t.Errorf("%s: aws elbv2 describe-target-health after lb_register shows %s as %q, want healthy", name, iid, st)
		}
		t.Logf("%s: drain waited %vs (%v API requests), register waited %vs (%v API requests)", name,
			d["waited"], d["api_requests"], regs[name]["waited"], regs[name]["api_requests"])
	}
}

// cliState is the state the AWS CLI reported for id, "" when not listed.
func cliState(t *testing.T, res map[string]any, id string) string {
	t.Helper()
	var out struct {
		TargetHealthDescriptions []struct {
			Target       struct{ Id string }
			TargetHealth struct{ State string }
		}
	}
	stdout, _ := res["stdout"].(string)
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Errorf("aws cli output: %v: %q (stderr %v)", err, stdout, res["stderr"])
		return "?"
	}
	for _, d := range out.TargetHealthDescriptions {
		if d.Target.Id == id {
			return d.TargetHealth.State
		}
	}
	return ""
}

const hetznerPlay = `
- hosts: localhost
  gather_facts: false
  vars:
    hz: &hz
      provider: hetzner
      api_token: "{{ token }}"
      endpoint: "{{ hcloud_api }}"
      load_balancer: web-lb
      target: app-1
      timeout: 20
  tasks:
    - name: drain in check mode
      zerodowntime.rolling.lb_drain: *hz
      check_mode: true
      diff: true
    - name: drain
      zerodowntime.rolling.lb_drain: *hz
    - name: drain again
      zerodowntime.rolling.lb_drain: *hz
    - name: refuse to drain below min_healthy
      zerodowntime.rolling.lb_drain:
        <<: *hz
        target: app-2
        min_healthy: 2
      ignore_errors: true
    - name: wrong token
      zerodowntime.rolling.lb_drain:
        <<: *hz
        api_token: not-the-right-token-4242
      ignore_errors: true
    - name: missing load balancer
      zerodowntime.rolling.lb_drain:
        <<: *hz
        load_balancer: no-such-lb
      ignore_errors: true
    - name: register
      zerodowntime.rolling.lb_register: *hz
    - name: register again
      zerodowntime.rolling.lb_register: *hz
`

func TestHetznerPlaybook(t *testing.T) {
	t.Parallel()
	// A rollout under load: one of the machine's end-to-end slots.
	slots.Hold(t)
	coll := ansibletest.Install(t)
	w := startWorld(t)
	l := simtest.StartLoad(w.ep.Services[0].URL, 4, 300*time.Millisecond)
	run := coll.Playbook(t, hetznerPlay, ansibletest.Vars(map[string]any{"token": hzToken, "hcloud_api": w.ep.HetznerAPI}))
	l.Finish(t)
	if run.ExitCode != 0 {
		t.Fatalf("ansible-playbook exit %d:\n%s\n%s", run.ExitCode, run.Stdout, run.Stderr)
	}
	for _, s := range []string{hzToken, "not-the-right-token-4242"} {
		if strings.Contains(run.Stdout, s) {
			t.Errorf("token %q appears in the output", s)
		}
	}
	r := func(name string) map[string]any { return run.Task(name)["localhost"] }
	chk := r("drain in check mode")
	if chk["changed"] != true || get(chk, "diff", "after", "web-lb", "registered") != false || get(chk, "pools") == nil {
		t.Errorf("check mode: %v", chk)
	}
	if d := r("drain"); d["changed"] != true || get(d, "target", "id") != "101" {
		t.Errorf("drain: %v", d)
	}
	if d := r("drain again"); d["changed"] != false {
		t.Errorf("drain again: %v", d)
	}
	for name, want := range map[string]string{
		"refuse to drain below min_healthy": "refusing to drain app-2 (102)",
		"wrong token":                       "rejected api_token",
		"missing load balancer":             `load balancer "no-such-lb" not found`,
	} {
		res := r(name)
		if res["failed"] != true || !strings.Contains(fmt.Sprint(res["msg"]), want) {
			t.Errorf("%s: want failure %q, got %v", name, want, res["msg"])
		}
	}
	if d := r("register"); d["changed"] != true || get(d, "pools") == nil {
		t.Errorf("register: %v", d)
	}
	if d := r("register again"); d["changed"] != false || d["waited"] != 0.0 {
		t.Errorf("register again: %v", d)
	}
	if st := w.sim.State(); len(st.Hetzner.LoadBalancers[0].Targets) != 3 {
		t.Errorf("lbsim targets after the play: %v", st.Hetzner.LoadBalancers[0].Targets)
	}
}

func get(m any, path ...string) any {
	for _, p := range path {
		switch x := m.(type) {
		case map[string]any:
			m = x[p]
		case []any:
			if len(x) == 0 {
				return nil
			}
			m = x[0]
		default:
			return nil
		}
	}
	return m
}
