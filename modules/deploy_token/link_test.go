package deploytoken

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSymlinkRefused: a symbolic link at path, dangling or to an existing
// file, is refused with an error naming path, in check mode too; neither
// the link nor the file it names is touched, and no temporary file stays.
func TestSymlinkRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name            string
		dangling, check bool
	}{
		{name: "dangling"}, {name: "to a file"}, {name: "dangling, check mode", dangling: true, check: true}, {name: "to a file, check mode", check: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			victim := filepath.Join(dir, "sudoers")
			if !tt.dangling {
				writeFile(t, victim, "root ALL=(ALL) ALL\n", 0o440)
			}
			path := filepath.Join(dir, "DEPLOY_TOKEN")
			if err := os.Symlink(victim, path); err != nil {
				t.Fatal(err)
			}
			res := call(t, map[string]any{"path": path, "token": "tok-1", "_ansible_check_mode": tt.check, "_ansible_diff": true})
			wantFields(t, res, map[string]any{"failed": true, "changed": false})
			if msg, _ := res["msg"].(string); !strings.HasPrefix(msg, "path: "+path+" is a symbolic link (to "+victim+")") {
				t.Errorf("msg %q, want a path error about the link", msg)
			}
			if dest, err := os.Readlink(path); err != nil || dest != victim {
				t.Errorf("the link is now %q (%v), want it untouched", dest, err)
			}
			b, err := os.ReadFile(victim)
			if tt.dangling && err == nil || !tt.dangling && string(b) != "root ALL=(ALL) ALL\n" {
				t.Errorf("the link's target holds %q (%v), want it untouched", b, err)
			}
			if extra := leftovers(t, dir, "DEPLOY_TOKEN", "sudoers"); len(extra) > 0 {
				t.Errorf("left in the directory: %v", extra)
			}
		})
	}
}

// TestGetentBounded: a name service that does not answer ends the lookup
// at getentTimeout with an error naming the option and the name, and only
// the first line of a flood is read. getent is a script on PATH here.
func TestGetentBounded(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "getent")
	t.Setenv("PATH", dir)
	old := getentTimeout
	getentTimeout = 300 * time.Millisecond
	t.Cleanup(func() { getentTimeout = old })

	// Hangs, its child holding the output open after the script is killed.
	writeFile(t, script, "#!/bin/sh\n/bin/sleep 60\n", 0o755)
	start := time.Now()
	done := make(chan error, 1)
	go func() { _, err := lookupOwner("zdt-no-such-user"); done <- err }()
	select {
	case err := <-done:
		want := `owner: getent did not answer: looking up "zdt-no-such-user" in the passwd database took more than 300ms`
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("err %v, want it to start with %q", err, want)
		}
		t.Logf("ended after %s", time.Since(start).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("the lookup through a getent that does not answer has not ended after 30 s")
	}

	// Answers, then floods: the answer counts, the flood is not read.
	writeFile(t, script, "#!/bin/sh\necho 'zdt-flood:x:4242:4242::/:/bin/false'\nexec /usr/bin/yes\n", 0o755)
	if uid, err := lookupOwner("zdt-flood"); err != nil || uid != 4242 {
		t.Errorf("uid %d, err %v; want 4242", uid, err)
	}
}
