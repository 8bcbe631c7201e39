package ansible

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// secret has characters that every encoding changes: URL, JSON and HTML
// escaping. Its fragments "s3cr3t" and "p@ss" survive all of them, so their
// absence from the raw output proves no encoding of it leaked.
const secret = `s3cr3t p@ss/"w\d&<>`

func vaultSpec() Spec {
	return Spec{
		Name: "vault",
		Options: map[string]Option{
			"url":       {Type: Str},
			"password":  {Type: Str, NoLog: true, Aliases: []string{"pass"}},
			"pin":       {Type: Int, NoLog: true},
			"keys":      {Type: List, NoLog: true},
			"level":     {Type: Str, NoLog: true, Choices: []string{"low", "high"}},
			"api_token": {Type: Str, NoLog: true, EnvFallback: []string{"VAULT_TEST_TOKEN"}},
		},
		SupportsCheckMode: true,
	}
}

type vaultArgs struct {
	URL      string   `json:"url"`
	Password string   `json:"password"`
	Keys     []string `json:"keys"`
	APIToken string   `json:"api_token"`
}

type leakyStruct struct {
	Name  string
	Inner struct {
		Password string `json:"pw"`
		List     []string
	}
}

type unmarshalable struct {
	Password string
	C        chan int
}

func TestSecretNeverLeaks(t *testing.T) {
	pw, _ := json.Marshal(map[string]string{"password": secret})
	args := func(extra string) string {
		b, _ := json.Marshal(secret)
		s := `{"password": ` + string(b)
		if extra != "" {
			s += ", " + extra
		}
		return s + `, "_ansible_diff": true}`
	}
	tests := []struct {
		name     string
		args     string
		env      map[string]string
		fragment []string // also must not appear; "s3cr3t" and "p@ss" always checked
		run      RunFunc[vaultArgs]
		noMask   bool // the secret never reached the output, so nothing was masked
	}{
		{name: "error_raw", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, fmt.Errorf("login with %s failed", a.Password)
		}},
		{name: "error_url_escaped", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, fmt.Errorf("GET https://h/login?pw=%s&x=%s: 401", url.QueryEscape(a.Password), url.PathEscape(a.Password))
		}},
		{name: "error_json_escaped", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, fmt.Errorf("server rejected body %s", pw)
		}},
		{name: "error_quoted", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, fmt.Errorf("bad password %q", a.Password)
		}},
		{name: "module_error_data", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, &Error{Msg: "denied", Data: map[string]any{"failure": map[string]any{"resource": a.Password}}}
		}},
		{name: "nested_data", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{Data: map[string]any{"a": []any{map[string]any{"b": []string{"x", a.Password}}}, "c": []map[string]any{{"d": a.Password}}, "e": map[string]string{"f": a.Password}}}, nil
		}},
		{name: "struct_value", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			var s leakyStruct
			s.Name = "n"
			s.Inner.Password = a.Password
			s.Inner.List = []string{"prefix " + a.Password}
			return Result{Data: map[string]any{"s": s, "p": &s}}, nil
		}},
		{name: "unmarshalable_value", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{Data: map[string]any{"u": unmarshalable{Password: a.Password}}}, nil
		}},
		{name: "map_key", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{Data: map[string]any{"by_password": map[string]any{a.Password: 1}}}, nil
		}},
		{name: "msg_warning_deprecation_diff", run: func(_ context.Context, m *Module, a vaultArgs) (Result, error) {
			m.Warn("password %s is weak", a.Password)
			m.Deprecate("password "+a.Password+" is old", "2.0.0")
			return Result{Changed: true, Msg: "set " + a.Password, Diff: &Diff{Before: a.Password, After: map[string]any{"pw": a.Password}}}, nil
		}},
		{name: "panic_value", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			panic("cannot use " + a.Password)
		}},
		{name: "panic_error", run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			panic(errors.New(a.Password))
		}},
		{name: "scrub_api", run: func(_ context.Context, m *Module, a vaultArgs) (Result, error) {
			return Result{Msg: m.Scrub("x " + a.Password)}, nil
		}},
		{name: "derived_secret", args: `{"url": "https://u:t0k-derived@h/"}`, fragment: []string{"t0k-derived", "dDBrLWRlcml2ZWQ="},
			run: func(_ context.Context, m *Module, a vaultArgs) (Result, error) {
				m.AddSecret("t0k-derived")
				m.AddSecret("dDBrLWRlcml2ZWQ=")
				return Result{}, fmt.Errorf("GET %s: Authorization: Basic dDBrLWRlcml2ZWQ=", a.URL)
			}},
		{name: "alias", args: `{"pass": "s3cr3t-via-alias"}`, run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, errors.New(a.Password)
		}},
		{name: "alias_and_canonical", args: args(`"pass": "s3cr3t-alias"`), run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, errors.New(a.Password + " " + secret)
		}},
		{name: "env_fallback", args: `{}`, env: map[string]string{"VAULT_TEST_TOKEN": "s3cr3t-env"}, run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, errors.New("token " + a.APIToken)
		}},
		{name: "env_fallback_after_null", args: `{"api_token": null}`, env: map[string]string{"VAULT_TEST_TOKEN": "s3cr3t-env"}, run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, errors.New("token " + a.APIToken)
		}},
		{name: "list_secret_elements", args: `{"keys": ["s3cr3t-one", "s3cr3t-two"]}`, run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, errors.New("key " + a.Keys[1] + " rejected")
		}},
		{name: "list_secret_comma_string", args: `{"keys": "s3cr3t-one,s3cr3t-two"}`, run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, errors.New("key " + a.Keys[0] + " rejected")
		}},
		{name: "longer_secret_containing_shorter", args: `{"password": "s3cr3t", "api_token": "xs3cr3tp@ss-longer"}`, run: func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
			return Result{}, errors.New(a.APIToken)
		}},
		{name: "secret_fails_int", args: `{"pin": "s3cr3t-p@ss"}`, noMask: true},
		{name: "secret_fails_int_from_float", args: `{"pin": 98765.4321}`, fragment: []string{"98765"}, noMask: true},
		{name: "secret_fails_choices", args: `{"level": "s3cr3t p@ss"}`},
		{name: "secret_fails_list", args: `{"keys": {"k": "s3cr3t p@ss"}}`, noMask: true},
		{name: "secret_converted_from_int", args: `{"password": 987654321}`, fragment: []string{"987654321"}},
		{name: "secret_fails_other_option_error", args: args(`"url": 5, "pin": "x"`), noMask: true},
		{name: "unsupported_with_secret", args: args(`"bogus": 1`), noMask: true},
		{name: "check_mode_skip", args: args(`"_ansible_check_mode": true`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			spec := vaultSpec()
			if tt.name == "check_mode_skip" {
				spec.SupportsCheckMode = false
			}
			a := tt.args
			if a == "" {
				a = args("")
			}
			run := tt.run
			if run == nil {
				run = func(context.Context, *Module, vaultArgs) (Result, error) { return Result{}, nil }
			}
			out, _, _ := runArgs(t, context.Background(), spec, a, run)
			for _, f := range append([]string{"s3cr3t", "p@ss", "p%40ss"}, tt.fragment...) {
				if bytes.Contains(out, []byte(f)) {
					t.Errorf("output contains %q:\n%s", f, out)
				}
			}
			if !tt.noMask && !bytes.Contains(out, []byte("********")) && !bytes.Contains(out, []byte(NoLogValue)) {
				t.Errorf("nothing masked; the test did not put the secret in the output:\n%s", out)
			}
			if bytes.Contains(out, []byte("goroutine ")) {
				t.Errorf("stack trace in the output:\n%s", out)
			}
		})
	}
}

// TestSecretDataKept checks that scrubbing replaces the secret but keeps the
// rest of each value, so results stay useful.
func TestSecretDataKept(t *testing.T) {
	run := func(_ context.Context, _ *Module, a vaultArgs) (Result, error) {
		var s leakyStruct
		s.Name = "kept"
		s.Inner.Password = "pw=" + a.Password
		return Result{Msg: "login " + a.Password + " ok", Data: map[string]any{"s": s, "n": 5, "b": true, "f": 1.5}}, nil
	}
	_, res, code := runArgs(t, context.Background(), vaultSpec(), `{"password": "hunter2"}`, run)
	if code != 0 {
		t.Fatalf("exit code %d: %v", code, res)
	}
	if got := res["msg"]; got != "login ******** ok" {
		t.Errorf("msg = %q", got)
	}
	s := res["s"].(map[string]any)
	if s["Name"] != "kept" || s["Inner"].(map[string]any)["pw"] != "pw=********" {
		t.Errorf("struct = %v", s)
	}
	if res["n"] != 5.0 || res["b"] != true || res["f"] != 1.5 {
		t.Errorf("scalars changed: %v", res)
	}
	inv := res["invocation"].(map[string]any)["module_args"].(map[string]any)
	if inv["password"] != NoLogValue {
		t.Errorf("invocation password = %v", inv["password"])
	}
	if inv["pin"] != nil {
		t.Errorf("invocation pin = %v, want null for an option not given", inv["pin"])
	}
}

func TestAppendSecret(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "empty is ignored", in: "", want: nil},
		{name: "plain has no encodings", in: "abc", want: []string{"abc"}},
		{name: "all encodings", in: `a b/"c`, want: []string{`a b/"c`, "a+b%2F%22c", "a%20b%2F%22c", `a b/\"c`}},
		{name: "html characters", in: "<&>", want: []string{"<&>", "%3C%26%3E", "%3C&%3E", `\u003c\u0026\u003e`}},
		{name: "go and json quoting differ", in: "a\x01é", want: []string{"a\x01é", "a%01%C3%A9", `a\u0001é`, `a\x01é`, `a\u0001\u00e9`, `a\u0001\u00E9`}},
		{name: "python's ensure_ascii", in: "pä😀\x7f", want: []string{"pä😀\x7f", "p%C3%A4%F0%9F%98%80%7F", `pä😀\x7f`, `p\u00e4\ud83d\ude00\u007f`, `p\u00E4\uD83D\uDE00\u007F`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendSecret(nil, tt.in)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("appendSecret(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
