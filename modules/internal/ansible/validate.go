package ansible

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/user"
	"regexp"
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
		//lint:ignore ST1005 AnsibleModule's own wording, which users and tools match on
		return nil, nil, fmt.Errorf("Unsupported parameters for (%s) module: %s. Supported parameters include: %s.",
			s.Name, strings.Join(unsupported, ", "), s.supported())
	}

	// 2. Aliases: fold onto canonical names. As in AnsibleModule
	// (_handle_aliases), an alias overrides the canonical name, later aliases
	// in the spec override earlier ones, and setting an option twice warns.
	p := Params{}
	for k, v := range raw {
		if _, ok := s.Options[k]; ok && v != nil {
			p[k] = v
		}
	}
	for _, canon := range sortedKeys(s.Options) {
		for _, alias := range s.Options[canon].Aliases {
			v, given := raw[alias]
			if !given {
				continue
			}
			if _, both := p[canon]; both {
				warnings = append(warnings, fmt.Sprintf("Both option %s and its alias %s are set.", canon, alias))
			}
			// A null value stands for "not given", as omit would.
			if v != nil {
				p[canon] = v
			}
		}
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

	// 4. Mutually exclusive groups, on what the user gave; every violated
	// group is named, as check_mutually_exclusive does.
	var exclusive []string
	for _, group := range s.MutuallyExclusive {
		if given := p.given(group); len(given) > 1 {
			exclusive = append(exclusive, strings.Join(group, "|"))
		}
	}
	if len(exclusive) > 0 {
		return nil, warnings, fmt.Errorf("parameters are mutually exclusive: %s", strings.Join(exclusive, ", "))
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
			if o.NoLog || o.SecretKeys != nil {
				// The reason quotes the value; a secret's stays out.
				return nil, warnings, fmt.Errorf("argument '%s' is of type %s and we were unable to convert to %s",
					name, typeName(p[name]), o.typeLabel())
			}
			return nil, warnings, fmt.Errorf("argument '%s' is of type %s and we were unable to convert to %s: %v",
				name, typeName(p[name]), o.typeLabel(), err)
		}
		if len(o.Choices) > 0 {
			v = boolChoice(v, o.Choices)
		}
		if o.Type == Str && !isString(p[name]) && !(isBool(p[name]) && contains(o.Choices, v)) {
			from, to := fmt.Sprint(p[name]), fmt.Sprintf("%q", v)
			if o.NoLog {
				from, to = NoLogValue, NoLogValue
			}
			warnings = append(warnings, fmt.Sprintf("The value %s (type %s) in a string field was converted to %s (type string). If this does not look like what you expect, quote the entire value to ensure it does not change.",
				from, typeName(p[name]), to))
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
			// A programming error in the spec; report it rather than crash.
			return nil, warnings, fmt.Errorf("internal error: the default of %s in the %s module's spec does not convert to %s: %v",
				name, s.Name, o.typeLabel(), err)
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

// boolChoice undoes YAML's reading of an unquoted yes/no as a boolean for a
// string option with choices, as _validate_argument_values does: "True" or
// "False" becomes the one boolean-looking choice, when there is exactly one.
func boolChoice(v any, choices []string) any {
	s, ok := v.(string)
	if !ok || contains(choices, s) {
		return v
	}
	var set map[string]bool
	switch s {
	case "True":
		set = truthy
	case "False":
		set = falsy
	default:
		return v
	}
	var overlap []string
	for _, c := range choices {
		if set[c] {
			overlap = append(overlap, c)
		}
	}
	if len(overlap) == 1 {
		return overlap[0]
	}
	return v
}

func contains(list []string, v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, c := range list {
		if c == s {
			return true
		}
	}
	return false
}

func checkChoices(name string, v any, choices []string) error {
	if l, ok := v.([]any); ok {
		var bad []string
		for _, x := range l {
			if s := fmt.Sprint(x); !contains(choices, s) {
				bad = append(bad, s)
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("value of %s must be one or more of: %s. Got no match for: %s",
				name, strings.Join(choices, ", "), strings.Join(bad, ", "))
		}
		return nil
	}
	if s := fmt.Sprint(v); !contains(choices, s) {
		return fmt.Errorf("value of %s must be one of: %s, got: %s", name, strings.Join(choices, ", "), s)
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
			return representable(normalizeNumbers(l))
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
		d, err := toDict(v)
		if err != nil {
			return nil, err
		}
		return representable(d)
	case Raw, "":
		return representable(normalizeNumbers(v))
	}
	return nil, fmt.Errorf("unknown option type %q", t)
}

func isString(v any) bool { _, ok := v.(string); return ok }

func isBool(v any) bool { _, ok := v.(bool); return ok }

func typeName(v any) string {
	switch v := v.(type) {
	case string:
		return "str"
	case bool:
		return "bool"
	case json.Number:
		if strings.ContainsAny(string(v), ".eE") {
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
	return 0, fmt.Errorf("%s cannot be converted to an int", aTypeName(v))
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
	return 0, fmt.Errorf("%s cannot be converted to a float", aTypeName(v))
}

// Booleans as AnsibleModule accepts them (module_utils.parsing.convert_bool):
// these strings, case-insensitive and trimmed, and the numbers 1 and 0.
var (
	truthy = map[string]bool{"y": true, "yes": true, "on": true, "1": true, "true": true, "t": true}
	falsy  = map[string]bool{"n": true, "no": true, "off": true, "0": true, "false": true, "f": true}
)

func toBool(v any) (bool, error) {
	var f float64
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		switch {
		case truthy[s]:
			return true, nil
		case falsy[s]:
			return false, nil
		}
		return false, fmt.Errorf("the value '%v' is not a valid boolean; valid booleans include: yes, on, 1, true, no, off, 0, false", v)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return false, fmt.Errorf("the value '%v' is not a valid boolean; valid booleans include: yes, on, 1, true, no, off, 0, false", v)
		}
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	default:
		return false, fmt.Errorf("%s cannot be converted to a bool", aTypeName(v))
	}
	// Numbers compare by value, as in Python: 1, 1.0 and 1e0 are all True.
	switch f {
	case 1:
		return true, nil
	case 0:
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
	return nil, fmt.Errorf("%s cannot be converted to a list", aTypeName(v))
}

func toDict(v any) (map[string]any, error) {
	switch x := v.(type) {
	case map[string]any:
		return normalizeNumbers(x).(map[string]any), nil
	case string:
		x = strings.TrimSpace(x)
		if strings.HasPrefix(x, "{") {
			m, err := decodeObject([]byte(x))
			if err != nil {
				return nil, fmt.Errorf("a string starting with { must be a JSON object: %v", err)
			}
			return normalizeNumbers(m).(map[string]any), nil
		}
		if strings.Contains(x, "=") {
			return parseKeyValues(x)
		}
		return nil, fmt.Errorf("dictionary requested, could not parse JSON or key=value")
	}
	return nil, fmt.Errorf("%s cannot be converted to a dict", aTypeName(v))
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

// representable rejects numbers no float64 holds (1e400), which the module
// could not decode; Ansible itself never sends them, as Python would turn
// them into inf and JSON has no inf.
func representable(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return nil, fmt.Errorf("the number %s is out of range", x)
	case []any:
		for _, e := range x {
			if _, err := representable(e); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if _, err := representable(x[k]); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// normalizeNumbers turns json.Number into int64 or float64 so that values
// re-marshal and compare naturally.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		// Too large for a float64 (1e400): keep the literal, which
		// still marshals as a JSON number.
		return x
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

// varRef is what os.path.expandvars replaces: $name or ${anything}.
var varRef = regexp.MustCompile(`\$([\p{L}\p{N}_]+|\{[^}]*\})`)

// expandPath expands environment variables and a leading ~ or ~user, like
// os.path.expanduser(os.path.expandvars(p)): unknown variables stay as
// written and the path is not cleaned.
func expandPath(p string) string {
	p = varRef.ReplaceAllStringFunc(p, func(ref string) string {
		name := strings.TrimSuffix(strings.TrimPrefix(ref[1:], "{"), "}")
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return ref
	})
	if !strings.HasPrefix(p, "~") {
		return p
	}
	i := strings.IndexByte(p, '/')
	if i < 0 {
		i = len(p)
	}
	var home string
	if name := p[1:i]; name == "" {
		home, _ = os.UserHomeDir()
	} else if u, err := user.Lookup(name); err == nil {
		home = u.HomeDir
	}
	if home == "" {
		return p
	}
	out := strings.TrimRight(home, "/") + p[i:]
	if out == "" {
		return "/"
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// aTypeName is typeName with its article: "an int", "a dict".
func aTypeName(v any) string {
	n := typeName(v)
	if strings.ContainsRune("aeiouAEIOU", rune(n[0])) {
		return "an " + n
	}
	return "a " + n
}
