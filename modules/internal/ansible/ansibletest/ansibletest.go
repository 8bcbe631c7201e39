// Package ansibletest runs a module in a test as Ansible would: its options
// as an args file's JSON, its result read back from what it writes.
package ansibletest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// Call runs the module on args and returns the decoded result and the raw
// output. It fails the test unless the output is one JSON object and a
// newline, and the exit code agrees with "failed".
func Call[A any](t testing.TB, ctx context.Context, spec ansible.Spec, args map[string]any, run ansible.RunFunc[A]) (map[string]any, []byte) {
	t.Helper()
	data, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	code := ansible.RunArgs(ctx, spec, data, &buf, run)
	out := buf.Bytes()
	if bytes.Count(out, []byte("\n")) != 1 || !bytes.HasSuffix(out, []byte("}\n")) {
		t.Fatalf("not one JSON object and a newline: %q", out)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if failed, _ := res["failed"].(bool); (code == 1) != failed {
		t.Errorf("exit code %d with failed=%v", code, failed)
	}
	return res, out
}
