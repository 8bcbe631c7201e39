package rollout

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/zerodowntime/rolling/tests/notices"
)

// Report is what a rollout under load looked like: the clients' counts, the
// playbook's result and per-host step times. make demo prints it as JSON.
type Report struct {
	LB       string `json:"lb"`
	Requests int64  `json:"requests"`
	Failed   int64  `json:"failed"`
	// Slow counts the /slow requests among Requests.
	Slow int64 `json:"slow_requests"`
	// Errors are the first failed requests.
	Errors []string `json:"errors"`
	// Hosts are the seconds each step took, per host that ran a step, from
	// the rollout callback's summary (Summary).
	Hosts map[string]HostTimes `json:"hosts"`
	// Summary is the rollout callback's JSON summary, Table its table;
	// nil and empty when the Playbook did not enable it.
	Summary *Summary `json:"summary,omitempty"`
	Table   string   `json:"-"`
	// FailedByHost and FailedSpan are the clients' failed answers that an
	// app sent itself, per host and version, and when they came.
	FailedByHost map[string]map[string]int64 `json:"failed_by_host,omitempty"`
	FailedSpan   map[string][2]float64       `json:"failed_span,omitempty"`
	// VersionsBefore and VersionsAfter are what each host served through
	// the load balancer; a host out of rotation is missing.
	VersionsBefore map[string]string `json:"versions_before"`
	VersionsAfter  map[string]string `json:"versions_after"`
	// DirectAfter is what each app says at /version at the end, asked
	// directly ("down" if it does not answer).
	DirectAfter map[string]string `json:"direct_after"`
	// LBAfter is each host as the load balancer sees it at the end.
	LBAfter map[string]TargetState `json:"lb_after"`
	// ServedByVersion counts ok answers per version, ServedByHost per
	// host and version.
	ServedByVersion map[string]int64            `json:"served_by_version"`
	ServedByHost    map[string]map[string]int64 `json:"served_by_host,omitempty"`
	// ExitCode is ansible-playbook's.
	ExitCode int `json:"exit_code"`
	// FailedHost and FailedMsg come from the "rollout failed" task.
	FailedHost string `json:"failed_host,omitempty"`
	FailedMsg  string `json:"failed_msg,omitempty"`
	// Drained lists the hosts that went through a drain item (any, even
	// one that failed).
	Drained []string `json:"drained"`
	// Elapsed is the whole run in seconds, load included.
	Elapsed float64 `json:"elapsed"`

	Naive  bool              `json:"naive,omitempty"`
	Broken map[string]string `json:"broken,omitempty"`
	Stderr string            `json:"-"`
	doc    *callbackDoc
}

func (r *Report) fillLoad(s LoadStats) {
	r.Requests, r.Failed, r.Slow = s.Requests, s.Failed, s.Slow
	r.Errors = s.Errors
	if r.Errors == nil {
		r.Errors = []string{}
	}
	r.ServedByVersion = s.ByVersion
	r.ServedByHost, r.FailedByHost, r.FailedSpan = s.ByHost, s.FailedByHost, s.FailedSpan
}

// TaskResults returns the results of every task named name (with or
// without the role prefix), per host, in order.
func (r *Report) TaskResults(name string) map[string][]map[string]any {
	if r.doc == nil {
		return nil
	}
	return r.doc.results(name)
}

// StepResults returns, per host, the results of the deploy role's
// step-loop items whose step is one of ids, in order, those that ran.
func (r *Report) StepResults(ids ...string) map[string][]map[string]any {
	if r.doc == nil {
		return nil
	}
	return r.doc.steps(ids...)
}

// Notices are the run's warnings and deprecations, from every task's
// results and from stderr.
func (r *Report) Notices() []notices.Notice {
	var out []notices.Notice
	if r.doc != nil {
		for _, p := range r.doc.Plays {
			for _, t := range p.Tasks {
				out = append(out, notices.FromTask(t.Task.Name, t.Hosts)...)
			}
		}
	}
	return append(out, notices.FromStderr(r.Stderr)...)
}

// OK reports a clean zero-downtime rollout: the playbook succeeded and no
// request failed.
func (r *Report) OK() bool { return r.ExitCode == 0 && r.Failed == 0 && r.Requests > 0 }

// JSON is the report on one line.
func (r *Report) JSON() string {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Sprintf(`{"error":%q}`, err.Error())
	}
	return string(b)
}

// WriteSummary writes a readable summary, for people: the rollout
// callback's table of what each host went through, then what only the
// harness knows: what the clients saw, and each host's state at the end.
func (r *Report) WriteSummary(w io.Writer, hostOrder []string) {
	if r.Table != "" {
		fmt.Fprintf(w, "\n%s\n", r.Table)
	}
	fmt.Fprintf(w, "\nload balancer   %s\n", r.LB)
	fmt.Fprintf(w, "requests        %d sent (%d slow), %d failed\n", r.Requests, r.Slow, r.Failed)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  failed        %s\n", e)
	}
	if len(r.ServedByVersion) > 0 {
		var parts []string
		for _, v := range sortedKeys(r.ServedByVersion) {
			parts = append(parts, fmt.Sprintf("%s %d", v, r.ServedByVersion[v]))
		}
		fmt.Fprintf(w, "served          %s\n", strings.Join(parts, ", "))
	}
	for _, line := range r.badWindows() {
		fmt.Fprintf(w, "bad release     %s\n", line)
	}
	fmt.Fprintf(w, "\n%-8s %-7s %-7s %-7s %s\n", "host", "before", "after", "direct", "lb (as the clients and the load balancer saw them)")
	for _, h := range hostOrder {
		fmt.Fprintf(w, "%-8s %-7s %-7s %-7s %s\n", h,
			dash(r.VersionsBefore[h]), dash(r.VersionsAfter[h]), dash(r.DirectAfter[h]), dash(r.LBAfter[h].State))
	}
	fmt.Fprintf(w, "\nansible-playbook exit %d after %.1fs\n", r.ExitCode, r.Elapsed)
	if r.FailedMsg != "" && r.Table == "" {
		fmt.Fprintf(w, "rollout failed on %s: %s\n", r.FailedHost, r.FailedMsg)
	}
	switch {
	case r.OK():
		fmt.Fprintf(w, "zero downtime: %d requests, none failed\n", r.Requests)
	case r.Failed > 0:
		fmt.Fprintf(w, "DOWNTIME: %d of %d requests failed\n", r.Failed, r.Requests)
	default:
		fmt.Fprintf(w, "rollout failed; users saw no failed request\n")
	}
}

// badWindows says, per host whose app failed requests itself, how many
// requests its bad version answered, how many failed, and over how long,
// against the watch window that ended it.
func (r *Report) badWindows() []string {
	var out []string
	for _, h := range sortedKeys(r.FailedByHost) {
		for _, v := range sortedKeys(r.FailedByHost[h]) {
			failed := r.FailedByHost[h][v]
			span := r.FailedSpan[h]
			line := fmt.Sprintf("%s %s answered %d requests, %d of them failed, from +%.1fs to +%.1fs (%.1f s)",
				h, v, failed+r.ServedByHost[h][v], failed, span[0], span[1], span[1]-span[0])
			if win := r.watchWindow(h); win > 0 {
				line += fmt.Sprintf("; the watch window is %.0f s", win)
			}
			out = append(out, line)
		}
	}
	return out
}

// watchWindow is the window of the host's first watch, 0 without one.
func (r *Report) watchWindow(host string) float64 {
	if r.Summary != nil {
		for _, h := range r.Summary.Hosts {
			if h.Name == host && len(h.Watch) > 0 {
				return h.Watch[0].Window
			}
		}
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
