package secrets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// TestSecretsThroughTheRole runs the playbook zerodowntime.rolling.deploy at
// -vvv with the credentials given as the role's variables, behind Hetzner
// and AWS on lbsim: a rollout of one host that succeeds, and one whose
// drain is refused for a wrong credential, so that the role's rescue and
// its failure message run too. Ansible prints every task's arguments and
// results at -vvv, the role's argument validation included; none of it
// may show a secret.
func TestSecretsThroughTheRole(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	w := startWorld(t)
	dir := t.TempDir()
	tasks := filepath.Join(dir, "deploy.yml")
	if err := os.WriteFile(tasks, []byte("- name: deploy the app\n  ansible.builtin.debug: {msg: deployed}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := map[string]any{
		"deploy_hosts":              "app-1",
		"deploy_tasks_file":         tasks,
		"deploy_verify_url":         fmt.Sprintf("http://%s:%d/", w.hosts[0], w.port),
		"deploy_verify_expect_body": w.hosts[0] + "\n",
		"deploy_min_healthy":        0,
		"deploy_lb_delegate_to":     "localhost",
	}
	hetzner := map[string]any{
		"deploy_lb": "hetzner", "deploy_hetzner_load_balancers": []string{"web-lb"},
		"deploy_hetzner_endpoint": w.ep.HetznerAPI, "deploy_hetzner_api_token": hzToken,
	}
	aws := map[string]any{
		"deploy_lb": "aws", "deploy_lb_target": "i-0000000000000001",
		"deploy_aws_endpoint_url": w.ep.AWSAPI, "deploy_aws_region": "eu-central-1",
		"deploy_aws_target_group_names": []string{"web-tg"},
		"deploy_aws_access_key":         awsKeyID, "deploy_aws_secret_key": awsSecret, "deploy_aws_session_token": awsSession,
	}
	inventory := "app-1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n" +
		"localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
	env := ansibletest.Env(noAWSConfig...)

	for _, c := range []struct {
		name   string
		lb     map[string]any
		wrong  map[string]any // replaces a credential; nil: the rollout succeeds
		failed string         // what the failure message says
	}{
		{name: "hetzner", lb: hetzner},
		{name: "hetzner wrong token", lb: hetzner, wrong: map[string]any{"deploy_hetzner_api_token": hzWrong}, failed: "the drain step failed"},
		{name: "aws", lb: aws},
		{name: "aws wrong secret", lb: aws, wrong: map[string]any{"deploy_aws_secret_key": awsWrong}, failed: "the drain step failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]any{}
			for _, m := range []map[string]any{common, c.lb, c.wrong} {
				for k, v := range m {
					vars[k] = v
				}
			}
			run := coll.PlaybookFile(t, "zerodowntime.rolling.deploy", ansibletest.Inventory(inventory),
				ansibletest.Vars(vars), ansibletest.Verbose(3), env)
			if c.failed == "" {
				if run.ExitCode != 0 {
					t.Fatalf("rollout exit %d, want 0:\n%s", run.ExitCode, run.Stdout)
				}
				if res := run.Step("app-1", "verify"); res["failed"] == true || res["status"] != float64(200) {
					t.Errorf("the rollout did not verify the host: %v", res)
				}
			} else {
				msg, _ := run.Task("zerodowntime.rolling.deploy : Rollout failed")["app-1"]["msg"].(string)
				if run.ExitCode == 0 || !strings.Contains(msg, c.failed) {
					t.Fatalf("rollout exit %d, failure %q; want a failure saying %q", run.ExitCode, msg, c.failed)
				}
			}
			if !strings.Contains(run.Stdout, "<localhost> EXEC") && !strings.Contains(run.Stdout, "<app-1> EXEC") {
				t.Errorf("no -vvv EXEC lines in the output, so the search proved nothing")
			}
			assertNoLeak(t, run)
		})
	}
}
