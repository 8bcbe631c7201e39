package ansible

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestConvert(t *testing.T) {
	n := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name    string
		in      any
		typ     Type
		elems   Type
		want    any
		wantErr string
	}{
		{name: "str/string", in: "x", typ: Str, want: "x"},
		{name: "str/int", in: n("42"), typ: Str, want: "42"},
		{name: "str/float keeps the JSON text", in: n("1.5"), typ: Str, want: "1.5"},
		{name: "str/true as Python prints it", in: true, typ: Str, want: "True"},
		{name: "str/false", in: false, typ: Str, want: "False"},
		{name: "str/list as JSON", in: []any{"a", n("1")}, typ: Str, want: `["a",1]`},
		{name: "str/default int", in: 7, typ: Str, want: "7"},
		{name: "str/default float", in: 0.25, typ: Str, want: "0.25"},

		{name: "int/number", in: n("42"), typ: Int, want: int64(42)},
		{name: "int/negative", in: n("-3"), typ: Int, want: int64(-3)},
		{name: "int/string", in: "42", typ: Int, want: int64(42)},
		{name: "int/string with spaces", in: " 42\n", typ: Int, want: int64(42)},
		{name: "int/string with sign", in: "+7", typ: Int, want: int64(7)},
		{name: "int/default", in: 300, typ: Int, want: int64(300)},
		{name: "int/whole float default", in: 2.0, typ: Int, want: int64(2)},
		{name: "int/rejects fraction", in: n("1.5"), typ: Int, wantErr: "1.5 is not a whole number"},
		{name: "int/rejects 1.0 as AnsibleModule does", in: n("1.0"), typ: Int, wantErr: "not a whole number"},
		{name: "int/rejects float string", in: "3.0", typ: Int, wantErr: `"3.0" is not a whole number`},
		{name: "int/rejects word", in: "ten", typ: Int, wantErr: `"ten" is not a whole number`},
		{name: "int/rejects bool", in: true, typ: Int, wantErr: "a bool cannot be converted to an int"},
		{name: "int/rejects list", in: []any{}, typ: Int, wantErr: "a list cannot be converted to an int"},
		{name: "int/rejects overflow", in: n("99999999999999999999"), typ: Int, wantErr: "not a whole number"},

		{name: "float/number", in: n("1.25"), typ: Float, want: 1.25},
		{name: "float/int", in: n("2"), typ: Float, want: 2.0},
		{name: "float/string", in: " 0.5 ", typ: Float, want: 0.5},
		{name: "float/exponent", in: "1e-3", typ: Float, want: 0.001},
		{name: "float/default int", in: 10, typ: Float, want: 10.0},
		{name: "float/rejects word", in: "half", typ: Float, wantErr: `"half" is not a number`},
		{name: "float/rejects nan, which JSON cannot carry", in: "nan", typ: Float, wantErr: `"nan" is not a number`},
		{name: "float/rejects inf", in: "inf", typ: Float, wantErr: `"inf" is not a number`},
		{name: "float/rejects bool", in: false, typ: Float, wantErr: "a bool cannot be converted to a float"},
		{name: "float/rejects out of range", in: n("1e400"), typ: Float, wantErr: "out of range"},

		{name: "list/list", in: []any{"a", n("1")}, typ: List, want: []any{"a", int64(1)}},
		{name: "list/comma string", in: "a,b, c", typ: List, want: []any{"a", "b", " c"}},
		{name: "list/string without comma", in: "a", typ: List, want: []any{"a"}},
		{name: "list/empty string", in: "", typ: List, want: []any{""}},
		{name: "list/number", in: n("5"), typ: List, want: []any{"5"}},
		{name: "list/elements int", in: "1,2", typ: List, elems: Int, want: []any{int64(1), int64(2)}},
		{name: "list/elements str", in: []any{n("1"), true}, typ: List, elems: Str, want: []any{"1", "True"}},
		{name: "list/elements bool", in: "yes,off", typ: List, elems: Bool, want: []any{true, false}},
		{name: "list/elements dict", in: []any{"a=1"}, typ: List, elems: Dict, want: []any{map[string]any{"a": "1"}}},
		{name: "list/bad element", in: []any{"1", "x"}, typ: List, elems: Int, wantErr: `element 1: "x" is not a whole number`},
		{name: "list/rejects dict", in: map[string]any{}, typ: List, wantErr: "a dict cannot be converted to a list"},
		{name: "list/rejects bool", in: true, typ: List, wantErr: "a bool cannot be converted to a list"},

		{name: "dict/dict", in: map[string]any{"a": n("1")}, typ: Dict, want: map[string]any{"a": int64(1)}},
		{name: "dict/json", in: `{"a": [1, "b"]}`, typ: Dict, want: map[string]any{"a": []any{int64(1), "b"}}},
		{name: "dict/json with spaces", in: `  {"a": 1}  `, typ: Dict, want: map[string]any{"a": int64(1)}},
		{name: "dict/key=value", in: "a=1 b=2,c=3", typ: Dict, want: map[string]any{"a": "1", "b": "2", "c": "3"}},
		{name: "dict/quoted value", in: `a='x y' b="p=q" c=\'`, typ: Dict, want: map[string]any{"a": "x y", "b": "p=q", "c": "'"}},
		{name: "dict/empty value", in: "a=", typ: Dict, want: map[string]any{"a": ""}},
		{name: "dict/rejects field without =", in: "a=1 b", typ: Dict, wantErr: `"b" is not a key=value pair`},
		{name: "dict/rejects word", in: "abc", typ: Dict, wantErr: "could not parse JSON or key=value"},
		{name: "dict/rejects bad json", in: `{"a":`, typ: Dict, wantErr: "must be a JSON object"},
		{name: "dict/rejects json trailing data", in: `{"a": 1} x`, typ: Dict, wantErr: "must be a JSON object"},
		{name: "dict/rejects json array", in: `{"a": 1}]`, typ: Dict, wantErr: "must be a JSON object"},
		{name: "dict/rejects list", in: []any{}, typ: Dict, wantErr: "a list cannot be converted to a dict"},
		{name: "dict/rejects huge number", in: map[string]any{"a": n("1e999")}, typ: Dict, wantErr: "1e999 is out of range"},

		{name: "raw/numbers normalised", in: []any{n("1"), n("1.5"), "x", nil}, typ: Raw, want: []any{int64(1), 1.5, "x", nil}},
		{name: "raw/empty type is raw", in: true, typ: "", want: true},
		{name: "raw/rejects huge number", in: n("-1e400"), typ: Raw, wantErr: "out of range"},

		{name: "unknown type", in: "x", typ: "bytes", wantErr: `unknown option type "bytes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convert(tt.in, tt.typ, tt.elems)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("convert(%#v, %s) error = %v, want %q", tt.in, tt.typ, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("convert(%#v, %s): %v", tt.in, tt.typ, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("convert(%#v, %s) = %#v, want %#v", tt.in, tt.typ, got, tt.want)
			}
		})
	}
}

// TestBool covers module_utils.parsing.convert_bool: BOOLEANS_TRUE and
// BOOLEANS_FALSE, case-insensitive and trimmed, and numbers by value.
func TestBool(t *testing.T) {
	n := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name string
		in   any
		want any // bool, or nil when rejected
	}{
		{name: "true", in: true, want: true},
		{name: "false", in: false, want: false},
	}
	for _, s := range []string{"y", "yes", "on", "1", "true", "t", "Y", "YES", "On", "True", "TRUE", " yes ", "T"} {
		tests = append(tests, struct {
			name string
			in   any
			want any
		}{name: "string " + s, in: s, want: true})
	}
	for _, s := range []string{"n", "no", "off", "0", "false", "f", "N", "NO", "Off", "False", " false\n", "F"} {
		tests = append(tests, struct {
			name string
			in   any
			want any
		}{name: "string " + s, in: s, want: false})
	}
	more := []struct {
		name string
		in   any
		want any
	}{
		{name: "number 1", in: n("1"), want: true},
		{name: "number 0", in: n("0"), want: false},
		{name: "number 1.0", in: n("1.0"), want: true},
		{name: "number 0.0", in: n("0.0"), want: false},
		{name: "number 1e0", in: n("1e0"), want: true},
		{name: "number -0", in: n("-0"), want: false},
		{name: "default int", in: 1, want: true},
		{name: "default float", in: 0.0, want: false},
		{name: "rejects number 2", in: n("2"), want: nil},
		{name: "rejects number -1", in: n("-1"), want: nil},
		{name: "rejects number 0.5", in: n("0.5"), want: nil},
		{name: "rejects string 1.0 (a str, not in BOOLEANS)", in: "1.0", want: nil},
		{name: "rejects string 0.0", in: "0.0", want: nil},
		{name: "rejects string 2", in: "2", want: nil},
		{name: "rejects maybe", in: "maybe", want: nil},
		{name: "rejects empty", in: "", want: nil},
		{name: "rejects enabled", in: "enabled", want: nil},
		{name: "rejects yess", in: "yess", want: nil},
		{name: "rejects list", in: []any{"yes"}, want: nil},
		{name: "rejects dict", in: map[string]any{}, want: nil},
	}
	tests = append(tests, more...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convert(tt.in, Bool, "")
			if tt.want == nil {
				if err == nil {
					t.Fatalf("convert(%#v, bool) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("convert(%#v, bool) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestExpandPath follows os.path.expanduser(os.path.expandvars(p)).
func TestExpandPath(t *testing.T) {
	t.Setenv("HOME", "/home/probe/")
	t.Setenv("APP", "web")
	t.Setenv("EMPTY", "")
	tests := []struct {
		in, want string
	}{
		{"/srv/$APP/current", "/srv/web/current"},
		{"/srv/${APP}x", "/srv/webx"},
		{"/srv/$APPx", "/srv/$APPx"},
		{"/srv/$UNSET_ZDT/$APP", "/srv/$UNSET_ZDT/web"},
		{"/srv/${UNSET_ZDT}", "/srv/${UNSET_ZDT}"},
		{"/srv/a$EMPTY/b", "/srv/a/b"},
		{"/srv/$1/$-/$", "/srv/$1/$-/$"},
		{"/srv/${}/x", "/srv/${}/x"},
		{"~", "/home/probe"},
		{"~/", "/home/probe/"},
		{"~/a/../b/", "/home/probe/a/../b/"},
		{"~root/x", "/root/x"},
		{"~no-such-user-zdt/x", "~no-such-user-zdt/x"},
		{"a/~/b", "a/~/b"},
		{"$HOME/x", "/home/probe//x"},
		{"relative/path", "relative/path"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := expandPath(tt.in); got != tt.want {
				t.Errorf("expandPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSupported(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{name: "no aliases", spec: Spec{Options: map[string]Option{"b": {}, "a": {}}}, want: "a, b"},
		{name: "aliases at the end, sorted", spec: Spec{Options: map[string]Option{
			"url": {Aliases: []string{"uri"}}, "password": {Aliases: []string{"url_password", "pass"}}, "force": {},
		}}, want: "force, password, url (pass, uri, url_password)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.supported(); got != tt.want {
				t.Errorf("supported() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateBadDefault(t *testing.T) {
	spec := Spec{Name: "broken", Options: map[string]Option{"count": {Type: Int, Default: "many"}}}
	_, _, err := spec.validate(map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "internal error: the default of count in the broken module's spec does not convert to int") {
		t.Fatalf("err = %v", err)
	}
}
