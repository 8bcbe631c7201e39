package lb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHealthFileHelpers: at act time, after the plan looked, a link that
// appeared at health_file is still neither followed nor removed.
func TestHealthFileHelpers(t *testing.T) {
	for _, dangling := range []bool{true, false} {
		dir := t.TempDir()
		victim := filepath.Join(dir, "sudoers")
		if !dangling {
			if err := os.WriteFile(victim, []byte("keep\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, "maintenance")
		if err := os.Symlink(victim, path); err != nil {
			t.Fatal(err)
		}
		if made, err := createHealthFile(path); made || err == nil || !strings.HasPrefix(err.Error(), "health_file: "+path+" is a symbolic link") {
			t.Errorf("dangling %v: create: made %v, err %v; want a health_file error", dangling, made, err)
		}
		if gone, err := removeHealthFile(path); gone || err == nil || !strings.HasPrefix(err.Error(), "health_file: "+path+" is a symbolic link") {
			t.Errorf("dangling %v: remove: gone %v, err %v; want a health_file error", dangling, gone, err)
		}
		b, err := os.ReadFile(victim)
		if dangling && err == nil || !dangling && string(b) != "keep\n" {
			t.Errorf("dangling %v: the link's target holds %q (%v)", dangling, b, err)
		}
		if _, err := os.Readlink(path); err != nil {
			t.Errorf("dangling %v: the link is gone: %v", dangling, err)
		}
	}
	// A regular file is created once, and removed.
	path := filepath.Join(t.TempDir(), "maintenance")
	if made, err := createHealthFile(path); !made || err != nil {
		t.Fatalf("create: made %v, err %v", made, err)
	}
	if made, err := createHealthFile(path); made || err != nil {
		t.Errorf("create again: made %v, err %v; want nothing done", made, err)
	}
	if gone, err := removeHealthFile(path); !gone || err != nil {
		t.Errorf("remove: gone %v, err %v", gone, err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("health_file still there: %v", err)
	}
}
