package ansible

import (
	"context"
	"errors"
	"testing"
)

// TestShortSecretKeepsProtocolKeys: a one-letter secret is scrubbed from
// every value, but not from the result's own keys or the option names in
// invocation, or Ansible would read a result without failed and changed
// (found by FuzzDrainParams with api_token: "a").
func TestShortSecretKeepsProtocolKeys(t *testing.T) {
	tests := []struct {
		name string
		args string
		run  RunFunc[vaultArgs]
	}{
		{name: "failed", args: `{"password": "a"}`, run: func(context.Context, *Module, vaultArgs) (Result, error) {
			return Result{Data: map[string]any{"data": "abc"}}, errors.New("a bad thing")
		}},
		{name: "rejected_option", args: `{"password": "a", "bogus": 1}`},
		{name: "changed", args: `{"password": "e", "url": "http://example"}`, run: func(context.Context, *Module, vaultArgs) (Result, error) {
			return Result{Changed: true, Data: map[string]any{"data": "e"}}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := tt.run
			if run == nil {
				run = func(context.Context, *Module, vaultArgs) (Result, error) { return Result{}, nil }
			}
			_, res, _ := runArgs(t, context.Background(), vaultSpec(), tt.args, run)
			if _, ok := res["failed"].(bool); !ok {
				t.Fatalf("no failed key: %v", res)
			}
			if _, ok := res["changed"]; !ok && tt.name != "rejected_option" {
				t.Errorf("no changed key: %v", res)
			}
			if _, ok := res["msg"]; !ok && tt.name != "changed" {
				t.Errorf("no msg key: %v", res)
			}
			if inv, ok := res["invocation"].(map[string]any); ok {
				args := inv["module_args"].(map[string]any)
				if args["password"] != NoLogValue {
					t.Errorf("password not masked under its own name: %v", args)
				}
			}
			if d, ok := res["data"].(string); ok && d != "********bc" && d != "********" {
				t.Errorf("data not scrubbed: %q", d)
			}
		})
	}
}
