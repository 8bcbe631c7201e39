package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/tests/progress"
)

// DeployPlaybook is the collection playbook the harness runs.
const DeployPlaybook = "zerodowntime.rolling.deploy"

// PlaybookRun is a finished ansible-playbook run with the json callback.
type PlaybookRun struct {
	ExitCode int
	// Stdout is the json callback's document.
	Stdout string
	Stderr string
}

// Playbook runs the deploy playbook against an inventory (YAML text) with
// extra variables. Tests run it through tests/ansibletest; make demo through
// ExecPlaybook.
type Playbook func(ctx context.Context, inventory string, vars map[string]any) (PlaybookRun, error)

// InstallCollection installs the collection tarball into dir and returns the
// collections path to give Ansible.
func InstallCollection(ctx context.Context, tarball, dir string) (string, error) {
	if _, err := os.Stat(tarball); err != nil {
		return "", fmt.Errorf("collection tarball: %w (run make collection first)", err)
	}
	out, err := exec.CommandContext(ctx, "ansible-galaxy", "collection", "install", "--force", "-p", dir, tarball).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ansible-galaxy collection install %s: %v\n%s", tarball, err, out)
	}
	return dir, nil
}

// FindTarball returns the newest built collection tarball in the
// repository's collection/ directory, or ZDT_COLLECTION when it is set.
func FindTarball() (string, error) {
	if t := os.Getenv("ZDT_COLLECTION"); t != "" {
		if _, err := os.Stat(t); err == nil {
			return t, nil
		}
	}
	matches, _ := filepath.Glob(filepath.Join(RepoRoot(), "collection", "zerodowntime-rolling-*.tar.gz"))
	if len(matches) == 0 {
		return "", errors.New("no collection/zerodowntime-rolling-*.tar.gz: run make collection first")
	}
	sort.Slice(matches, func(i, j int) bool {
		a, _ := os.Stat(matches[i])
		b, _ := os.Stat(matches[j])
		return a.ModTime().Before(b.ModTime())
	})
	return matches[len(matches)-1], nil
}

// AnsibleEnv is the environment for ansible-playbook: the installed
// collection on the collections path, the json callback and no user
// configuration (the same as tests/ansibletest).
func AnsibleEnv(collectionsPath string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ANSIBLE_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"ANSIBLE_COLLECTIONS_PATH="+collectionsPath,
		"ANSIBLE_STDOUT_CALLBACK=ansible.posix.json",
		"ANSIBLE_HOST_KEY_CHECKING=false",
		"ANSIBLE_RETRY_FILES_ENABLED=false",
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_LOCALHOST_WARNING=false",
		"ANSIBLE_INVENTORY_UNPARSED_WARNING=false",
		// Shown: Report.Notices carries them, and the tests fail on any.
		"ANSIBLE_DEPRECATION_WARNINGS=true",
	)
}

// ExecPlaybook runs ansible-playbook with the collection installed at
// collectionsPath, writing the inventory into dir; args (such as --check)
// go before the playbook's name.
func ExecPlaybook(collectionsPath, dir string, args ...string) Playbook {
	return func(ctx context.Context, inventory string, vars map[string]any) (PlaybookRun, error) {
		inv := filepath.Join(dir, "inventory.yml")
		if err := os.WriteFile(inv, []byte(inventory), 0o644); err != nil {
			return PlaybookRun{}, err
		}
		ev, err := json.Marshal(vars)
		if err != nil {
			return PlaybookRun{}, err
		}
		argv := append([]string{"-i", inv, "-e", string(ev)}, args...)
		cmd := exec.CommandContext(ctx, "ansible-playbook", append(argv, DeployPlaybook)...)
		cmd.Dir = dir
		cmd.Env = append(AnsibleEnv(collectionsPath), progress.Environ(filepath.Join(dir, progress.FileName))...)
		cmd.Env = append(cmd.Env, rolloutCallback(dir)...)
		// A Ctrl-C reaches ansible-playbook through the terminal anyway;
		// on a cancelled ctx it gets the same SIGINT, then a kill.
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = 10 * time.Second
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err = cmd.Run()
		run := PlaybookRun{Stdout: stdout.String(), Stderr: stderr.String()}
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			run.ExitCode = ee.ExitCode()
		case err != nil:
			return run, fmt.Errorf("ansible-playbook: %w", err)
		}
		return run, nil
	}
}

// callbackDoc is the part of the json callback's document the report needs.
type callbackDoc struct {
	Plays []struct {
		Tasks []callbackTask `json:"tasks"`
	} `json:"plays"`
	Stats map[string]map[string]int `json:"stats"`
}

type callbackTask struct {
	Task struct {
		Name     string `json:"name"`
		Duration struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"duration"`
	} `json:"task"`
	Hosts map[string]map[string]any `json:"hosts"`
}

// parseCallback reads the json callback's document, which follows any
// warning lines on stdout, and returns what follows it (the rollout
// callback's table).
func parseCallback(out string) (*callbackDoc, string, error) {
	start := 0
	if !strings.HasPrefix(out, "{") {
		if i := strings.Index(out, "\n{\n"); i >= 0 {
			start = i + 1
		}
	}
	var doc callbackDoc
	dec := json.NewDecoder(strings.NewReader(out[start:]))
	if err := dec.Decode(&doc); err != nil {
		return nil, "", fmt.Errorf("ansible-playbook output is not the json callback's document: %w", err)
	}
	return &doc, out[start+int(dec.InputOffset()):], nil
}

// taskIs matches a task name with or without the role prefix the json
// callback adds ("zerodowntime.rolling.deploy : Drain"), ignoring case.
func taskIs(full, name string) bool {
	full, name = strings.ToLower(full), strings.ToLower(name)
	return full == name || strings.HasSuffix(full, " : "+name)
}

// results returns every result of the tasks named name, per host, in order.
func (d *callbackDoc) results(name string) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, p := range d.Plays {
		for _, t := range p.Tasks {
			if taskIs(t.Task.Name, name) {
				for h, r := range t.Hosts {
					out[h] = append(out[h], r)
				}
			}
		}
	}
	return out
}

// steps returns, per host, the results of the deploy role's step-loop
// items (the role's take-out and put-back tasks) whose step is one of ids
// ("drain_haproxy", "plan", ...), in order; items that did not run (skipped)
// are left out.
func (d *callbackDoc) steps(ids ...string) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, p := range d.Plays {
		for _, t := range p.Tasks {
			for h, r := range t.Hosts {
				items, _ := r["results"].([]any)
				for _, it := range items {
					m, _ := it.(map[string]any)
					pair, _ := m["item"].([]any)
					if len(pair) == 2 && slices.Contains(ids, fmt.Sprint(pair[0])) && m["skipped"] != true {
						out[h] = append(out[h], m)
					}
				}
			}
		}
	}
	return out
}

// HostTimes is how long each step of the rollout took on one host, in
// seconds, as the rollout callback timed them: the sum of the step's
// tasks (those whose _deploy_step names it) in the deploy phase.
type HostTimes struct {
	Drain    float64 `json:"drain"`
	Deploy   float64 `json:"deploy"`
	Verify   float64 `json:"verify"`
	Register float64 `json:"register"`
	Watch    float64 `json:"watch"`
}

// failure is the msg of the "rollout failed" task, or else of the first
// failed task (or unreachable host), with the host it names.
func (d *callbackDoc) failure() (host, msg string) {
	for h, rs := range d.results("rollout failed") {
		for _, r := range rs {
			if m, ok := r["msg"].(string); ok {
				return h, m
			}
		}
	}
	for _, p := range d.Plays {
		for _, t := range p.Tasks {
			for _, h := range sortedKeys(t.Hosts) {
				r := t.Hosts[h]
				f, _ := r["failed"].(bool)
				u, _ := r["unreachable"].(bool)
				if (f || u) && r["ignore_errors"] != true {
					m, _ := r["msg"].(string)
					return h, fmt.Sprintf("task %q: %s", t.Task.Name, m)
				}
			}
		}
	}
	return "", ""
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
