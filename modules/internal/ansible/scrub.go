package ansible

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Scrub removes every registered secret from s.
func (m *Module) Scrub(s string) string {
	m.mu.Lock()
	secrets := append([]string(nil), m.secrets...)
	m.mu.Unlock()
	sort.SliceStable(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	return scrubString(s, secrets)
}

// NoLogValue replaces no_log options in invocation, as AnsibleModule does.
const NoLogValue = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

func maskParams(spec Spec, p Params) map[string]any {
	out := make(map[string]any, len(spec.Options))
	for name, o := range spec.Options {
		v, ok := p[name]
		switch {
		case !ok:
			out[name] = nil
		case o.NoLog:
			out[name] = NoLogValue
		default:
			out[name] = v
		}
	}
	return out
}

func scrub(v any, secrets []string) any {
	if len(secrets) == 0 {
		return v
	}
	switch x := v.(type) {
	case string:
		return scrubString(x, secrets)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = scrubString(s, secrets)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrub(e, secrets)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[scrubString(k, secrets)] = scrub(e, secrets)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrub(e, secrets)
		}
		return out
	case nil, bool, int, int64, float64:
		return v
	}
	// Structs and other typed values: round-trip through JSON so their
	// strings are scrubbed too.
	b, err := json.Marshal(v)
	if err != nil {
		return scrubString(fmt.Sprint(v), secrets)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil
	}
	return scrub(generic, secrets)
}

func scrubString(s string, secrets []string) string {
	if s == NoLogValue {
		return s
	}
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "********")
		}
	}
	return s
}
