package progress

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A real ansible-playbook with zdt_progress enabled: while its second task
// runs, Read says so; the first task's result and the finished run are
// there too.
func TestReadWhileRunning(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Fatal("ansible-playbook not found: install ansible-core (.ci/run does)")
	}
	dir := t.TempDir()
	play := filepath.Join(dir, "play.yml")
	release := filepath.Join(dir, "release")
	if err := os.WriteFile(play, []byte(`- hosts: localhost
  gather_facts: false
  tasks:
    - name: first
      ansible.builtin.command: /bin/true
      changed_when: false
    - name: wait for the test
      ansible.builtin.wait_for:
        path: `+release+`
        timeout: 120
`), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "progress.jsonl")
	cmd := exec.Command("ansible-playbook", "-i", "localhost,", "-c", "local", play)
	cmd.Env = append(os.Environ(), Environ(path)...)
	cmd.Env = append(cmd.Env, "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3", "ANSIBLE_LOCALHOST_WARNING=false")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// ansible-playbook's start-up is seconds on a busy machine; the
	// playbook's own wait bounds this one.
	var p Progress
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if p, err = Read(path); err != nil {
			t.Fatal(err)
		}
		if p.Hosts["localhost"].Task == "wait for the test" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the progress file never showed the second task: %s\n%s", p, out)
		}
	}
	if hp := p.Hosts["localhost"]; hp.Event != "start" || time.Since(hp.Since) > time.Minute {
		t.Errorf("localhost: %+v, want the second task started just now", hp)
	}
	if s := p.String(); !strings.HasPrefix(s, `localhost: in "wait for the test" for `) {
		t.Errorf("String() = %q", s)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ansible-playbook: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{`"event": "ok", "host": "localhost", "task": "first"`, `"event": "ok", "host": "localhost", "task": "wait for the test"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("progress file lacks %s:\n%s", want, b)
		}
	}
}

func TestReadMissingAndCutShort(t *testing.T) {
	dir := t.TempDir()
	p, err := Read(filepath.Join(dir, "none"))
	if err != nil || len(p.Hosts) != 0 || !strings.Contains(p.String(), "no task had started") {
		t.Errorf("missing file: %v, %q", err, p)
	}
	path := filepath.Join(dir, "cut")
	os.WriteFile(path, []byte(`{"event": "start", "host": "app-1", "task": "Drain", "time": 1700000000.5}
{"event": "ok", "host": "app-1", "task": "Drain", "time": 1700000002.0}
{"event": "start", "host": "app-2", "task": "Dra`), 0o644)
	p, err = Read(path)
	if err != nil {
		t.Fatal(err)
	}
	p.At = time.Unix(1700000012, 0)
	if got, want := p.String(), `app-1: "Drain" ok 10s ago`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
