package ansible

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Params are validated module options keyed by canonical name. Options that
// were neither given nor defaulted are absent.
type Params map[string]any

// validate checks raw user options against the spec and returns the
// canonical, converted parameters. The checks run in a fixed order so the
// same bad input always yields the same first error.
func (s Spec) validate(raw map[string]any) (Params, []string, error) {
	var warnings []string

	// 1. Unsupported options, reported as AnsibleModule does.
	var unsupported []string
	for k := range raw {
		if _, _, ok := s.option(k); !ok {
			unsupported = append(unsupported, k)
		}
	}
	if len(unsupported) > 0 {
		sort.Strings(unsupported)
		return nil, nil, fmt.Errorf("Unsupported parameters for (%s) module: %s. Supported parameters include: %s.",
			s.Name, strings.Join(unsupported, ", "), s.supported())
	}

	// 2. Aliases: fold onto canonical names; the canonical name wins.
	p := Params{}
	for _, k := range sortedKeys(raw) {
		canon, _, _ := s.option(k)
		if k != canon {
			if _, both := raw[canon]; both {
				warnings = append(warnings, fmt.Sprintf("Both option %s and its alias %s are set.", canon, k))
				continue
			}
		}
		if raw[k] == nil {
			continue
		}
		p[canon] = raw[k]
	}

	// 3. Environment fallback for options not given.
	for _, name := range sortedKeys(s.Options) {
		if _, ok := p[name]; ok {
			continue
		}
		for _, env := range s.Options[name].EnvFallback {
			if v, ok := os.LookupEnv(env); ok {
				p[name] = v
				break
			}
		}
	}

	// 4. Mutually exclusive groups, on what the user gave.
	for _, group := range s.MutuallyExclusive {
		if given := p.given(group); len(given) > 1 {
			return nil, warnings, fmt.Errorf("parameters are mutually exclusive: %s", strings.Join(group, "|"))
		}
	}

	// 5. Required options.
	var missing []string
	for _, name := range sortedKeys(s.Options) {
		if _, ok := p[name]; !ok && s.Options[name].Required {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, warnings, fmt.Errorf("missing required arguments: %s", strings.Join(missing, ", "))
	}

	// 6. Types, then choices.
	for _, name := range sortedKeys(p) {
		o := s.Options[name]
		v, err := convert(p[name], o.Type, o.Elements)
		if err != nil {
			return nil, warnings, fmt.Errorf("argument '%s' is of type %s and we were unable to convert to %s: %v",
				name, typeName(p[name]), o.typeLabel(), err)
		}
		if o.Type == Str && !isString(p[name]) {
			warnings = append(warnings, fmt.Sprintf("The value %v (type %s) in a string field was converted to %q (type string). If this does not look like what you expect, quote the entire value to ensure it does not change.",
				p[name], typeName(p[name]), v))
		}
		p[name] = v
		if len(o.Choices) > 0 {
			if err := checkChoices(name, v, o.Choices); err != nil {
				return nil, warnings, err
			}
		}
	}

	// 7. Defaults.
	for _, name := range sortedKeys(s.Options) {
		o := s.Options[name]
		if _, ok := p[name]; ok || o.Default == nil {
			continue
		}
		v, err := convert(o.Default, o.Type, o.Elements)
		if err != nil {
			panic(fmt.Sprintf("spec default of %s: %v", name, err)) // a programming error, caught by tests
		}
		p[name] = v
	}

	// 8. Dependencies between options.
	for _, group := range s.RequiredTogether {
		if given := p.given(group); len(given) > 0 && len(given) < len(group) {
			return nil, warnings, fmt.Errorf("parameters are required together: %s", strings.Join(group, ", "))
		}
	}
	for _, group := range s.RequiredOneOf {
		if len(p.given(group)) == 0 {
			return nil, warnings, fmt.Errorf("one of the following is required: %s", strings.Join(group, ", "))
		}
	}
	for _, r := range s.RequiredIf {
		v, ok := p[r.Key]
		if !ok || fmt.Sprint(v) != fmt.Sprint(r.Value) {
			continue
		}
		var absent []string
		for _, n := range r.Need {
			if _, ok := p[n]; !ok {
				absent = append(absent, n)
			}
		}
		if (r.AnyOf && len(absent) == len(r.Need)) || (!r.AnyOf && len(absent) > 0) {
			quant := "all"
			if r.AnyOf {
				quant = "any"
			}
			return nil, warnings, fmt.Errorf("%s is %v but %s of the following are missing: %s",
				r.Key, r.Value, quant, strings.Join(absent, ", "))
		}
	}
	return p, warnings, nil
}

// supported lists option names, then aliases in parentheses, as Ansible does.
func (s Spec) supported() string {
	var names, aliases []string
	for n, o := range s.Options {
		names = append(names, n)
		aliases = append(aliases, o.Aliases...)
	}
	sort.Strings(names)
	sort.Strings(aliases)
	out := strings.Join(names, ", ")
	if len(aliases) > 0 {
		out += " (" + strings.Join(aliases, ", ") + ")"
	}
	return out
}

func (p Params) given(names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := p[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

func (o Option) typeLabel() string {
	if o.Type == List && o.Elements != "" && o.Elements != Raw {
		return "list of " + string(o.Elements)
	}
	return string(o.Type)
}

func checkChoices(name string, v any, choices []string) error {
	vals := []any{v}
	if l, ok := v.([]any); ok {
		vals = l
	}
	for _, x := range vals {
		s := fmt.Sprint(x)
		found := false
		for _, c := range choices {
			if c == s {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("value of %s must be one of: %s, got: %s", name, strings.Join(choices, ", "), s)
		}
	}
	return nil
}

// convert applies AnsibleModule's type conversion to one value.
func convert(v any, t Type, elements Type) (any, error) {
	switch t {
	case Str:
		return toStr(v)
	case Path:
		s, err := toStr(v)
		if err != nil {
			return nil, err
		}
		return expandPath(s), nil
	case Int:
		return toInt(v)
	case Float:
		return toFloat(v)
	case Bool:
		return toBool(v)
	case List:
		l, err := toList(v)
		if err != nil {
			return nil, err
		}
		if elements == "" || elements == Raw {
			return l, nil
		}
		out := make([]any, len(l))
		for i, e := range l {
			c, err := convert(e, elements, "")
			if err != nil {
				return nil, fmt.Errorf("element %d: %v", i, err)
			}
			out[i] = c
		}
		return out, nil
	case Dict:
		return toDict(v)
	case Raw, "":
		return normalizeNumbers(v), nil
	}
	return nil, fmt.Errorf("unknown option type %q", t)
}

func isString(v any) bool { _, ok := v.(string); return ok }

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "str"
	case bool:
		return "bool"
	case json.Number:
		if strings.ContainsAny(string(v.(json.Number)), ".eE") {
			return "float"
		}
		return "int"
	case float64:
		return "float"
	case int, int64:
		return "int"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	case nil:
		return "None"
	}
	return fmt.Sprintf("%T", v)
}

func toStr(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		if x {
			return "True", nil // Python's str(True), as AnsibleModule converts it
		}
		return "False", nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(x), nil
	case []any, map[string]any:
		b, err := json.Marshal(x)
		return string(b), err
	}
	return "", fmt.Errorf("%v is not a string", v)
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		return 0, fmt.Errorf("%s is not a whole number", x)
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) {
			return int64(x), nil
		}
		return 0, fmt.Errorf("%v is not a whole number", x)
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", x)
		}
		return i, nil
	}
	return 0, fmt.Errorf("a %s cannot be converted to an int", typeName(v))
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return x.Float64()
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("a %s cannot be converted to a float", typeName(v))
}

// Booleans as AnsibleModule accepts them (module_utils.parsing.convert_bool).
var (
	truthy = map[string]bool{"y": true, "yes": true, "on": true, "1": true, "true": true, "t": true, "1.0": true}
	falsy  = map[string]bool{"n": true, "no": true, "off": true, "0": true, "false": true, "f": true, "0.0": true}
)

func toBool(v any) (bool, error) {
	var s string
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		s = strings.ToLower(strings.TrimSpace(x))
	case json.Number:
		s = x.String()
	case float64:
		s = strconv.FormatFloat(x, 'f', 1, 64)
	case int:
		s = strconv.Itoa(x)
	default:
		return false, fmt.Errorf("a %s cannot be converted to a bool", typeName(v))
	}
	switch {
	case truthy[s]:
		return true, nil
	case falsy[s]:
		return false, nil
	}
	return false, fmt.Errorf("the value '%v' is not a valid boolean; valid booleans include: yes, on, 1, true, no, off, 0, false", v)
}

func toList(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case string:
		parts := strings.Split(x, ",")
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case json.Number, float64, int:
		s, _ := toStr(x)
		return []any{s}, nil
	}
	return nil, fmt.Errorf("a %s cannot be converted to a list", typeName(v))
}

func toDict(v any) (map[string]any, error) {
	switch x := v.(type) {
	case map[string]any:
		return normalizeNumbers(x).(map[string]any), nil
	case string:
		x = strings.TrimSpace(x)
		if strings.HasPrefix(x, "{") {
			var m map[string]any
			d := json.NewDecoder(strings.NewReader(x))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				return nil, fmt.Errorf("a string starting with { must be a JSON object: %v", err)
			}
			return normalizeNumbers(m).(map[string]any), nil
		}
		if strings.Contains(x, "=") {
			return parseKeyValues(x)
		}
		return nil, fmt.Errorf("dictionary requested, could not parse JSON or key=value")
	}
	return nil, fmt.Errorf("a %s cannot be converted to a dict", typeName(v))
}

// parseKeyValues parses "k1=v1, k2='v 2'" the way check_type_dict does.
func parseKeyValues(s string) (map[string]any, error) {
	var fields []string
	var buf strings.Builder
	var quote rune
	escape := false
	for _, c := range s {
		switch {
		case escape:
			buf.WriteRune(c)
			escape = false
		case c == '\\':
			escape = true
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == ',' || c == ' '):
			if buf.Len() > 0 {
				fields = append(fields, buf.String())
			}
			buf.Reset()
		default:
			buf.WriteRune(c)
		}
	}
	if buf.Len() > 0 {
		fields = append(fields, buf.String())
	}
	out := map[string]any{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not a key=value pair", f)
		}
		out[k] = v
	}
	return out, nil
}

// normalizeNumbers turns json.Number into int64 or float64 so that values
// re-marshal and compare naturally.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeNumbers(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeNumbers(e)
		}
		return out
	}
	return v
}

// expandPath expands environment variables and a leading ~ or ~user, like
// os.path.expanduser(os.path.expandvars(p)).
func expandPath(p string) string {
	// Unknown variables stay as written, as in Python's expandvars.
	p = os.Expand(p, func(k string) string {
		if v, ok := os.LookupEnv(k); ok {
			return v
		}
		return "${" + k + "}"
	})
	if !strings.HasPrefix(p, "~") {
		return p
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	var home string
	if name == "" {
		home, _ = os.UserHomeDir()
	} else if u, err := user.Lookup(name); err == nil {
		home = u.HomeDir
	}
	if home == "" {
		return p
	}
	return filepath.Join(home, rest)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
