package secrets

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// TestVerifyCredentialsThroughTheRole runs the playbook
// zerodowntime.rolling.deploy at -vvv (deploy_lb none) against an HTTPS
// health URL that wants basic auth or a bearer token, trusted through
// deploy_verify_ca_path: the role's verify passes with the role's
// credential inputs, and fails on a wrong password with the server's 401
// through the rescue's message. No form of a secret shows anywhere, the
// role's argument validation included.
func TestVerifyCredentialsThroughTheRole(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	app := authServer(t, true)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: app.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	tasks := filepath.Join(dir, "deploy.yml")
	if err := os.WriteFile(tasks, []byte("- name: deploy the app\n  ansible.builtin.debug: {msg: deployed}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := map[string]any{
		"deploy_hosts": "app-1", "deploy_lb": "none", "deploy_tasks_file": tasks,
		"deploy_verify_url": app.URL + "/about/deploy", "deploy_verify_expect_body": "ok",
		"deploy_verify_ca_path": ca, "deploy_verify_timeout": 2,
	}
	inventory := "app-1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
	for _, c := range []struct {
		name   string
		creds  map[string]any
		failed string // what the failure message says; "": the rollout succeeds
	}{
		{name: "basic auth", creds: map[string]any{"deploy_verify_url_username": urlUser, "deploy_verify_url_password": urlPass}},
		{name: "bearer header", creds: map[string]any{"deploy_verify_headers": map[string]any{"Authorization": "Bearer " + bearer}}},
		{name: "wrong password", creds: map[string]any{"deploy_verify_url_username": urlUser, "deploy_verify_url_password": typoSecret},
			failed: "the verify step failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]any{}
			for _, m := range []map[string]any{common, c.creds} {
				for k, v := range m {
					vars[k] = v
				}
			}
			run := coll.PlaybookFile(t, "zerodowntime.rolling.deploy", ansibletest.Inventory(inventory),
				ansibletest.Vars(vars), ansibletest.Verbose(3))
			verify := run.Step("app-1", "verify")
			if c.failed == "" {
				if run.ExitCode != 0 || verify["failed"] == true || verify["status"] != float64(200) {
					t.Fatalf("rollout exit %d, verify %v; want the host verified:\n%s", run.ExitCode, verify, run.Stdout)
				}
			} else {
				msg, _ := run.Task("zerodowntime.rolling.deploy : Rollout failed")["app-1"]["msg"].(string)
				t.Logf("rollout failed msg: %s", msg)
				// The hint whole: the role trims only the message's final
				// dots and spaces before its own sentence follows.
				hint := "the app refused the request (status 401): check url_username and url_password, or the credential headers. It was left out"
				if run.ExitCode == 0 || !strings.Contains(msg, c.failed) || !strings.Contains(msg, hint) {
					t.Fatalf("rollout exit %d, failure %q; want a failure saying %q and %q", run.ExitCode, msg, c.failed, hint)
				}
			}
			if !strings.Contains(run.Stdout, "<app-1> EXEC") {
				t.Errorf("no -vvv EXEC lines in the output, so the search proved nothing")
			}
			assertNoLeak(t, run)
		})
	}
}
