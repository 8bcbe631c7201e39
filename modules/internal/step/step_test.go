package step

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// phases records the phases a run goes through and fails the one named.
type phases struct {
	did      []string
	failIn   string
	timeout  time.Duration
	setup    time.Duration // the lookup's deadline, from now
	deadline time.Time     // as Wait got it
	ctxEnd   time.Time     // Wait's context's deadline
}

func (p *phases) phase(name string) error {
	p.did = append(p.did, name)
	if p.failIn == name {
		return errors.New(name + " failed")
	}
	return nil
}

func (p *phases) Lookup(ctx context.Context) error {
	d, _ := ctx.Deadline()
	p.setup = time.Until(d)
	return p.phase("lookup")
}
func (p *phases) Plan(context.Context) (time.Duration, error) { return p.timeout, p.phase("plan") }
func (p *phases) Predict() ansible.Result {
	p.phase("predict")
	return ansible.Result{Msg: "predicted"}
}
func (p *phases) Apply(context.Context) error { return p.phase("apply") }
func (p *phases) Wait(ctx context.Context, deadline time.Time) error {
	p.deadline = deadline
	p.ctxEnd, _ = ctx.Deadline()
	return p.phase("wait")
}
func (p *phases) Report() ansible.Result {
	p.phase("report")
	return ansible.Result{Msg: "done"}
}
func (p *phases) Fail(_ context.Context, err error) (ansible.Result, error) {
	p.phase("fail")
	return ansible.Result{Msg: "failed"}, err
}

func TestRun(t *testing.T) {
	start := time.Now()
	for _, tc := range []struct {
		check  bool
		failIn string
		want   string
	}{
		{want: "lookup plan apply wait report"},
		{check: true, want: "lookup plan predict"},
		{failIn: "lookup", want: "lookup fail"},
		{failIn: "plan", want: "lookup plan fail"},
		{check: true, failIn: "plan", want: "lookup plan fail"},
		{failIn: "apply", want: "lookup plan apply fail"},
		{failIn: "wait", want: "lookup plan apply wait fail"},
	} {
		p := &phases{failIn: tc.failIn, timeout: time.Minute}
		res, err := Run(context.Background(), &ansible.Module{CheckMode: tc.check}, p, Limits{Start: start})
		name := fmt.Sprintf("check=%v fail in %q", tc.check, tc.failIn)
		if got := strings.Join(p.did, " "); got != tc.want {
			t.Errorf("%s: phases %q, want %q", name, got, tc.want)
		}
		if (err != nil) != (tc.failIn != "") || (err != nil && res.Msg != "failed") {
			t.Errorf("%s: result %q, error %v", name, res.Msg, err)
		}
		if tc.failIn == "" && !tc.check && !p.deadline.Equal(start.Add(time.Minute)) {
			t.Errorf("%s: wait deadline %v, want start + the planned timeout", name, p.deadline.Sub(start))
		}
	}
}

func TestRunSetupDeadline(t *testing.T) {
	for timeout, want := range map[int]time.Duration{0: SetupTimeout, 7: 7 * time.Second} {
		p := &phases{}
		Run(context.Background(), &ansible.Module{CheckMode: true}, p, Limits{Timeout: timeout, Start: time.Now()})
		if p.setup > want || p.setup < want-time.Minute/2 {
			t.Errorf("timeout %d: the lookup had %s, want about %s", timeout, p.setup, want)
		}
	}
}

func TestRunGrace(t *testing.T) {
	start := time.Now()
	for _, grace := range []time.Duration{0, 5 * time.Second} {
		p := &phases{timeout: time.Minute}
		Run(context.Background(), &ansible.Module{}, p, Limits{Start: start, Grace: grace})
		if !p.deadline.Equal(start.Add(time.Minute)) {
			t.Errorf("grace %s: wait deadline %v, want start + the planned timeout", grace, p.deadline.Sub(start))
		}
		if want := start.Add(time.Minute + grace); !p.ctxEnd.Equal(want) {
			t.Errorf("grace %s: Wait's context ends at start + %v, want start + %v", grace, p.ctxEnd.Sub(start), want.Sub(start))
		}
	}
}
