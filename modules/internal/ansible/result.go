package ansible

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Result is what a module returns. Data holds the module's own return values.
type Result struct {
	Changed bool
	Msg     string
	Diff    *Diff
	Data    map[string]any
}

// Diff is shown by ansible-playbook --diff.
type Diff struct {
	Before       any    `json:"before"`
	After        any    `json:"after"`
	BeforeHeader string `json:"before_header,omitempty"`
	AfterHeader  string `json:"after_header,omitempty"`
}

// finish turns a module's result and error into Ansible's result object.
func (m *Module) finish(w io.Writer, spec Spec, params Params, res Result, err error) int {
	out := map[string]any{}
	for k, v := range res.Data {
		out[k] = v
	}
	out["changed"] = res.Changed
	if res.Msg != "" {
		out["msg"] = res.Msg
	}
	if res.Diff != nil && m.Diff {
		out["diff"] = res.Diff
	}
	if err != nil {
		out["failed"] = true
		out["msg"] = err.Error()
		var e *Error
		if errors.As(err, &e) {
			for k, v := range e.Data {
				out[k] = v
			}
		}
		m.mu.Lock()
		progress := m.progress
		m.mu.Unlock()
		if errors.Is(err, context.DeadlineExceeded) && progress != "" {
			out["msg"] = fmt.Sprintf("%s; state left: %s", err.Error(), progress)
		}
	}
	return m.write(w, out, spec, params)
}

func (m *Module) write(w io.Writer, out map[string]any, spec Spec, params Params) int {
	if _, ok := out["failed"]; !ok {
		out["failed"] = false
	}
	m.mu.Lock()
	if len(m.warnings) > 0 {
		out["warnings"] = m.warnings
	}
	if len(m.deprecations) > 0 {
		out["deprecations"] = m.deprecations
	}
	secrets := append([]string(nil), m.secrets...)
	m.mu.Unlock()
	// Longest first, so that a secret containing another is replaced whole
	// rather than leaving its other part behind.
	sort.SliceStable(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	if params != nil {
		out["invocation"] = map[string]any{"module_args": maskParams(spec, params)}
	}
	// Scrub secrets from everything, the invocation too (another option,
	// such as a URL, may embed a secret), so that no error text, however it
	// was built, carries a secret out. The result's own keys and the option
	// names in invocation are the protocol's and the spec's, not data: a
	// short secret ("a") must not turn "failed" into "f********iled", which
	// Ansible would read as a result without failed.
	clean := make(map[string]any, len(out))
	for k, v := range out {
		inv, _ := v.(map[string]any)
		if args, ok := inv["module_args"].(map[string]any); ok && k == "invocation" && len(inv) == 1 {
			cleanArgs := make(map[string]any, len(args))
			for name, a := range args {
				cleanArgs[name] = scrub(a, secrets)
			}
			clean[k] = map[string]any{"module_args": cleanArgs}
			continue
		}
		clean[k] = scrub(v, secrets)
	}
	return writeResult(w, clean)
}

func writeResult(w io.Writer, out map[string]any) int {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // bodies and messages stay readable: <, >, &
	if err := enc.Encode(out); err != nil {
		buf.Reset()
		enc.Encode(map[string]any{"failed": true, "msg": "cannot encode the module result: " + err.Error()})
		out = map[string]any{"failed": true}
	}
	io.WriteString(w, buf.String())
	if f, _ := out["failed"].(bool); f {
		return 1
	}
	return 0
}
