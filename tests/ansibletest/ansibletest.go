// Package ansibletest runs real ansible-playbook and ansible commands against
// the built zerodowntime.rolling collection, installed into a temporary
// collections path, and reads their results through the json callback.
package ansibletest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/notices"
	"github.com/zerodowntime/rolling/tests/progress"
)

// Collection is an installed collection and the environment to run Ansible with.
type Collection struct {
	// CollectionsPath holds ansible_collections/zerodowntime/rolling.
	CollectionsPath string
	// Root is the installed collection's directory.
	Root string
	// Tarball is the collection archive that was installed.
	Tarball string
}

// RemoteCacheDir is where the action plugins keep module builds on a
// host, relative to the remote user's home (plugin_utils/remote_cache.py's
// CACHE_DIR).
const RemoteCacheDir = ".ansible/zerodowntime_rolling"

var (
	installOnce sync.Once
	installed   *Collection
	installErr  error
)

// RepoRoot returns the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Install builds the collection (unless ZDT_COLLECTION names a built tarball)
// and installs it into a temporary collections path, once per test binary.
// It fails the test when ansible-galaxy is missing.
func Install(t testing.TB) *Collection {
	t.Helper()
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Fatalf("ansible-playbook not found: install ansible-core (apt-get install ansible-core); .ci/run does")
	}
	installOnce.Do(func() { installed, installErr = install() })
	if installErr != nil {
		t.Fatalf("installing the collection: %v", installErr)
	}
	return installed
}

func install() (*Collection, error) {
	tarball := os.Getenv("ZDT_COLLECTION")
	if tarball == "" || !fileExists(tarball) {
		var err error
		if tarball, err = build(); err != nil {
			return nil, err
		}
	}
	// One install per tarball content, shared by the test binaries that
	// `go test ./...` runs side by side and by later runs: named by the
	// tarball's hash, made under a lock, published by a rename.
	sum, err := FileSHA256(tarball)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(os.TempDir(), "zdt-collections-"+sum[:16])
	if err := installOnceAt(dir, tarball); err != nil {
		return nil, err
	}
	return &Collection{
		CollectionsPath: dir,
		Root:            filepath.Join(dir, "ansible_collections", "zerodowntime", "rolling"),
		Tarball:         tarball,
	}, nil
}

func installOnceAt(dir, tarball string) error {
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, "ansible_collections", "zerodowntime", "rolling", "MANIFEST.json")); err == nil {
		return nil
	}
	// Installs of tarballs not used for a day are of no further use.
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), "zdt-collections-*"))
	for _, o := range old {
		if st, err := os.Stat(o); err == nil && time.Since(st.ModTime()) > 24*time.Hour {
			os.RemoveAll(o)
		}
	}
	staging := dir + ".staging"
	os.RemoveAll(staging)
	out, err := exec.Command("ansible-galaxy", "collection", "install", "--force", "-p", staging, tarball).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ansible-galaxy collection install %s: %v\n%s", tarball, err, out)
	}
	return os.Rename(staging, dir)
}

// FileSHA256 returns the hex SHA-256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// build runs `make collection` in the repository (which serialises
// concurrent builds itself).
func build() (string, error) {
	root := RepoRoot()
	cmd := exec.Command("make", "-s", "collection")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make collection: %v\n%s", err, out)
	}
	matches, _ := filepath.Glob(filepath.Join(root, "collection", "zerodowntime-rolling-*.tar.gz"))
	if len(matches) == 0 {
		return "", fmt.Errorf("make collection built no tarball in %s/collection", root)
	}
	return matches[len(matches)-1], nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Option adjusts one ansible run.
type Option func(*runConfig)

type runConfig struct {
	deprecationsOK bool
	vars           map[string]any
	inventory      string
	args           []string
	env            []string
	dir            string
	timeout        time.Duration
}

// Vars passes extra variables (-e as JSON).
func Vars(v map[string]any) Option { return func(c *runConfig) { c.vars = v } }

// Inventory uses the given INI or YAML inventory text instead of localhost.
func Inventory(text string) Option { return func(c *runConfig) { c.inventory = text } }

// Check runs in check mode.
func Check() Option { return func(c *runConfig) { c.args = append(c.args, "--check") } }

// Diff shows diffs.
func Diff() Option { return func(c *runConfig) { c.args = append(c.args, "--diff") } }

// Verbose adds -v flags (n of them).
func Verbose(n int) Option {
	return func(c *runConfig) { c.args = append(c.args, "-"+strings.Repeat("v", n)) }
}

// Args adds raw command-line arguments.
func Args(a ...string) Option { return func(c *runConfig) { c.args = append(c.args, a...) } }

// Env adds KEY=VALUE environment variables.
func Env(kv ...string) Option { return func(c *runConfig) { c.env = append(c.env, kv...) } }

// AllowDeprecations lets the run pass with deprecation warnings: for runs
// of other collections' content. By default a deprecation fails the test,
// since the collection must print none on any supported ansible-core.
func AllowDeprecations() Option { return func(c *runConfig) { c.deprecationsOK = true } }

// Timeout bounds the run (default 5 minutes).
func Timeout(d time.Duration) Option { return func(c *runConfig) { c.timeout = d } }

// Run is one finished ansible-playbook run.
type Run struct {
	ExitCode int
	Stdout   string // the json callback's document
	Stderr   string
	Elapsed  time.Duration
	// Notices are the run's warnings and deprecations (tests/notices).
	Notices []notices.Notice
	doc     callbackDoc
}

type callbackDoc struct {
	Plays []struct {
		Tasks []struct {
			Task struct {
				Name     string `json:"name"`
				Duration struct {
					Start time.Time `json:"start"`
					End   time.Time `json:"end"`
				} `json:"duration"`
			} `json:"task"`
			Hosts map[string]map[string]any `json:"hosts"`
		} `json:"tasks"`
	} `json:"plays"`
	Stats map[string]map[string]int `json:"stats"`
}

// Playbook writes playbook (YAML text) to a temporary directory and runs it
// with the json stdout callback. The run's output is logged on failure.
func (e *Collection) Playbook(t testing.TB, playbook string, opts ...Option) *Run {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "playbook.yml")
	if err := os.WriteFile(path, []byte(playbook), 0o644); err != nil {
		t.Fatal(err)
	}
	return e.run(t, dir, "ansible-playbook", []string{path}, opts...)
}

// PlaybookFile runs an existing playbook file (or a collection playbook name
// such as zerodowntime.rolling.deploy).
func (e *Collection) PlaybookFile(t testing.TB, playbook string, opts ...Option) *Run {
	t.Helper()
	return e.run(t, t.TempDir(), "ansible-playbook", []string{playbook}, opts...)
}

func (e *Collection) run(t testing.TB, dir, bin string, args []string, opts ...Option) *Run {
	t.Helper()
	c := runConfig{timeout: 5 * time.Minute, dir: dir}
	for _, o := range opts {
		o(&c)
	}
	inv := c.inventory
	if inv == "" {
		inv = "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
	}
	invPath := filepath.Join(dir, "inventory")
	if err := os.WriteFile(invPath, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	full := append([]string{"-i", invPath}, args...)
	if c.vars != nil {
		b, err := json.Marshal(c.vars)
		if err != nil {
			t.Fatal(err)
		}
		full = append(full, "-e", string(b))
	}
	full = append(full, c.args...)
	cmd := exec.Command(bin, full...)
	cmd.Dir = c.dir
	progressFile := filepath.Join(dir, progress.FileName)
	cmd.Env = append(append(e.Environ(), progress.Env+"="+progressFile), c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(c.timeout):
		// Where it was, read before the kill.
		p, perr := progress.Read(progressFile)
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish within %s; %s (progress file: %v)\nstdout:\n%s\nstderr:\n%s",
			bin, c.timeout, p, perr, stdout.String(), stderr.String())
	}
	r := &Run{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.ExitCode = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	{
		if jerr := parseDoc(stdout.String(), &r.doc); jerr != nil {
			t.Fatalf("%s output is not the json callback's document (%v); exit %d\nstdout:\n%s\nstderr:\n%s", bin,
				jerr, r.ExitCode, stdout.String(), stderr.String())
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s exit %d in %s\nstdout:\n%s\nstderr:\n%s", bin, r.ExitCode, r.Elapsed, r.Stdout, r.Stderr)
		}
	})
	for _, p := range r.doc.Plays {
		for _, task := range p.Tasks {
			r.Notices = append(r.Notices, notices.FromTask(task.Task.Name, task.Hosts)...)
		}
	}
	r.Notices = append(r.Notices, notices.FromStderr(r.Stderr)...)
	if !c.deprecationsOK {
		for _, d := range notices.Deprecations(r.Notices) {
			t.Errorf("%s printed a %s", bin, d)
		}
	}
	return r
}

// parseDoc reads the json callback's document, which follows any verbose
// display lines (-vvv) on stdout.
func parseDoc(out string, doc *callbackDoc) error {
	err := json.Unmarshal([]byte(out), doc)
	if err == nil {
		return nil
	}
	if i := strings.Index(out, "\n{\n"); i >= 0 {
		return json.Unmarshal([]byte(out[i+1:]), doc)
	}
	return err
}

// Environ is the process environment for Ansible commands: the installed
// collection first on the collections path, the json callback, and no
// user configuration files.
func (e *Collection) Environ() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ANSIBLE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env,
		"ANSIBLE_COLLECTIONS_PATH="+e.CollectionsPath,
		"ANSIBLE_STDOUT_CALLBACK=ansible.posix.json", // from Debian's ansible package
		"ANSIBLE_HOST_KEY_CHECKING=false",
		"ANSIBLE_RETRY_FILES_ENABLED=false",
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_LOCALHOST_WARNING=false",
		"ANSIBLE_INVENTORY_UNPARSED_WARNING=false",
		// Shown, so that a test fails on any the collection causes.
		"ANSIBLE_DEPRECATION_WARNINGS=true",
	// zdt_progress writes where the run is to $ZDT_PROGRESS_FILE, when
	// a test sets it.
	), progress.Callback()...)
}

// Task returns the results of the first task named name, per host.
func (r *Run) Task(name string) map[string]map[string]any {
	for _, p := range r.doc.Plays {
		for _, task := range p.Tasks {
			if task.Task.Name == name {
				return task.Hosts
			}
		}
	}
	return nil
}

// Localhost is localhost's result of the first task named name; it fails
// the test when there is none.
func (r *Run) Localhost(t testing.TB, name string) map[string]any {
	t.Helper()
	hosts := r.Task(name)
	if hosts == nil || hosts["localhost"] == nil {
		t.Fatalf("no result for task %q", name)
	}
	return hosts["localhost"]
}

// Tasks returns the results of every task named name, in order, per host.
func (r *Run) Tasks(name string) []map[string]map[string]any {
	var out []map[string]map[string]any
	for _, p := range r.doc.Plays {
		for _, task := range p.Tasks {
			if task.Task.Name == name {
				out = append(out, task.Hosts)
			}
		}
	}
	return out
}

// Stats returns the play recap per host (ok, changed, failures, ...).
func (r *Run) Stats() map[string]map[string]int { return r.doc.Stats }

// AdHoc runs `ansible localhost -m MODULE -a ARGS` and returns the run and
// the module's result.
func (e *Collection) AdHoc(t testing.TB, module, args string, opts ...Option) (*Run, map[string]any) {
	t.Helper()
	r := e.run(t, t.TempDir(), "ansible", []string{"localhost", "-m", module, "-a", args},
		append([]Option{Env("ANSIBLE_LOAD_CALLBACK_PLUGINS=1")}, opts...)...)
	for _, p := range r.doc.Plays {
		for _, task := range p.Tasks {
			return r, task.Hosts["localhost"]
		}
	}
	return r, nil
}

// Steps returns host's results of the deploy role's step-loop items whose
// step is id (the item's first element: "check", "drain_haproxy",
// "verify", ...), in order, from every task of the run.
func (r *Run) Steps(host, id string) []map[string]any {
	var out []map[string]any
	for _, p := range r.doc.Plays {
		for _, task := range p.Tasks {
			items, _ := task.Hosts[host]["results"].([]any)
			for _, it := range items {
				m, _ := it.(map[string]any)
				if pair, _ := m["item"].([]any); len(pair) == 2 && pair[0] == id {
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// Step is host's first result of a step-loop item whose step is id, or nil.
func (r *Run) Step(host, id string) map[string]any {
	if s := r.Steps(host, id); len(s) > 0 {
		return s[0]
	}
	return nil
}
