package ansible

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// fuzzSpec has an option of every type and a few dependencies.
func fuzzSpec() Spec {
	s := probeSpec()
	s.MutuallyExclusive = [][]string{{"tags", "features"}}
	s.RequiredIf = []RequiredIf{{Key: "mode", Value: "slow", Need: []string{"ports", "labels"}, AnyOf: true}}
	s.TimeoutOption = "count"
	return s
}

// FuzzRunArgs feeds arbitrary bytes as the args file. Whatever comes in, the
// runtime must not panic and must write exactly one JSON object, with a msg
// when it failed (runArgs checks both).
func FuzzRunArgs(f *testing.F) {
	f.Add([]byte(`{"name": "web", "count": "5", "tags": "a,b", "labels": "k=v", "dest": "~/x", "_ansible_check_mode": true}`))
	spec := fuzzSpec()
	f.Fuzz(func(t *testing.T, data []byte) {
		run := func(ctx context.Context, m *Module, a map[string]any) (Result, error) {
			return Result{Data: map[string]any{"args": a, "params": m.Params}}, nil
		}
		runArgs(t, context.Background(), spec, string(data), run)
	})
}

var fuzzTypes = []Type{Str, Int, Float, Bool, List, Dict, Path, Raw, ""}

// FuzzConvert checks the type conversions: no panic, a value that JSON can
// carry, and converting a converted value again changes nothing (except for
// paths, whose expansion may bring in new $ or ~).
func FuzzConvert(f *testing.F) {
	f.Add([]byte(`"a=1, b='x y'"`), uint8(5), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, typ, elems uint8) {
		var v any
		d := json.NewDecoder(strings.NewReader(string(data)))
		d.UseNumber()
		if err := d.Decode(&v); err != nil || d.More() {
			v = string(data)
		}
		ty, el := fuzzTypes[int(typ)%len(fuzzTypes)], fuzzTypes[int(elems)%len(fuzzTypes)]
		got, err := convert(v, ty, el)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error converting %#v to %s", v, ty)
			}
			return
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatalf("convert(%#v, %s, %s) = %#v, which JSON cannot carry: %v", v, ty, el, got, err)
		}
		if ty == Path || (ty == List && el == Path) {
			return
		}
		again, err := convert(got, ty, el)
		if err != nil {
			t.Fatalf("converting %#v (from %#v) to %s again: %v", got, v, ty, err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("convert is not idempotent for %s/%s: %#v -> %#v -> %#v", ty, el, v, got, again)
		}
	})
}
