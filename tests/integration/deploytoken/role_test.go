package deploytoken

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// TestTokenOwnerThroughTheRole runs the playbook zerodowntime.rolling.deploy
// (deploy_lb none) with deploy_token_owner, _group and _mode: the token
// file the verify then finds served belongs to the app's user and group
// with that mode. As root only, as giving a file away needs it.
func TestTokenOwnerThroughTheRole(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("giving the token file to another user needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody on this host")
	}
	nogroup, err := user.LookupGroup("nogroup")
	if err != nil {
		t.Skip("no group nogroup on this host")
	}
	coll := ansibletest.Install(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "DEPLOY_TOKEN")
	// The app: serves the token file as it is now.
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b, err := os.ReadFile(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(app.Close)
	tasks := filepath.Join(dir, "deploy.yml")
	if err := os.WriteFile(tasks, []byte("- name: deploy the app\n  ansible.builtin.debug: {msg: deployed}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := coll.PlaybookFile(t, "zerodowntime.rolling.deploy",
		ansibletest.Inventory("app-1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"),
		ansibletest.Vars(map[string]any{
			"deploy_hosts": "app-1", "deploy_lb": "none", "deploy_tasks_file": tasks,
			"deploy_token_file": path, "deploy_token_owner": "nobody", "deploy_token_group": "nogroup", "deploy_token_mode": "0440",
			"deploy_verify_url": app.URL + "/", "deploy_verify_timeout": 5,
		}))
	res := run.Step("app-1", "check")
	if run.ExitCode != 0 || res["changed"] != true {
		t.Fatalf("exit %d, Deploy token %v:\n%s", run.ExitCode, res, run.Stdout)
	}
	if v := run.Step("app-1", "verify"); v["token_verified"] != true {
		t.Errorf("the verify did not see the token: %v", v)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if strconv.Itoa(int(sys.Uid)) != nobody.Uid || strconv.Itoa(int(sys.Gid)) != nogroup.Gid || st.Mode().Perm() != 0o440 {
		t.Errorf("token file is %d:%d mode %04o, want %s:%s 0440", sys.Uid, sys.Gid, st.Mode().Perm(), nobody.Uid, nogroup.Gid)
	}
	if uid, _ := res["uid"].(float64); res["mode"] != "0440" || strconv.Itoa(int(uid)) != nobody.Uid {
		t.Errorf("Deploy token result %v, want mode 0440 and uid %s", res, nobody.Uid)
	}
}
