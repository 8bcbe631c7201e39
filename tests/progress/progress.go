// Package progress reads where a running ansible-playbook is: the file
// that the test-only callback zdt_progress (callback/zdt_progress.py)
// appends a line to at every task start and every host result. The json
// stdout callback the tests read writes nothing until the play ends, so
// this file is how a test that runs out of time tells which step each host
// was in.
//
//	cmd.Env = append(cmd.Env, progress.Environ(path)...)
//	...
//	p, _ := progress.Read(path) // app-2: in "Register" for 41.2s; ...
package progress

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Env names the file zdt_progress writes to; unset, it writes nothing.
const Env = "ZDT_PROGRESS_FILE"

// FileName is what the harnesses call that file in a run's directory.
const FileName = "progress.jsonl"

// Callback is the environment that enables zdt_progress, whatever the
// stdout callback.
func Callback() []string {
	_, file, _, _ := runtime.Caller(0)
	return []string{
		"ANSIBLE_CALLBACK_PLUGINS=" + filepath.Join(filepath.Dir(file), "callback"),
		"ANSIBLE_CALLBACKS_ENABLED=zdt_progress",
	}
}

// Environ is Callback plus the file to write: what an ansible-playbook
// command's environment needs for Read(path) to tell where it is.
func Environ(path string) []string { return append(Callback(), Env+"="+path) }

// progressEvent is one line of the progress file.
type progressEvent struct {
	Event string  `json:"event"` // start, ok, failed, skipped, unreachable
	Host  string  `json:"host"`
	Task  string  `json:"task"`
	Time  float64 `json:"time"` // Unix seconds
}

// Progress is where each host of a run was, as of the last line of its
// progress file.
type Progress struct {
	// Hosts maps a host to its last event.
	Hosts map[string]HostProgress
	// At is when Progress was read.
	At time.Time
}

// HostProgress is a host's last task and what became of it.
type HostProgress struct {
	Task string
	// Event is "start" while the task runs, else its result.
	Event string
	Since time.Time
}

// Read reads a progress file; a missing or empty file is no
// progress (ansible-playbook had not reached a task yet).
func Read(path string) (Progress, error) {
	p := Progress{Hosts: map[string]HostProgress{}, At: time.Now()}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e progressEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Host == "" {
			continue // a line cut short by a kill
		}
		sec, frac := math.Modf(e.Time)
		p.Hosts[e.Host] = HostProgress{Task: e.Task, Event: e.Event, Since: time.Unix(int64(sec), int64(frac*1e9))}
	}
	return p, sc.Err()
}

// String says, host by host, what each was doing: `app-2: in "Register"
// for 41.2s; app-1: "Register" ok 12.0s ago`.
func (p Progress) String() string {
	if len(p.Hosts) == 0 {
		return "no task had started (ansible-playbook was still starting up)"
	}
	hosts := make([]string, 0, len(p.Hosts))
	for h := range p.Hosts {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	parts := make([]string, 0, len(hosts))
	for _, h := range hosts {
		hp := p.Hosts[h]
		ago := p.At.Sub(hp.Since).Round(100 * time.Millisecond)
		if hp.Event == "start" {
			parts = append(parts, fmt.Sprintf("%s: in %q for %s", h, hp.Task, ago))
		} else {
			parts = append(parts, fmt.Sprintf("%s: %q %s %s ago", h, hp.Task, hp.Event, ago))
		}
	}
	return strings.Join(parts, "; ")
}
