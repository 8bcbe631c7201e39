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
	// Hosts are the seconds each step took, per host that was drained.
	Hosts map[string]HostTimes `json:"hosts"`
	// VersionsBefore and VersionsAfter are what each host served through
	// the load balancer; a host out of rotation is missing.
	VersionsBefore map[string]string `json:"versions_before"`
	VersionsAfter  map[string]string `json:"versions_after"`
	// DirectAfter is what each app says at /version at the end, asked
	// directly ("down" if it does not answer).
	DirectAfter map[string]string `json:"direct_after"`
	// LBAfter is each host as the load balancer sees it at the end.
	LBAfter map[string]TargetState `json:"lb_after"`
	// ServedByVersion counts ok answers per version.
	ServedByVersion map[string]int64 `json:"served_by_version"`
	// ExitCode is ansible-playbook's.
	ExitCode int `json:"exit_code"`
	// FailedHost and FailedMsg come from the "rollout failed" task.
	FailedHost string `json:"failed_host,omitempty"`
	FailedMsg  string `json:"failed_msg,omitempty"`
	// Drained lists the hosts that have a result for the drain task.
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
}

// TaskResults returns the results of every task named name (with or
// without the role prefix), per host, in order.
func (r *Report) TaskResults(name string) map[string][]map[string]any {
	if r.doc == nil {
		return nil
	}
	return r.doc.results(name)
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

// WriteSummary writes a readable summary, for people.
func (r *Report) WriteSummary(w io.Writer, hostOrder []string) {
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
	fmt.Fprintf(w, "\n%-8s %7s %7s %7s %9s   %-7s %-7s %-7s %s\n", "host", "drain", "deploy", "verify", "register", "before", "after", "direct", "lb")
	for _, h := range hostOrder {
		t, ran := r.Hosts[h]
		cell := func(f float64) string {
			if !ran {
				return "-"
			}
			return fmt.Sprintf("%.1fs", f)
		}
		fmt.Fprintf(w, "%-8s %7s %7s %7s %9s   %-7s %-7s %-7s %s\n", h,
			cell(t.Drain), cell(t.Deploy), cell(t.Verify), cell(t.Register),
			dash(r.VersionsBefore[h]), dash(r.VersionsAfter[h]), dash(r.DirectAfter[h]), dash(r.LBAfter[h].State))
	}
	fmt.Fprintf(w, "\nansible-playbook exit %d after %.1fs\n", r.ExitCode, r.Elapsed)
	if r.FailedMsg != "" {
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

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
