package haproxymaint

import (
	"strings"
	"testing"
)

func TestParseWeight(t *testing.T) {
	cases := []struct {
		name    string
		in      any
		want    string
		abs     int // with an initial weight of 10
		wantErr string
	}{
		{"unset", nil, "", 0, ""},
		{"int from YAML", 10.0, "10", 10, ""},
		{"string", "0", "0", 0, ""},
		{"percent", "50%", "50%", 5, ""},
		{"percent rounds down", "33%", "33%", 3, ""},
		{"percent above 100 capped at 256", "5000%", "5000%", 256, ""},
		{"spaces", " 20 % ", "20%", 2, ""},
		{"too heavy", 300.0, "", 0, "above HAProxy's maximum of 256"},
		{"negative", "-1", "", 0, "must not be negative"},
		{"fraction", 1.5, "", 0, "whole number"},
		{"word", "heavy", "", 0, "a number (0-256) or a percentage"},
		{"list", []any{1}, "", 0, "a number (0-256) or a percentage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := parseWeight(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w == nil {
				if tc.want != "" {
					t.Fatalf("nil weight, want %s", tc.want)
				}
				return
			}
			if w.String() != tc.want || w.absolute(10) != tc.abs {
				t.Errorf("got %s (absolute %d), want %s (%d)", w, w.absolute(10), tc.want, tc.abs)
			}
		})
	}
}
