package ansible

import (
	"context"
	"errors"
	"os"
	"testing"
)

// probeSpec has an option of every type.
func probeSpec() Spec {
	return Spec{
		Name: "probe",
		Options: map[string]Option{
			"name":      {Type: Str, Required: true, Aliases: []string{"title", "label"}},
			"count":     {Type: Int, Default: 3},
			"ratio":     {Type: Float, Default: 0.5},
			"enabled":   {Type: Bool, Default: false},
			"tags":      {Type: List, Elements: Str},
			"ports":     {Type: List, Elements: Int},
			"labels":    {Type: Dict},
			"dest":      {Type: Path},
			"extra":     {Type: Raw},
			"mode":      {Type: Str, Default: "fast", Choices: []string{"fast", "slow"}},
			"redirects": {Type: Str, Choices: []string{"all", "safe", "none", "yes", "no"}},
			"features":  {Type: List, Elements: Str, Choices: []string{"a", "b", "c"}},
			"token":     {Type: Str, NoLog: true, EnvFallback: []string{"PROBE_TOKEN", "PROBE_TOKEN_OLD"}},
		},
		SupportsCheckMode: true,
	}
}

// depsSpec has every kind of dependency between options.
func depsSpec() Spec {
	return Spec{
		Name: "deps",
		Options: map[string]Option{
			"state":   {Type: Str, Default: "present", Choices: []string{"present", "absent"}},
			"path":    {Type: Path},
			"dest":    {Type: Path},
			"src":     {Type: Str},
			"content": {Type: Str},
			"owner":   {Type: Str},
			"uid":     {Type: Int},
			"group":   {Type: Str},
			"force":   {Type: Bool},
			"mode":    {Type: Str},
		},
		MutuallyExclusive: [][]string{{"src", "content"}, {"owner", "uid"}},
		RequiredTogether:  [][]string{{"owner", "group"}},
		RequiredOneOf:     [][]string{{"path", "dest"}},
		RequiredIf: []RequiredIf{
			{Key: "state", Value: "present", Need: []string{"src", "content"}, AnyOf: true},
			{Key: "state", Value: "absent", Need: []string{"force", "mode"}},
		},
	}
}

// all15 are the _ansible_* keys ansible-core 2.14 puts in a binary module's
// args file (ActionBase._update_module_args), as observed.
const all15 = `"_ansible_check_mode": false, "_ansible_no_log": false, "_ansible_debug": false,
 "_ansible_diff": false, "_ansible_verbosity": 1, "_ansible_version": "2.14.18",
 "_ansible_module_name": "probe", "_ansible_syslog_facility": "LOG_USER",
 "_ansible_selinux_special_fs": ["fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"],
 "_ansible_string_conversion_action": "warn", "_ansible_socket": null,
 "_ansible_shell_executable": "/bin/sh", "_ansible_keep_remote_files": false,
 "_ansible_tmpdir": "~/.ansible/tmp/ansible-tmp-1795315488.04-6613-1947/",
 "_ansible_remote_tmp": "~/.ansible/tmp"`

func TestProtocolGolden(t *testing.T) {
	t.Setenv("HOME", "/home/probe")
	t.Setenv("PROBE_DIR", "releases")
	for _, k := range []string{"PROBE_TOKEN", "PROBE_TOKEN_OLD"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	noCheck := probeSpec()
	noCheck.SupportsCheckMode = false
	mustNotRun := func(_ context.Context, _ *Module, _ map[string]any) (Result, error) {
		panic("the module ran although it must not")
	}

	tests := []struct {
		name string
		spec Spec
		args string
		env  map[string]string
		run  RunFunc[map[string]any] // echo when nil
		want int                     // exit code
	}{
		// The args file.
		{name: "flat_args_2_14", args: `{"name": "web", ` + all15 + `}`},
		{name: "flat_args_flags", args: `{"name": "web", "_ansible_check_mode": true, "_ansible_diff": true, "_ansible_debug": "yes",
			"_ansible_no_log": true, "_ansible_verbosity": 4, "_ansible_tmpdir": "/tmp/ansible-tmp-1/", "_ansible_version": "2.14.18"}`},
		{name: "env_empty_counts", args: `{"name": "web"}`, env: map[string]string{"PROBE_TOKEN": "", "PROBE_TOKEN_OLD": "second"}},
		{name: "wrapped_module_args", args: `{"ANSIBLE_MODULE_ARGS": {"name": "web", "_ansible_check_mode": true, "_ansible_diff": "yes"}}`},
		{name: "unknown_ansible_keys_ignored", args: `{"name": "web", "_ansible_brand_new_in_2_99": {"x": 1}, "_ansible_target_log_info": "t"}`},
		{name: "not_json", args: `name=web`, want: 1},
		{name: "not_an_object", args: `["name", "web"]`, want: 1},
		{name: "null", args: `null`, want: 1},
		{name: "empty_file", args: ``, want: 1},
		{name: "trailing_data", args: `{"name": "web"} {"name": "db"}`, want: 1},

		// Types.
		{name: "types_from_strings", args: `{"name": "web", "count": " 42 ", "ratio": "1.5", "enabled": "Yes",
			"tags": "a,b, c", "ports": "80,443", "labels": "k1=v1, k2='v 2' k3=\"a=b\"",
			"dest": "~/x/$PROBE_DIR/${PROBE_DIR}/$NOT_SET_ANYWHERE/", "extra": "as is"}`},
		{name: "types_native", args: `{"name": "web", "count": 42, "ratio": 2, "enabled": 1,
			"tags": ["a", 7, true], "ports": [80, "443"], "labels": {"a": {"b": 1, "c": 1.5}},
			"dest": "/srv/app", "extra": {"n": 1, "f": 1.5, "l": [1, "x", null]}}`},
		{name: "raw_rejects_huge_number", args: `{"name": "web", "extra": {"big": [1e400]}}`, want: 1},
		{name: "dict_from_json_string", args: `{"name": "web", "labels": " {\"a\": [1, 2], \"b\": \"c\"}"}`},
		{name: "path_of_other_user", args: `{"name": "web", "dest": "~root/x"}`},
		{name: "path_of_unknown_user", args: `{"name": "web", "dest": "~nosuchuser-zdt/x"}`},
		{name: "str_from_int_warns", args: `{"name": 42}`},
		{name: "str_from_bool_warns", args: `{"name": true}`},
		{name: "str_from_float_warns", args: `{"name": 1.50}`},
		{name: "int_rejects_word", args: `{"name": "web", "count": "many"}`, want: 1},
		{name: "int_rejects_fraction", args: `{"name": "web", "count": 1.5}`, want: 1},
		{name: "int_rejects_bool", args: `{"name": "web", "count": true}`, want: 1},
		{name: "float_rejects_word", args: `{"name": "web", "ratio": "half"}`, want: 1},
		{name: "bool_rejects_word", args: `{"name": "web", "enabled": "maybe"}`, want: 1},
		{name: "bool_rejects_two", args: `{"name": "web", "enabled": 2}`, want: 1},
		{name: "list_rejects_dict", args: `{"name": "web", "tags": {"a": 1}}`, want: 1},
		{name: "list_element_rejected", args: `{"name": "web", "ports": "80,http"}`, want: 1},
		{name: "dict_rejects_word", args: `{"name": "web", "labels": "nonsense"}`, want: 1},
		{name: "dict_rejects_bad_json", args: `{"name": "web", "labels": "{\"a\": }"}`, want: 1},
		{name: "dict_rejects_number", args: `{"name": "web", "labels": 5}`, want: 1},

		// Choices.
		{name: "choices_rejected", args: `{"name": "web", "mode": "medium"}`, want: 1},
		{name: "choices_list_rejected", args: `{"name": "web", "features": ["a", "x", "y"]}`, want: 1},
		{name: "choices_list_accepted", args: `{"name": "web", "features": "a,c"}`},
		{name: "choices_yaml_false_is_no", args: `{"name": "web", "redirects": false}`},
		{name: "choices_yaml_true_is_yes", args: `{"name": "web", "redirects": true}`},
		{name: "choices_yaml_bool_ambiguous", args: `{"name": "web", "mode": true}`, want: 1},

		// Presence.
		{name: "missing_required", args: `{"count": 1}`, want: 1},
		{name: "null_is_not_given", args: `{"name": "web", "count": null, "labels": null}`},
		{name: "unsupported_parameters", args: `{"name": "web", "colour": "red", "Count": 1, "_ansible_check_mode": false}`, want: 1},
		{name: "unsupported_wrapped_extra_key", args: `{"ANSIBLE_MODULE_ARGS": {"name": "web"}, "name": "db"}`, want: 1},
		{name: "alias", args: `{"title": "web"}`},
		{name: "alias_and_canonical_warn", args: `{"name": "web", "title": "db"}`},
		{name: "two_aliases_warn", args: `{"label": "web", "title": "db"}`},
		{name: "env_fallback", args: `{"name": "web"}`, env: map[string]string{"PROBE_TOKEN_OLD": "tok-from-env"}},
		{name: "env_fallback_order", args: `{"name": "web"}`, env: map[string]string{"PROBE_TOKEN": "first", "PROBE_TOKEN_OLD": "second"}},
		{name: "env_fallback_given_wins", args: `{"name": "web", "token": "given"}`, env: map[string]string{"PROBE_TOKEN": "from-env"}},

		// Dependencies.
		{name: "deps_ok", spec: depsSpec(), args: `{"path": "/x", "src": "a", "owner": "o", "group": "g"}`},
		{name: "mutually_exclusive", spec: depsSpec(), args: `{"path": "/x", "src": "a", "content": "b", "owner": "o", "uid": 1}`, want: 1},
		{name: "required_together", spec: depsSpec(), args: `{"path": "/x", "src": "a", "owner": "o"}`, want: 1},
		{name: "required_one_of", spec: depsSpec(), args: `{"src": "a"}`, want: 1},
		{name: "required_if_any_by_default", spec: depsSpec(), args: `{"path": "/x"}`, want: 1},
		{name: "required_if_all", spec: depsSpec(), args: `{"path": "/x", "state": "absent", "force": "yes"}`, want: 1},
		{name: "required_if_all_met", spec: depsSpec(), args: `{"path": "/x", "state": "absent", "force": "yes", "mode": "0644"}`},

		// Check mode.
		{name: "check_mode_supported", args: `{"name": "web", "_ansible_check_mode": true}`},
		{name: "check_mode_unsupported_skips", spec: noCheck, args: `{"name": "web", "token": "s3cr3t", "_ansible_check_mode": true}`, run: mustNotRun},
		{name: "check_mode_unsupported_bad_args_fail", spec: noCheck, args: `{"count": 1, "_ansible_check_mode": true}`, run: mustNotRun, want: 1},

		// What the module returns.
		{name: "changed_with_msg", args: `{"name": "web"}`, run: func(_ context.Context, _ *Module, _ map[string]any) (Result, error) {
			return Result{Changed: true, Msg: "did it", Data: map[string]any{"target": "web"}}, nil
		}},
		{name: "diff_requested", args: `{"name": "web", "_ansible_diff": true}`, run: withDiff},
		{name: "diff_not_requested", args: `{"name": "web", "_ansible_diff": false}`, run: withDiff},
		{name: "warnings_and_deprecations", args: `{"name": 7}`, run: func(_ context.Context, m *Module, _ map[string]any) (Result, error) {
			m.Warn("weight %d is high", 256)
			m.Deprecate("option x is deprecated", "2.0.0")
			m.Deprecate("option y is deprecated", "")
			return Result{}, nil
		}},
		{name: "error_with_data", args: `{"name": "web"}`, run: func(_ context.Context, _ *Module, _ map[string]any) (Result, error) {
			err := &Error{Msg: "target web not found", Data: map[string]any{"failure": map[string]any{"provider": "p", "code": "not_found", "resource": "web"}}, Err: errors.New("404")}
			return Result{Data: map[string]any{"partial": 1}}, err
		}},
		{name: "plain_error", args: `{"name": "web"}`, want: 1, run: func(_ context.Context, _ *Module, _ map[string]any) (Result, error) {
			return Result{Changed: true}, errors.New("gave up")
		}},
		{name: "panic", args: `{"name": "web"}`, want: 1, run: func(_ context.Context, _ *Module, _ map[string]any) (Result, error) {
			var m map[string]int
			//lint:ignore SA5000 the panic is the point: Run must turn it into a failed result
			m["boom"]++
			return Result{}, nil
		}},
		{name: "no_log_masked", args: `{"name": "web", "token": "s3cr3t-t0ken"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			spec := tt.spec
			if spec.Name == "" {
				spec = probeSpec()
			}
			run := tt.run
			if run == nil {
				run = echo
			}
			if tt.name == "error_with_data" {
				tt.want = 1
			}
			out, _, code := runArgs(t, context.Background(), spec, tt.args, run)
			if code != tt.want {
				t.Errorf("exit code %d, want %d", code, tt.want)
			}
			golden(t, tt.name, out)
		})
	}
}

func withDiff(_ context.Context, _ *Module, _ map[string]any) (Result, error) {
	return Result{Changed: true, Diff: &Diff{Before: "weight 100\n", After: "weight 0\n", BeforeHeader: "web (before)", AfterHeader: "web (after)"}}, nil
}
