package healthfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpers: a link at the path, dangling or not, is neither followed
// nor removed, even when it appears after a caller looked.
func TestHelpers(t *testing.T) {
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
		if made, err := Create(path, "down\n"); made || err == nil || !strings.HasPrefix(err.Error(), path+" is a symbolic link") {
			t.Errorf("dangling %v: create: made %v, err %v; want a link error", dangling, made, err)
		}
		if gone, err := Remove(path); gone || err == nil || !strings.HasPrefix(err.Error(), path+" is a symbolic link") {
			t.Errorf("dangling %v: remove: gone %v, err %v; want a link error", dangling, gone, err)
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
	if made, err := Create(path, "down\n"); !made || err != nil {
		t.Fatalf("create: made %v, err %v", made, err)
	}
	if made, err := Create(path, "down\n"); made || err != nil {
		t.Errorf("create again: made %v, err %v; want nothing done", made, err)
	}
	if gone, err := Remove(path); !gone || err != nil {
		t.Errorf("remove: gone %v, err %v", gone, err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the file is still there: %v", err)
	}
}
