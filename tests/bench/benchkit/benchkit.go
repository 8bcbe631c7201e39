// Package benchkit holds what the benchmarks under tests/bench share: the
// ZDT_BENCH gate, task timings from the json callback, a probe endpoint that
// playbooks read between tasks, medians and plain-text tables.
package benchkit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Gate skips the test unless ZDT_BENCH=1 (make bench).
func Gate(t testing.TB) {
	t.Helper()
	if os.Getenv("ZDT_BENCH") != "1" {
		t.Skip("benchmark: set ZDT_BENCH=1 (make bench)")
	}
}

// Task is one task of a finished run, as the json callback reports it.
type Task struct {
	Name       string
	Start, End time.Time
	Hosts      map[string]map[string]any
}

// Duration is End - Start.
func (t Task) Duration() time.Duration { return t.End.Sub(t.Start) }

// Tasks reads every task of every play, in order, from the json callback's
// document (which may follow -v display lines).
func Tasks(stdout string) ([]Task, error) {
	var doc struct {
		Plays []struct {
			Tasks []struct {
				Task struct {
					Name     string `json:"name"`
					Duration struct {
						Start, End time.Time
					} `json:"duration"`
				} `json:"task"`
				Hosts map[string]map[string]any `json:"hosts"`
			} `json:"tasks"`
		} `json:"plays"`
	}
	err := json.Unmarshal([]byte(stdout), &doc)
	if err != nil {
		i := strings.Index(stdout, "\n{\n")
		if i < 0 {
			return nil, err
		}
		if err = json.Unmarshal([]byte(stdout[i+1:]), &doc); err != nil {
			return nil, err
		}
	}
	var out []Task
	for _, p := range doc.Plays {
		for _, t := range p.Tasks {
			out = append(out, Task{Name: t.Task.Name, Start: t.Task.Duration.Start, End: t.Task.Duration.End, Hosts: t.Hosts})
		}
	}
	return out, nil
}

// Median of ds (the upper one of an even count); 0 for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// Mean of ds; 0 for none.
func Mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// Ms formats d in milliseconds, "-" for a negative d (not measured).
func Ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

// Secs formats d in seconds with two decimals.
func Secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// Ratio is a/b as "4.20x", "-" when b is 0.
func Ratio(a, b time.Duration) string {
	if b <= 0 || a < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

// Bytes formats n as B, KiB or MiB.
func Bytes(n int64) string {
	switch {
	case n < 0:
		return "-"
	case n < 10<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

// Table is a plain-text table with a title; columns after the first are
// right-aligned.
type Table struct {
	Title string
	Head  []string
	Rows  [][]string
	Notes []string
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// String renders the table.
func (t *Table) String() string {
	w := make([]int, len(t.Head))
	for _, r := range append([][]string{t.Head}, t.Rows...) {
		for i, c := range r {
			if i < len(w) && len(c) > w[i] {
				w[i] = len(c)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n", t.Title)
	line := func(r []string) {
		for i, c := range r {
			if i >= len(w) {
				break
			}
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", w[i], c)
			} else {
				fmt.Fprintf(&b, "  %*s", w[i], c)
			}
		}
		b.WriteString("\n")
	}
	line(t.Head)
	total := 0
	for _, x := range w {
		total += x + 2
	}
	b.WriteString(strings.Repeat("-", total-2) + "\n")
	for _, r := range t.Rows {
		line(r)
	}
	for _, n := range t.Notes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	return b.String()
}

// Print writes the table to stdout (go test -v shows it in order with the
// other benchmarks' tables).
func (t *Table) Print() { fmt.Print(t.String()) }

// Probe is an HTTP endpoint that a playbook reads between tasks, through
// the controller-side url lookup (no remote work, so it does not disturb
// what is timed), to snapshot counters kept in the test process.
type Probe struct {
	URL string
	mu  sync.Mutex
	fn  func() map[string]any
}

// NewProbe serves fn's result as JSON until the test ends.
func NewProbe(t testing.TB, fn func() map[string]any) *Probe {
	p := &Probe{fn: fn}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		f := p.fn
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f())
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Set replaces the function the probe serves.
func (p *Probe) Set(fn func() map[string]any) {
	p.mu.Lock()
	p.fn = fn
	p.mu.Unlock()
}

// ProbeTask is a task that stores the probe's answer as the fact name
// on the controller; its result's ansible_facts hold the snapshot.
func ProbeTask(taskName, probeURL string) string {
	return fmt.Sprintf("    - name: %s\n      ansible.builtin.set_fact:\n        probe: \"{{ lookup('ansible.builtin.url', '%s', split_lines=False) | from_json }}\"\n",
		taskName, probeURL)
}

// ProbeValue reads a number from a probe task's result for host.
func ProbeValue(task Task, host string, path ...string) float64 {
	var cur any = task.Hosts[host]
	for _, p := range append([]string{"ansible_facts", "probe"}, path...) {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0
		}
		cur = m[p]
	}
	f, _ := cur.(float64)
	return f
}
