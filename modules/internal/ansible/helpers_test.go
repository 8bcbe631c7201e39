package ansible

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// echo is a module that returns what it was given, so that golden files show
// the converted options and the invocation flags.
func echo(_ context.Context, m *Module, a map[string]any) (Result, error) {
	return Result{Data: map[string]any{
		"args":      a,
		"check":     m.CheckMode,
		"diff_mode": m.Diff,
		"debug":     m.Debug,
		"no_log":    m.NoLog,
		"verbosity": m.Verbosity,
		"tmpdir":    m.Tmpdir,
	}}, nil
}

// runArgs runs a module on args and checks the one protocol invariant every
// result must meet: exactly one JSON object followed by a newline, with an
// exit code that agrees with failed, and a msg when it failed.
func runArgs[A any](t testing.TB, ctx context.Context, spec Spec, args string, run RunFunc[A]) ([]byte, map[string]any, int) {
	t.Helper()
	var buf bytes.Buffer
	code := RunArgs(ctx, spec, []byte(args), &buf, run)
	out := buf.Bytes()
	res := checkOneObject(t, out)
	failed, _ := res["failed"].(bool)
	if want := map[bool]int{false: 0, true: 1}[failed]; code != want {
		t.Errorf("exit code %d with failed=%v, want %d", code, failed, want)
	}
	if msg, _ := res["msg"].(string); failed && msg == "" {
		t.Errorf("failed result without msg: %s", out)
	}
	return out, res, code
}

func checkOneObject(t testing.TB, out []byte) map[string]any {
	t.Helper()
	if !bytes.HasSuffix(out, []byte("}\n")) || bytes.Count(out, []byte("\n")) != 1 || !bytes.HasPrefix(out, []byte("{")) {
		t.Fatalf("output is not one JSON object followed by a newline: %q", out)
	}
	d := json.NewDecoder(bytes.NewReader(out))
	var res map[string]any
	if err := d.Decode(&res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if d.More() {
		t.Fatalf("more than one JSON value in the output: %s", out)
	}
	if _, ok := res["failed"].(bool); !ok {
		t.Errorf("result has no boolean failed: %s", out)
	}
	return res
}

// golden compares out, indented, with testdata/golden/name.json.
func golden(t *testing.T, name string, out []byte) {
	t.Helper()
	var got bytes.Buffer
	if err := json.Indent(&got, bytes.TrimSpace(out), "", "  "); err != nil {
		t.Fatalf("indent: %v", err)
	}
	got.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("result differs from %s (go test -update rewrites it)\n--- got\n%s--- want\n%s", path, got.Bytes(), want)
	}
}
