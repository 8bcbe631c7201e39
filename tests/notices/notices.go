// Package notices collects what ansible-playbook warned about in a run: the
// warnings and deprecations that task results carry (where the json stdout
// callback keeps them; ansible-core 2.19 puts its own there too) and the
// [WARNING] and [DEPRECATION WARNING] lines it printed on stderr. The tests
// hold the role and the plugins to printing none, on every supported
// ansible-core.
package notices

import (
	"fmt"
	"sort"
	"strings"
)

// Notice is one warning or deprecation.
type Notice struct {
	Deprecation bool
	// Where is "task NAME on HOST", or "stderr".
	Where string
	Text  string
}

func (n Notice) String() string {
	kind := "warning"
	if n.Deprecation {
		kind = "deprecation"
	}
	return fmt.Sprintf("%s (%s): %s", kind, n.Where, n.Text)
}

// FromResult is the notices of one task's result for one host, and of its
// loop items.
func FromResult(task, host string, result map[string]any) []Notice {
	where := fmt.Sprintf("task %q on %s", task, host)
	var out []Notice
	for _, w := range list(result["warnings"]) {
		out = append(out, Notice{Where: where, Text: text(w)})
	}
	for _, d := range list(result["deprecations"]) {
		out = append(out, Notice{Deprecation: true, Where: where, Text: text(d)})
	}
	for _, item := range list(result["results"]) {
		if m, ok := item.(map[string]any); ok {
			out = append(out, FromResult(task, host, m)...)
		}
	}
	return out
}

// FromTask is the notices of one task's results, host by host in order.
func FromTask(task string, hosts map[string]map[string]any) []Notice {
	names := make([]string, 0, len(hosts))
	for h := range hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	var out []Notice
	for _, h := range names {
		out = append(out, FromResult(task, h, hosts[h])...)
	}
	return out
}

// FromStderr is the notices ansible-playbook printed: a [WARNING] or
// [DEPRECATION WARNING] line and the lines that continue it.
func FromStderr(stderr string) []Notice {
	var out []Notice
	for _, line := range strings.Split(stderr, "\n") {
		switch {
		case strings.HasPrefix(line, "[DEPRECATION WARNING]:"):
			out = append(out, Notice{Deprecation: true, Where: "stderr", Text: strings.TrimSpace(strings.TrimPrefix(line, "[DEPRECATION WARNING]:"))})
		case strings.HasPrefix(line, "[WARNING]:"):
			out = append(out, Notice{Where: "stderr", Text: strings.TrimSpace(strings.TrimPrefix(line, "[WARNING]:"))})
		case len(out) > 0 && strings.HasPrefix(line, " ") && strings.TrimSpace(line) != "":
			out[len(out)-1].Text += " " + strings.TrimSpace(line)
		}
	}
	return out
}

// Deprecations is the deprecations among ns.
func Deprecations(ns []Notice) []Notice {
	var out []Notice
	for _, n := range ns {
		if n.Deprecation {
			out = append(out, n)
		}
	}
	return out
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// text is a warning's or deprecation's words: a string, or the msg of a
// deprecation's {msg, version} object.
func text(v any) string {
	if m, ok := v.(map[string]any); ok {
		if msg, ok := m["msg"].(string); ok {
			return msg
		}
	}
	return fmt.Sprint(v)
}
