package sim

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// codeMatcher reports whether an HTTP status passes a health check.
type codeMatcher func(code int) bool

// parseMatcher reads an ELBv2 HttpCode matcher: "200", "200,302",
// "200-299".
func parseMatcher(s string) (codeMatcher, error) {
	type span struct{ lo, hi int }
	var spans []span
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 200 || b > 599 || a > b {
			return nil, fmt.Errorf("HttpCode matcher %q: use codes 200-599 like \"200\", \"200,302\" or \"200-299\"", s)
		}
		spans = append(spans, span{a, b})
	}
	return func(code int) bool {
		for _, sp := range spans {
			if code >= sp.lo && code <= sp.hi {
				return true
			}
		}
		return false
	}, nil
}

// statusPatterns builds a matcher from Hetzner status_codes patterns such
// as "2??" and "30*".
func statusPatterns(pats []string) codeMatcher {
	return func(code int) bool {
		c := strconv.Itoa(code)
		for _, p := range pats {
			if ok, _ := path.Match(p, c); ok {
				return true
			}
		}
		return false
	}
}

// selector is a parsed Hetzner label selector: requirements ANDed.
type selector []requirement

type requirement struct {
	key    string
	op     string // "=", "!=", "exists", "!exists", "in", "notin"
	values []string
}

// parseSelector reads Hetzner's label selector syntax: "k=v", "k==v",
// "k!=v", "k", "!k", "k in (a,b)", "k notin (a,b)", joined by commas.
func parseSelector(s string) (selector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("label selector is empty; use e.g. \"role=web\"")
	}
	var parts []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, s[start:])
	var sel selector
	for _, p := range parts {
		p = strings.TrimSpace(p)
		var r requirement
		switch {
		case strings.Contains(p, "!="):
			k, v, _ := strings.Cut(p, "!=")
			r = requirement{strings.TrimSpace(k), "!=", []string{strings.TrimSpace(v)}}
		case strings.Contains(p, "=="):
			k, v, _ := strings.Cut(p, "==")
			r = requirement{strings.TrimSpace(k), "=", []string{strings.TrimSpace(v)}}
		case strings.Contains(p, "="):
			k, v, _ := strings.Cut(p, "=")
			r = requirement{strings.TrimSpace(k), "=", []string{strings.TrimSpace(v)}}
		case strings.Contains(p, " notin "), strings.Contains(p, " in "):
			op := " in "
			if strings.Contains(p, " notin ") {
				op = " notin "
			}
			k, list, _ := strings.Cut(p, op)
			list = strings.TrimSpace(list)
			if !strings.HasPrefix(list, "(") || !strings.HasSuffix(list, ")") {
				return nil, fmt.Errorf("label selector %q: %q needs a list like (a,b)", s, p)
			}
			var vals []string
			for _, v := range strings.Split(list[1:len(list)-1], ",") {
				vals = append(vals, strings.TrimSpace(v))
			}
			r = requirement{strings.TrimSpace(k), strings.TrimSpace(op), vals}
		case strings.HasPrefix(p, "!"):
			r = requirement{strings.TrimSpace(p[1:]), "!exists", nil}
		default:
			r = requirement{p, "exists", nil}
		}
		if r.key == "" || strings.ContainsAny(r.key, " ()!=") {
			return nil, fmt.Errorf("label selector %q: cannot read %q; use e.g. \"role=web,env!=dev\"", s, p)
		}
		sel = append(sel, r)
	}
	return sel, nil
}

// matches reports whether labels satisfy every requirement.
func (sel selector) matches(labels map[string]string) bool {
	for _, r := range sel {
		v, ok := labels[r.key]
		switch r.op {
		case "=":
			if !ok || v != r.values[0] {
				return false
			}
		case "!=":
			if ok && v == r.values[0] {
				return false
			}
		case "exists":
			if !ok {
				return false
			}
		case "!exists":
			if ok {
				return false
			}
		case "in", "notin":
			in := ok && contains(r.values, v)
			if in != (r.op == "in") {
				return false
			}
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
