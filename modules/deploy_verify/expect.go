package deployverify

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// expectations is what a response must show to count as a pass.
type expectations struct {
	status  []int
	body    *string
	regex   *regexp.Regexp
	json    map[string]any
	headers map[string]string
}

func newExpectations(a args) (*expectations, error) {
	e := &expectations{status: a.ExpectStatus, body: a.ExpectBody, json: a.ExpectJSON}
	if len(e.status) == 0 {
		e.status = []int{200}
	}
	for _, s := range e.status {
		if s < 100 || s > 599 {
			return nil, fmt.Errorf("expect_status: %d is not an HTTP status code (100-599)", s)
		}
	}
	if a.ExpectRegex != nil {
		re, err := regexp.Compile(*a.ExpectRegex)
		if err != nil {
			return nil, fmt.Errorf("expect_regex: %q is not a valid regular expression (Go RE2 syntax): %v", *a.ExpectRegex, err)
		}
		e.regex = re
	}
	if len(a.ExpectHeaders) > 0 {
		e.headers = map[string]string{}
		for k, v := range a.ExpectHeaders {
			e.headers[http.CanonicalHeaderKey(k)] = fmt.Sprint(v)
		}
	}
	for path := range e.json {
		if path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") {
			return nil, fmt.Errorf("expect_json: %q is not a dotted path such as 'build.version' or 'items.0.id'", path)
		}
	}
	return e, nil
}

// mismatch returns why o does not meet the expectations, or "".
func (e *expectations) mismatch(o observation) string {
	if o.err != nil {
		return o.err.Error()
	}
	ok := false
	for _, s := range e.status {
		if o.status == s {
			ok = true
		}
	}
	if !ok {
		return fmt.Sprintf("status %d not in %v", o.status, e.status)
	}
	if e.body != nil && strings.TrimRight(string(o.body), "\r\n") != strings.TrimRight(*e.body, "\r\n") {
		return "body differs"
	}
	if e.regex != nil && !e.regex.Match(o.body) {
		return "body does not match expect_regex"
	}
	for _, name := range slices.Sorted(maps.Keys(e.headers)) {
		if got := o.header.Get(name); got != e.headers[name] {
			return fmt.Sprintf("header %s is %q, expected %q", name, got, e.headers[name])
		}
	}
	if len(e.json) > 0 {
		var doc any
		if err := json.Unmarshal(o.body, &doc); err != nil {
			return "body is not JSON"
		}
		for _, path := range slices.Sorted(maps.Keys(e.json)) {
			got, found := lookup(doc, path)
			if !found {
				return fmt.Sprintf("JSON has no %s", path)
			}
			if !sameJSON(got, e.json[path]) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(e.json[path])
				return fmt.Sprintf("JSON %s is %s, expected %s", path, g, w)
			}
		}
	}
	return ""
}

// describe says what is expected, for the failure message.
func (e *expectations) describe() string {
	var parts []string
	parts = append(parts, fmt.Sprintf("status in %v", e.status))
	if e.body != nil {
		parts = append(parts, fmt.Sprintf("body %q", *e.body))
	}
	if e.regex != nil {
		parts = append(parts, fmt.Sprintf("body matching /%s/", e.regex))
	}
	for _, k := range slices.Sorted(maps.Keys(e.headers)) {
		parts = append(parts, fmt.Sprintf("header %s: %q", k, e.headers[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(e.json)) {
		w, _ := json.Marshal(e.json[k])
		parts = append(parts, fmt.Sprintf("JSON %s = %s", k, w))
	}
	return strings.Join(parts, ", ")
}

// lookup follows a dotted path through objects and arrays ("items.0.id").
func lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, key := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[key]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// sameJSON compares a JSON value with an expected one from YAML, where
// numbers may arrive as int64 or float64 and a quoted scalar ("2") is meant to
// match the number 2 or the string "2" alike.
func sameJSON(got, want any) bool {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) == string(w) {
		return true
	}
	var gn, wn any
	if json.Unmarshal(g, &gn) == nil && json.Unmarshal(w, &wn) == nil && fmt.Sprint(gn) == fmt.Sprint(wn) {
		switch gn.(type) {
		case map[string]any, []any:
			return false
		}
		return true
	}
	return false
}
