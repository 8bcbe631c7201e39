package healthfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible/ansibletest"
	"github.com/zerodowntime/rolling/modules/internal/ansible/doccheck"
)

func TestDocMatchesSpec(t *testing.T) { doccheck.Check(t, spec) }

func call(t *testing.T, args map[string]any) map[string]any {
	t.Helper()
	res, _ := ansibletest.Call(t, context.Background(), spec, args, run)
	return res
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		return false
	}
	if !st.Mode().IsRegular() {
		t.Fatalf("%s is %v, not a regular file", path, st.Mode())
	}
	return true
}

// TestStates: present and absent each change once, then nothing; check
// mode reports the change and makes none; the diff says what changes.
func TestStates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "down")
	steps := []struct {
		name    string
		args    map[string]any
		changed bool
		msg     string
		file    bool
		diff    string
	}{
		{"check mode present", map[string]any{"_ansible_check_mode": true, "_ansible_diff": true}, true, "would create " + path, false,
			"map[after:map[path:" + path + " state:file] after_header:" + path + " before:map[path:" + path + " state:absent] before_header:" + path + "]"},
		{"present", nil, true, "created " + path, true, ""},
		{"present again", nil, false, path + " is already there", true, ""},
		{"check mode absent", map[string]any{"state": "absent", "_ansible_check_mode": true}, true, "would remove " + path, true, ""},
		{"absent", map[string]any{"state": "absent", "_ansible_diff": true}, true, "removed " + path, false,
			"map[after:map[path:" + path + " state:absent] after_header:" + path + " before:map[path:" + path + " state:file] before_header:" + path + "]"},
		{"absent again", map[string]any{"state": "absent"}, false, path + " is already absent", false, ""},
	}
	for _, s := range steps {
		args := map[string]any{"path": path}
		for k, v := range s.args {
			args[k] = v
		}
		res := call(t, args)
		if res["failed"] == true || res["changed"] != s.changed || !strings.HasPrefix(fmt.Sprint(res["msg"]), s.msg) {
			t.Errorf("%s: changed %v msg %q (failed %v), want changed %v msg %q", s.name, res["changed"], res["msg"], res["failed"], s.changed, s.msg)
		}
		if got := exists(t, path); got != s.file {
			t.Errorf("%s: file there %v, want %v", s.name, got, s.file)
		}
		if s.diff != "" && fmt.Sprint(res["diff"]) != s.diff {
			t.Errorf("%s: diff %v\nwant %s", s.name, res["diff"], s.diff)
		}
	}
}

// TestRefused: bad paths and what is not a regular file are refused with
// an error naming path, in check mode too, and nothing is touched.
func TestRefused(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	dangling := filepath.Join(dir, "dangling")
	notDir := filepath.Join(victim, "down")
	for _, l := range [][2]string{{victim, link}, {filepath.Join(dir, "nowhere"), dangling}} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		args map[string]any
		msg  string
	}{
		{"relative", map[string]any{"path": "down"}, `path: "down" is relative`},
		{"trailing slash", map[string]any{"path": dir + "/"}, "ends with /"},
		{"bad state", map[string]any{"path": victim, "state": "gone"}, "state"},
		{"link, present", map[string]any{"path": link}, "path: " + link + " is a symbolic link (to " + victim + ")"},
		{"link, absent", map[string]any{"path": link, "state": "absent"}, "path: " + link + " is a symbolic link"},
		{"dangling link, check mode", map[string]any{"path": dangling, "_ansible_check_mode": true}, "path: " + dangling + " is a symbolic link"},
		{"directory", map[string]any{"path": dir}, "path: " + dir + " is a directory, not a regular file"},
		{"missing directory, check mode", map[string]any{"path": dir + "/missing/down", "_ansible_check_mode": true},
			"path: directory " + dir + "/missing does not exist"},
		{"parent is a file", map[string]any{"path": notDir}, "path: " + victim + " is a regular file, not a directory"},
	}
	for _, c := range cases {
		res := call(t, c.args)
		if res["failed"] != true || !strings.Contains(fmt.Sprint(res["msg"]), c.msg) {
			t.Errorf("%s: %v, want a failure with %q", c.name, res, c.msg)
		}
	}
	if b, err := os.ReadFile(victim); string(b) != "keep\n" {
		t.Errorf("the link's target holds %q (%v)", b, err)
	}
	for _, l := range []string{link, dangling} {
		if _, err := os.Readlink(l); err != nil {
			t.Errorf("link %s is gone: %v", l, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); err == nil {
		t.Errorf("the dangling link's target was created")
	}
}
