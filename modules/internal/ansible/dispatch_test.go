package ansible

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDispatch(t *testing.T) {
	echo := NewModule(Spec{Name: "echo", Options: map[string]Option{"say": {Type: Str, Required: true, EnvFallback: []string{"ZDT_TEST_SAY"}}}},
		func(ctx context.Context, m *Module, a struct {
			Say string `json:"say"`
		}) (Result, error) {
			return Result{Msg: a.Say}, nil
		})
	file := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(file, []byte(`{"say": "from a file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantMsg  string
	}{
		{"stdin", []string{"echo", "-"}, `{"say": "from stdin", "_ansible_check_mode": false}`, 0, "from stdin"},
		{"file", []string{"echo", file}, "", 0, "from a file"},
		{"unknown module", []string{"lb_drian", "-"}, `{}`, 1, `unknown module "lb_drian": this build holds echo`},
		{"no arguments", nil, "", 1, "expected a module name and an arguments file"},
		{"missing file", []string{"echo", filepath.Join(t.TempDir(), "nope")}, "", 1, "cannot read the module arguments"},
		{"module error", []string{"echo", "-"}, `{}`, 1, "missing required arguments: say"},
		{"environment", []string{"echo", "-"}, `{"ANSIBLE_MODULE_ARGS": {}, "ZDT_ENVIRONMENT": {"ZDT_TEST_SAY": "from the environment"}}`, 0, "from the environment"},
		{"bad environment", []string{"echo", "-"}, `{"ANSIBLE_MODULE_ARGS": {}, "ZDT_ENVIRONMENT": ["x"]}`, 1, "malformed environment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := dispatch(tc.args, strings.NewReader(tc.stdin), &out, &errOut, []Entry{echo})
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			var res map[string]any
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("stdout is not one JSON object: %q", out.String())
			}
			if msg, _ := res["msg"].(string); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("msg %q lacks %q", msg, tc.wantMsg)
			}
		})
	}
}

func TestDispatchList(t *testing.T) {
	noop := func(ctx context.Context, m *Module, a struct{}) (Result, error) { return Result{}, nil }
	entries := []Entry{NewModule(Spec{Name: "b_mod"}, noop), NewModule(Spec{Name: "a_mod"}, noop)}
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"--list"}, strings.NewReader(""), &out, &errOut, entries); code != 0 {
		t.Fatalf("exit %d, want 0 (stderr %q)", code, errOut.String())
	}
	var names []string
	if err := json.Unmarshal(out.Bytes(), &names); err != nil {
		t.Fatalf("stdout is not a JSON array: %q", out.String())
	}
	if strings.Join(names, ",") != "a_mod,b_mod" {
		t.Errorf("--list = %v, want [a_mod b_mod]", names)
	}
}

func TestFileKind(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	link := filepath.Join(dir, "l")
	fifo := filepath.Join(dir, "p")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		dir: "a directory", file: "a regular file", link: "a symbolic link",
		fifo: "a named pipe", "/dev/null": "a character device",
	} {
		st, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := FileKind(st.Mode()); got != want {
			t.Errorf("FileKind(%s) = %q, want %q", path, got, want)
		}
	}
}
