package rollout

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPrivateDir: a file made in PrivateDir() through an app host's shell
// lands in that host's Dir only; the controller's PrivateDir() and the
// other host's Dir stay empty.
func TestPrivateDir(t *testing.T) {
	dir := t.TempDir()
	s := &Scenario{dir: dir, Hosts: []Host{{Name: "app-1", Dir: filepath.Join(dir, "app-1")}, {Name: "app-2", Dir: filepath.Join(dir, "app-2")}}}
	for _, h := range s.Hosts {
		if err := os.MkdirAll(h.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(h.PIDFile(), []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.setupPrivateDir(); err != nil {
		t.Skip(err) // no mount namespaces here: the scenarios that need them say so too
	}
	file := filepath.Join(s.PrivateDir(), "down")
	if out, err := exec.Command(s.hostShell(s.Hosts[0]), "-c", "touch "+shellQuote(file)).CombinedOutput(); err != nil {
		t.Fatalf("app-1's shell: %v %s", err, out)
	}
	for path, want := range map[string]bool{s.Hosts[0].HealthFile(): true, s.Hosts[1].HealthFile(): false, file: false} {
		if _, err := os.Lstat(path); (err == nil) != want {
			t.Errorf("%s there: %v, want %v", path, err == nil, want)
		}
	}
}
