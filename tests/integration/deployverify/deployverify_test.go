// Package deployverify runs zerodowntime.rolling.deploy_verify through real
// ansible and ansible-playbook against the installed collection.
package deployverify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// switching serves v1 until after, then v2.
func switching(t *testing.T, after time.Duration) *httptest.Server {
	start := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) >= after {
			fmt.Fprintln(w, "v2")
			return
		}
		fmt.Fprintln(w, "v1")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAdHocFailsWithExpectedAndObserved(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	srv := switching(t, time.Hour)
	start := time.Now()
	run, res := coll.AdHoc(t, "zerodowntime.rolling.deploy_verify", "url="+srv.URL+"/ expect_body=v2 timeout=5")
	elapsed := time.Since(start)
	if run.ExitCode == 0 || res["failed"] != true {
		t.Fatalf("want failure, got exit %d, result %v", run.ExitCode, res)
	}
	msg, _ := res["msg"].(string)
	for _, want := range []string{`expected status in [200], body "v2"`, `last observed: status 200, body "v1\n"`, "within 5s"} {
		if !strings.Contains(msg, want) {
			t.Errorf("msg %q lacks %q", msg, want)
		}
	}
	if e, _ := res["elapsed"].(float64); e < 4.9 || e > 5.5 {
		t.Errorf("module elapsed %.2fs, want about 5s", e)
	}
	t.Logf("failed after %.2fs module time, %s wall time", res["elapsed"], elapsed)
}

func TestAdHocSucceedsWhenVersionSwitches(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	srv := switching(t, 2*time.Second)
	run, res := coll.AdHoc(t, "zerodowntime.rolling.deploy_verify", "url="+srv.URL+"/ expect_body=v2 timeout=5")
	if run.ExitCode != 0 || res["failed"] == true {
		t.Fatalf("want success, got exit %d, result %v", run.ExitCode, res)
	}
	// The server switched 2 s after it started, which was before ansible
	// started the module, so the module's own time is below 2.6 s.
	if e, _ := res["elapsed"].(float64); e > 2.6 {
		t.Errorf("module took %.2fs, want at most 2.6s", e)
	}
	if res["changed"] != false {
		t.Errorf("changed = %v, want false", res["changed"])
	}
}

func TestBadInputNamesTheParameter(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	srv := switching(t, 0)
	cases := []struct {
		name, args string
		want       []string
	}{
		{"misspelled", "url=" + srv.URL + " expect_bdy=v2", []string{"Unsupported parameters for (deploy_verify) module: expect_bdy", "Supported parameters include:"}},
		{"wrong type", "url=" + srv.URL + " timeout=abc", []string{"argument 'timeout'", "to int"}},
		{"bad choice", "url=" + srv.URL + " follow_redirects=sometimes", []string{"value of follow_redirects must be one of"}},
		{"missing url", "expect_body=v2", []string{"missing required arguments: url"}},
		{"bad regex", "url=" + srv.URL + " expect_regex=(", []string{"expect_regex", "not a valid regular expression"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run, res := coll.AdHoc(t, "zerodowntime.rolling.deploy_verify", tc.args)
			if run.ExitCode == 0 {
				t.Fatalf("want failure, got %v", res)
			}
			msg, _ := res["msg"].(string)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("msg %q lacks %q", msg, w)
				}
			}
		})
	}
}

// TestPasswordNeverShown searches every byte ansible prints at -vvv, on a
// passing and a failing request, for the password.
func TestPasswordNeverShown(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	const secret = "S3cretPassw0rd"
	var sawAuth atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "deploy" && p == secret {
			sawAuth.Store(true)
			fmt.Fprintln(w, "v2")
			return
		}
		http.Error(w, "auth needed", http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ name, url, expect string }{
		{"success", srv.URL + "/", "v2"},
		{"wrong body", srv.URL + "/", "v3"},
		{"refused", "http://deploy:" + secret + "@127.0.0.1:1/", "v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, res := coll.AdHoc(t, "zerodowntime.rolling.deploy_verify",
				"url="+tc.url+" expect_body="+tc.expect+" url_username=deploy url_password="+secret+" timeout=1",
				ansibletest.Verbose(3))
			if strings.Contains(run.Stdout, secret) || strings.Contains(run.Stderr, secret) {
				t.Fatalf("the password appears in the output:\n%s\n%s", run.Stdout, run.Stderr)
			}
			if res == nil {
				t.Fatalf("no result parsed")
			}
		})
	}
	if !sawAuth.Load() {
		t.Fatal("the server never received the credentials, so the test proved nothing")
	}
}

func TestPlaybookCheckModeAndJSON(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Version", "v2")
		fmt.Fprint(w, `{"build":{"version":"v2","n":3},"items":[{"ok":true}]}`)
	}))
	t.Cleanup(srv.Close)
	run := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: verify
      zerodowntime.rolling.deploy_verify:
        url: "{{ url }}"
        expect_json: {build.version: v2, build.n: "3", items.0.ok: true}
        expect_headers: {x-app-version: v2}
        consecutive: 2
        interval: 0.1
`, ansibletest.Vars(map[string]any{"url": srv.URL}), ansibletest.Check())
	if run.ExitCode != 0 {
		t.Fatalf("exit %d", run.ExitCode)
	}
	// Check mode waits for nothing: one look at url, reported in msg.
	res := run.Task("verify")["localhost"]
	msg, _ := res["msg"].(string)
	if res["attempts"] != float64(1) || res["passes"] != float64(1) || res["changed"] != false || res["skipped"] == true ||
		!strings.Contains(msg, "check mode: would poll "+srv.URL+" until it answers with status in [200], header X-App-Version: \"v2\"") ||
		!strings.Contains(msg, "2 times in a row") || !strings.HasSuffix(msg, "; it answers as expected now") {
		t.Fatalf("want one look at url, unchanged and not skipped in check mode, got %v", res)
	}
}

// TestArm64BuildUnderQemu runs the linux/arm64 build through the action
// plugin, with the platform chosen by the override variable and the binary
// run by qemu-aarch64-static.
func TestArm64BuildUnderQemu(t *testing.T) {
	t.Parallel()
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		t.Fatal("qemu-aarch64-static not found: apt-get install qemu-user-static (.ci/run does)")
	}
	coll := ansibletest.Install(t)
	srv := switching(t, 0)
	run := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: arm64
      zerodowntime.rolling.deploy_verify:
        url: "{{ url }}"
        expect_body: v2
      vars:
        zerodowntime_rolling_platform: linux_arm64
        zerodowntime_rolling_exec_prefix: "{{ qemu }}"
`, ansibletest.Vars(map[string]any{"url": srv.URL, "qemu": qemu}), ansibletest.Verbose(3))
	res := run.Task("arm64")["localhost"]
	if res["failed"] == true || res["status"] != float64(200) {
		t.Fatalf("arm64 build under qemu: %v", res)
	}
	// qemu-aarch64 refuses anything but an arm64 build, so the success
	// above already proves which build ran; the -vvv output shows it by its
	// digest: the small host build, deploy_verify being a host module.
	b, err := os.ReadFile(filepath.Join(coll.Root, "bin", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Builds map[string]struct{ Sha256 string }
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	sum := manifest.Builds["zdt-host_linux_arm64"].Sha256
	ran := false
	for _, line := range strings.Split(run.Stdout, "\n") {
		// The command that runs a cached build names it, checks its
		// hash and runs it with the module's name.
		ran = ran || sum != "" && strings.Contains(line, "/"+sum+";") && strings.Contains(line, " deploy_verify -")
	}
	if !ran {
		t.Errorf("the -vvv output does not show the zdt-host_linux_arm64 build (sha256 %q) being run", sum)
	}
}

func TestUnsupportedPlatformIsNamed(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	run, res := coll.AdHoc(t, "zerodowntime.rolling.deploy_verify", "url=http://127.0.0.1:1/",
		ansibletest.Args("-e", "zerodowntime_rolling_platform=windows_amd64"))
	msg, _ := res["msg"].(string)
	if run.ExitCode == 0 || !strings.Contains(msg, "windows_amd64") || !strings.Contains(msg, "linux_arm64") {
		t.Fatalf("want a failure naming the platform and the supported ones, got %v", res)
	}
}

func TestAsyncIsRefused(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	run := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: async
      zerodowntime.rolling.deploy_verify:
        url: http://127.0.0.1:1/
      async: 10
      poll: 1
`)
	res := run.Task("async")["localhost"]
	msg, _ := res["msg"].(string)
	if run.ExitCode == 0 || !strings.Contains(msg, "does not support async") {
		t.Fatalf("want async refused, got %v", res)
	}
}
