package lbtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that keeps what the server reports and runs
// its cleanups on demand.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// finish runs the cleanups (the server's end-of-test check) and returns
// every report.
func (r *recorder) finish() []string {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	return r.errors
}

func call(t *testing.T, s *Server, action, arn string) string {
	t.Helper()
	resp, err := http.PostForm(s.URL, url.Values{"Action": {action}, "TargetGroupArn": {arn}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

func describe(arn string, status int) Exchange {
	return Exchange{Action: "DescribeTargetHealth", Form: map[string]string{"TargetGroupArn": arn}, Status: status}
}

func TestAnyOrder(t *testing.T) {
	tests := []struct {
		name  string
		calls [][2]string // action, arn
		want  []string    // statuses answered
		errs  []string    // substrings of the reports, in order
	}{
		{
			name:  "the group's requests in the listed order",
			calls: [][2]string{{"DescribeTargetHealth", "a"}, {"DescribeTargetHealth", "b"}, {"DeregisterTargets", "a"}},
			want:  []string{"201", "202", "200"},
		},
		{
			name:  "the group's requests in the other order are answered by their own exchanges",
			calls: [][2]string{{"DescribeTargetHealth", "b"}, {"DescribeTargetHealth", "a"}, {"DeregisterTargets", "a"}},
			want:  []string{"202", "201", "200"},
		},
		{
			name:  "a request the group does not hold is reported",
			calls: [][2]string{{"DescribeTargetHealth", "a"}, {"DescribeTargetHealth", "c"}, {"DeregisterTargets", "a"}},
			want:  []string{"201", "202", "200"},
			errs:  []string{`want TargetGroupArn="b", got "c"`},
		},
		{
			name:  "the next step waits until the group is complete",
			calls: [][2]string{{"DescribeTargetHealth", "a"}, {"DeregisterTargets", "a"}, {"DescribeTargetHealth", "b"}},
			want:  []string{"201", "202", "200"},
			errs:  []string{"want action DescribeTargetHealth, got DeregisterTargets", "want action DeregisterTargets, got DescribeTargetHealth"},
		},
		{
			name:  "only the group's unused exchanges are missing",
			calls: [][2]string{{"DescribeTargetHealth", "b"}},
			want:  []string{"202"},
			errs:  []string{"2 expected steps never came: any order of (DescribeTargetHealth), DeregisterTargets"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			s := New(rec,
				AnyOrder(describe("a", 201), describe("b", 202)),
				Exchange{Action: "DeregisterTargets", Form: map[string]string{"TargetGroupArn": "a"}},
			)
			var got []string
			for _, c := range tt.calls {
				got = append(got, call(t, s, c[0], c[1]))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("answers %v, want %v", got, tt.want)
			}
			reports := rec.finish()
			if len(reports) != len(tt.errs) {
				t.Fatalf("reports %q, want %d", reports, len(tt.errs))
			}
			for i, want := range tt.errs {
				if !strings.Contains(reports[i], want) {
					t.Errorf("report %d: %q, want it to contain %q", i, reports[i], want)
				}
			}
		})
	}
}
