// Package plugin checks the action plugins' remote build cache over a real
// SSH connection (Debian's sshd on 127.0.0.1, its own HOME): a host gets
// the smallest build that holds the module it runs, at most once per
// version; a later run sends nothing; a tampered cached build is never run
// but replaced; builds no run has used for a week are removed; the cache
// can be turned off.
package plugin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/sshd"
)

// playbook runs a host module twice, then a cloud module: lb_drain without
// options fails in the module itself, which proves the full build ran (the
// host build does not hold lb_drain).
const playbook = `
- hosts: target
  gather_facts: false
  tasks:
    - name: verify 1
      zerodowntime.rolling.deploy_verify:
        url: "{{ url }}"
        expect_body: v2
    - name: verify 2
      zerodowntime.rolling.deploy_verify:
        url: "{{ url }}"
        expect_body: v2
    - name: drain
      zerodowntime.rolling.lb_drain:
      ignore_errors: true
`

var sendRE = regexp.MustCompile(`(?:cat|gzip -dc) > [^ ]*/\.ansible/zerodowntime_rolling/\.([0-9a-f]{16})\.`)

func TestRemoteCacheOverSSH(t *testing.T) {
	coll := ansibletest.Install(t)
	appURL := v2App(t)
	home := t.TempDir()
	srv := sshd.Start(t, sshd.Options{Home: home, Count: true})
	builds := manifest(t, coll)
	host, full := builds["zdt-host_linux_amd64"], builds["zdt_linux_amd64"]

	run := func(name string, extra ...ansibletest.Option) (*ansibletest.Run, []string, int64) {
		t.Helper()
		srv.Proxy.Reset()
		opts := append([]ansibletest.Option{ansibletest.Inventory("target " + srv.HostVars() + "\n"),
			ansibletest.Vars(map[string]any{"url": appURL})}, extra...)
		r := runPlaybook(t, coll, name, opts...)
		var sent []string
		for _, m := range sendRE.FindAllStringSubmatch(r.Stdout, -1) {
			sent = append(sent, m[1])
		}
		t.Logf("%s: %v, builds sent %v", name, r.Elapsed.Round(time.Millisecond), sent)
		return r, sent, srv.Proxy.Sent.Load()
	}

	// Cold: the host build for deploy_verify, then the full one for lb_drain.
	r, sent, bytes := run("cold")
	if !strings.Contains(r.Stdout, "gzip -dc > ") {
		t.Error("the host has gzip, yet the builds were not sent gzipped")
	}
	if want := []string{host[:16], full[:16]}; strings.Join(sent, ",") != strings.Join(want, ",") {
		t.Errorf("cold run sent builds %v, want the host build then the full one %v", sent, want)
	}
	t.Logf("cold run: %d bytes to the host", bytes)
	cache := filepath.Join(home, ansibletest.RemoteCacheDir)
	st, err := os.Stat(cache)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir %s: %v, mode %v; want 0700", cache, err, st.Mode().Perm())
	}
	for _, d := range []string{host, full} {
		if sum, err := ansibletest.FileSHA256(filepath.Join(cache, d)); err != nil || sum != d {
			t.Errorf("cached build %s: sha256 %s, %v", d, sum, err)
		}
	}

	// Warm: a new run finds both builds (hash-checked in the probe) and
	// sends only commands and arguments.
	_, sent, bytes = run("warm")
	if len(sent) != 0 {
		t.Errorf("warm run sent builds %v, want none", sent)
	}
	if bytes > 64<<10 {
		t.Errorf("warm run sent %d bytes to the host, want < 64 KiB (no build)", bytes)
	}

	// Tampered: a cached build that no longer matches its hash is never run.
	// With only the host build spoiled, deploy_verify runs from the full
	// build the host already has; with both spoiled, both are sent again.
	tamper := func(digest string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(cache, digest), []byte("#!/bin/sh\necho '{\"failed\": true, \"msg\": \"tampered build ran\"}'\n"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	tamper(host)
	r, sent, _ = run("host build tampered")
	if len(sent) != 0 || !strings.Contains(r.Stdout, "/"+full+"; ") {
		t.Errorf("with the host build tampered: sent %v, want none and deploy_verify run from the full build", sent)
	}
	tamper(host)
	tamper(full)
	r, sent, _ = run("both tampered")
	if want := []string{host[:16], full[:16]}; strings.Join(sent, ",") != strings.Join(want, ",") {
		t.Errorf("with both builds tampered, sent %v, want %v", sent, want)
	}
	if strings.Contains(r.Stdout, "tampered build ran") {
		t.Error("a tampered build ran")
	}

	// Cache off: Ansible's temporary directory, a copy per task.
	r, sent, _ = run("no cache", ansibletest.Vars(map[string]any{"url": appURL, "zerodowntime_rolling_cache": false}))
	if len(sent) != 0 || strings.Count(r.Stdout, "PUT ") < 3 {
		t.Errorf("with the cache off: %d cache sends, %d PUTs; want 0 and one PUT per task", len(sent), strings.Count(r.Stdout, "PUT "))
	}
}

// TestRemoteCacheRemovesUnused: a run's probe removes builds (another
// version's) and cut transfers that no run has used for more than a week,
// and keeps the builds it uses, whatever their age, without sending them
// again; files of other names and recent builds stay.
func TestRemoteCacheRemovesUnused(t *testing.T) {
	coll := ansibletest.Install(t)
	home := t.TempDir()
	vars := hostVars(t, sshd.Options{Home: home})
	builds := manifest(t, coll)
	run := func(name string) *ansibletest.Run {
		t.Helper()
		return runPlaybook(t, coll, name, ansibletest.Inventory("target\n"), ansibletest.Vars(vars))
	}
	run("fill") // the cache, with the builds in use

	cache := filepath.Join(home, ansibletest.RemoteCacheDir)
	inUse := []string{builds["zdt-host_linux_amd64"], builds["zdt_linux_amd64"]}
	stale := []string{strings.Repeat("ab", 32), ".0123456789abcdef.42", ".fedcba9876543210.43"}
	kept := []string{strings.Repeat("cd", 32), "notes"}
	now := time.Now()
	// A transfer cut 2 hours ago is a leftover: transfers take seconds.
	age := map[string]time.Duration{stale[0]: 8 * 24 * time.Hour, stale[1]: 8 * 24 * time.Hour, stale[2]: 2 * time.Hour,
		kept[0]: 6 * 24 * time.Hour, kept[1]: 30 * 24 * time.Hour,
		inUse[0]: 30 * 24 * time.Hour, inUse[1]: 30 * 24 * time.Hour}
	for name, d := range age {
		path := filepath.Join(cache, name)
		if !slices.Contains(inUse, name) {
			if err := os.WriteFile(path, []byte("old build"), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(path, now.Add(-d), now.Add(-d)); err != nil {
			t.Fatal(err)
		}
	}

	r := run("aged")
	if sent := sendRE.FindAllString(r.Stdout, -1); len(sent) != 0 {
		t.Errorf("builds in use sent again: %v", sent)
	}
	for _, name := range stale {
		if _, err := os.Lstat(filepath.Join(cache, name)); !os.IsNotExist(err) {
			t.Errorf("%s, a leftover (age %v), is still in the cache (%v)", name, age[name], err)
		}
	}
	for _, name := range kept {
		if _, err := os.Lstat(filepath.Join(cache, name)); err != nil {
			t.Errorf("%s was removed: %v", name, err)
		}
	}
	for _, name := range inUse {
		st, err := os.Stat(filepath.Join(cache, name))
		if err != nil {
			t.Errorf("build in use %s: %v", name, err)
		} else if time.Since(st.ModTime()) > time.Hour {
			t.Errorf("build in use %s: last change %v, want the run's time (its last use)", name, st.ModTime())
		}
	}
}

func manifest(t *testing.T, coll *ansibletest.Collection) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(coll.Root, "bin", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Builds map[string]struct{ Sha256 string }
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, b := range m.Builds {
		out[name] = b.Sha256
	}
	return out
}

// v2App serves "v2" on loopback until the test ends and returns its URL.
func v2App(t *testing.T) string {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "v2") }))
	t.Cleanup(app.Close)
	return app.URL
}

// drainRanFullBuild tells whether the task named drain, lb_drain without
// options, failed in the module itself, which proves the full build ran
// (the host build does not hold lb_drain); it returns the task's msg.
func drainRanFullBuild(r *ansibletest.Run) (string, bool) {
	msg, _ := r.Task("drain")["target"]["msg"].(string)
	return msg, strings.Contains(msg, "missing required arguments")
}

// runPlaybook runs playbook at -vvv (the sends and PUTs show in its
// output) and stops the test unless both verify tasks answered 200 and
// lb_drain ran in the full build; name says which run failed.
func runPlaybook(t *testing.T, coll *ansibletest.Collection, name string, opts ...ansibletest.Option) *ansibletest.Run {
	t.Helper()
	r := coll.Playbook(t, playbook, append([]ansibletest.Option{ansibletest.Verbose(3)}, opts...)...)
	for _, task := range []string{"verify 1", "verify 2"} {
		if res := r.Task(task)["target"]; res["failed"] == true || res["status"] != float64(200) {
			t.Fatalf("%s: task %q: %v", name, task, res)
		}
	}
	if msg, ok := drainRanFullBuild(r); !ok {
		t.Fatalf("%s: lb_drain did not run in the full build: %q", name, msg)
	}
	return r
}
