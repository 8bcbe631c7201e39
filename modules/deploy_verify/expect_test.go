package deployverify

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func ptr(s string) *string { return &s }

const buildJSON = `{"build": {"version": "v2", "n": 3, "sha": "abc"}, "items": [{"id": 7, "ok": true}, {"id": 8, "tags": ["a", "b"]}], "ratio": 1.5, "empty": null, "x.y": 1}`

// TestMismatch checks one response against expectations: "" when it passes,
// else the reason that ends up in the result.
func TestMismatch(t *testing.T) {
	ok := observation{status: 200, header: http.Header{"X-App-Version": {"v2"}, "Content-Type": {"application/json"}}, body: []byte(buildJSON)}
	tests := []struct {
		name string
		args args
		obs  observation
		want string
	}{
		{name: "default status 200", obs: ok, want: ""},
		{name: "status not listed", args: args{ExpectStatus: []int{200, 204}}, obs: observation{status: 503}, want: "status 503 not in [200 204]"},
		{name: "status listed", args: args{ExpectStatus: []int{301, 302}}, obs: observation{status: 302}, want: ""},
		{name: "request error", obs: observation{err: errors.New("connection refused")}, want: "connection refused"},

		{name: "body equal", args: args{ExpectBody: ptr("v2")}, obs: observation{status: 200, body: []byte("v2\n")}, want: ""},
		{name: "body equal ignoring CRLF at the end", args: args{ExpectBody: ptr("v2\n")}, obs: observation{status: 200, body: []byte("v2\r\n")}, want: ""},
		{name: "body differs", args: args{ExpectBody: ptr("v2")}, obs: observation{status: 200, body: []byte("v1")}, want: "body differs"},
		{name: "body is not a substring match", args: args{ExpectBody: ptr("v2")}, obs: observation{status: 200, body: []byte("v2 beta")}, want: "body differs"},

		{name: "regex matches", args: args{ExpectRegex: ptr(`"version":\s*"v\d+"`)}, obs: ok, want: ""},
		{name: "regex does not match", args: args{ExpectRegex: ptr(`^v3`)}, obs: ok, want: "body does not match expect_regex"},
		{name: "regex multi-line flag", args: args{ExpectRegex: ptr(`(?m)^ready$`)}, obs: observation{status: 200, body: []byte("booting\nready\n")}, want: ""},

		{name: "header any case", args: args{ExpectHeaders: map[string]any{"x-APP-version": "v2"}}, obs: ok, want: ""},
		{name: "header value differs", args: args{ExpectHeaders: map[string]any{"x-app-version": "v3"}}, obs: ok, want: `header X-App-Version is "v2", expected "v3"`},
		{name: "header missing", args: args{ExpectHeaders: map[string]any{"X-Build": "7"}}, obs: ok, want: `header X-Build is "", expected "7"`},
		{name: "header number from YAML", args: args{ExpectHeaders: map[string]any{"X-Build": int64(7)}}, obs: observation{status: 200, header: http.Header{"X-Build": {"7"}}}, want: ""},

		{name: "json string", args: args{ExpectJSON: map[string]any{"build.version": "v2"}}, obs: ok, want: ""},
		{name: "json number", args: args{ExpectJSON: map[string]any{"build.n": int64(3)}}, obs: ok, want: ""},
		{name: "json quoted number", args: args{ExpectJSON: map[string]any{"build.n": "3", "ratio": "1.5"}}, obs: ok, want: ""},
		{name: "json float", args: args{ExpectJSON: map[string]any{"ratio": 1.5}}, obs: ok, want: ""},
		{name: "json array index", args: args{ExpectJSON: map[string]any{"items.0.id": int64(7), "items.1.tags.1": "b"}}, obs: ok, want: ""},
		{name: "json bool", args: args{ExpectJSON: map[string]any{"items.0.ok": true}}, obs: ok, want: ""},
		{name: "json quoted bool", args: args{ExpectJSON: map[string]any{"items.0.ok": "true"}}, obs: ok, want: ""},
		{name: "json null", args: args{ExpectJSON: map[string]any{"empty": nil}}, obs: ok, want: ""},
		{name: "json whole object", args: args{ExpectJSON: map[string]any{"build": map[string]any{"version": "v2", "n": int64(3), "sha": "abc"}}}, obs: ok, want: ""},
		{name: "json whole array", args: args{ExpectJSON: map[string]any{"items.1.tags": []any{"a", "b"}}}, obs: ok, want: ""},
		{name: "json value differs", args: args{ExpectJSON: map[string]any{"build.version": "v3"}}, obs: ok, want: `JSON build.version is "v2", expected "v3"`},
		{name: "json number differs", args: args{ExpectJSON: map[string]any{"build.n": int64(4)}}, obs: ok, want: `JSON build.n is 3, expected 4`},
		{name: "json object is not its string", args: args{ExpectJSON: map[string]any{"items.1.tags": "[a b]"}}, obs: ok, want: `JSON items.1.tags is ["a","b"], expected "[a b]"`},
		{name: "json index out of range", args: args{ExpectJSON: map[string]any{"items.2.id": int64(9)}}, obs: ok, want: "JSON has no items.2.id"},
		{name: "json negative index", args: args{ExpectJSON: map[string]any{"items.-1.id": int64(8)}}, obs: ok, want: "JSON has no items.-1.id"},
		{name: "json index on object", args: args{ExpectJSON: map[string]any{"build.0": "v2"}}, obs: ok, want: "JSON has no build.0"},
		{name: "json path through scalar", args: args{ExpectJSON: map[string]any{"ratio.x": int64(1)}}, obs: ok, want: "JSON has no ratio.x"},
		{name: "json key with a dot is not reachable", args: args{ExpectJSON: map[string]any{"x.y": int64(1)}}, obs: ok, want: "JSON has no x.y"},
		{name: "json first failing path in order", args: args{ExpectJSON: map[string]any{"b.missing": 1, "a.missing": 1}}, obs: ok, want: "JSON has no a.missing"},
		{name: "body not json", args: args{ExpectJSON: map[string]any{"a": "b"}}, obs: observation{status: 200, body: []byte("<html>")}, want: "body is not JSON"},

		{name: "status checked first", args: args{ExpectBody: ptr("x"), ExpectJSON: map[string]any{"a": 1}}, obs: observation{status: 500}, want: "status 500 not in [200]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := newExpectations(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.mismatch(tt.obs); got != tt.want {
				t.Errorf("mismatch = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewExpectationsRejects(t *testing.T) {
	tests := []struct {
		name string
		args args
		want string
	}{
		{name: "status 700", args: args{ExpectStatus: []int{200, 700}}, want: "expect_status: 700 is not an HTTP status code (100-599)"},
		{name: "status 99", args: args{ExpectStatus: []int{99}}, want: "expect_status: 99 is not an HTTP status code"},
		{name: "bad regex", args: args{ExpectRegex: ptr("v(2")}, want: `expect_regex: "v(2" is not a valid regular expression (Go RE2 syntax): error parsing regexp: missing closing ): ` + "`v(2`"},
		{name: "perl-only regex", args: args{ExpectRegex: ptr(`(?<=v)2`)}, want: "expect_regex: "},
		{name: "json empty path", args: args{ExpectJSON: map[string]any{"": 1}}, want: `expect_json: "" is not a dotted path such as 'build.version' or 'items.0.id'`},
		{name: "json double dot", args: args{ExpectJSON: map[string]any{"build..version": 1}}, want: `expect_json: "build..version" is not a dotted path`},
		{name: "json leading dot", args: args{ExpectJSON: map[string]any{".build": 1}}, want: `expect_json: ".build" is not a dotted path`},
		{name: "json trailing dot", args: args{ExpectJSON: map[string]any{"build.": 1}}, want: `expect_json: "build." is not a dotted path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newExpectations(tt.args)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	e, err := newExpectations(args{ExpectStatus: []int{200, 204}, ExpectBody: ptr("v2"), ExpectRegex: ptr("^v"), ExpectHeaders: map[string]any{"x-b": "1", "x-a": "2"}, ExpectJSON: map[string]any{"b": "x", "a": int64(1)}})
	if err != nil {
		t.Fatal(err)
	}
	want := `status in [200 204], body "v2", body matching /^v/, header X-A: "2", header X-B: "1", JSON a = 1, JSON b = "x"`
	if got := e.describe(); got != want {
		t.Errorf("describe = %q\nwant       %q", got, want)
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		name string
		body string
		n    int
		want string
	}{
		{name: "short", body: "v2\n", n: 10, want: "v2\n"},
		{name: "exact", body: "abcde", n: 5, want: "abcde"},
		{name: "truncated", body: "abcdefgh", n: 3, want: "abc... (5 more bytes)"},
		{name: "no limit", body: "abcdefgh", n: 0, want: "abcdefgh"},
		{name: "cut inside a rune", body: "aé", n: 2, want: "a\uFFFD... (1 more bytes)"},
		{name: "invalid utf-8", body: "a\xffb", n: 10, want: "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := excerpt([]byte(tt.body), tt.n); got != tt.want {
				t.Errorf("excerpt = %q, want %q", got, tt.want)
			}
		})
	}
}
