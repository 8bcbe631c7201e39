package ansible

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

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

// ToFloat converts a value as a float option's is converted, for numbers
// inside a dict option.
func ToFloat(v any) (float64, error) { return toFloat(v) }

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
		for _, k := range slices.Sorted(maps.Keys(x)) {
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

// aTypeName is typeName with its article: "an int", "a dict".
func aTypeName(v any) string {
	n := typeName(v)
	if strings.ContainsRune("aeiouAEIOU", rune(n[0])) {
		return "an " + n
	}
	return "a " + n
}
