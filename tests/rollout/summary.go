package rollout

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SummaryFileName is where, in a run's directory, ExecPlaybook has the
// collection's rollout callback write its JSON summary.
const SummaryFileName = "rollout.json"

// rolloutCallback enables the collection's summary callback beside
// zdt_progress (ANSIBLE_CALLBACKS_ENABLED takes one list) and names the
// file it writes.
func rolloutCallback(dir string) []string {
	return []string{
		"ANSIBLE_CALLBACKS_ENABLED=zdt_progress,zerodowntime.rolling.rollout",
		"ZDT_ROLLOUT_JSON=" + filepath.Join(dir, SummaryFileName),
	}
}

// Summary is the document the zerodowntime.rolling.rollout callback
// writes (plugins/callback/rollout.py), schema version 1.
type Summary struct {
	Version   int            `json:"version"`
	Playbook  string         `json:"playbook"`
	CheckMode bool           `json:"check_mode"`
	Elapsed   float64        `json:"elapsed"`
	OK        bool           `json:"ok"`
	Failed    *SummaryFailed `json:"failed"`
	Untouched []string       `json:"untouched"`
	Hosts     []SummaryHost  `json:"hosts"`
}

// SummaryFailed is the first host that failed, where and why.
type SummaryFailed struct {
	Host   string `json:"host"`
	Phase  string `json:"phase"`
	Step   string `json:"step"`
	Reason string `json:"reason"`
}

// SummaryHost is one host of the summary: seconds per step of each phase
// (deploy, rollback, undo), the versions deploy_verify saw, the load
// balancers it is in and what each watch of it saw.
type SummaryHost struct {
	Name          string                        `json:"name"`
	Status        string                        `json:"status"` // ok, failed or untouched
	Phases        map[string]map[string]float64 `json:"phases"`
	VersionBefore string                        `json:"version_before"`
	VersionAfter  string                        `json:"version_after"`
	LoadBalancers []struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
		On   string `json:"on"`
	} `json:"load_balancers"`
	FailedStep string         `json:"failed_step"`
	Reason     string         `json:"reason"`
	Watch      []SummaryWatch `json:"watch"`
}

// SummaryWatch is one deploy_watch result.
type SummaryWatch struct {
	Passed  *bool            `json:"passed"`
	Window  float64          `json:"window"`
	Elapsed float64          `json:"elapsed"`
	Signals []map[string]any `json:"signals"`
	Msg     string           `json:"msg"`
}

// ReadSummary reads the callback's JSON file.
func ReadSummary(path string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the rollout callback's summary: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("the rollout callback's summary %s: %w", path, err)
	}
	if s.Version != 1 {
		return nil, fmt.Errorf("the rollout callback's summary %s: version %d, want 1", path, s.Version)
	}
	return &s, nil
}

// hostTimes are the deploy phase's step times of every host that ran a
// step.
func (s *Summary) hostTimes() map[string]HostTimes {
	out := map[string]HostTimes{}
	for _, h := range s.Hosts {
		st, ok := h.Phases["deploy"]
		if !ok {
			continue
		}
		out[h.Name] = HostTimes{Drain: st["drain"], Deploy: st["deploy"], Verify: st["verify"],
			Register: st["register"], Watch: st["watch"]}
	}
	return out
}

// summaryTable is the callback's table: what follows the json callback's
// document on stdout, from its title on.
func summaryTable(rest string) string {
	if i := strings.Index(rest, "ROLLOUT SUMMARY"); i >= 0 {
		return strings.TrimRight(rest[i:], "\n")
	}
	return ""
}
