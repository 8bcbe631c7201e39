package lb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/watch"
)

// watchSignals runs WatchSignals over pools with extra options; it returns
// the signals or the module's failure message.
func watchSignals(t *testing.T, extra map[string]any, pools ...lb.Pool) ([]watch.Signal, string) {
	t.Helper()
	open := func(context.Context, *ansible.Module, lb.Args, lb.Env) (lb.Provider, error) {
		return fakeProvider{pools: pools}, nil
	}
	args := map[string]any{"provider": "hetzner", "load_balancer": "web-lb", "api_token": "fake-token-3f9a1c", "target": "1"}
	maps.Copy(args, extra)
	data, _ := json.Marshal(args)
	var sigs []watch.Signal
	run := func(ctx context.Context, m *ansible.Module, a lb.Args) (ansible.Result, error) {
		var err error
		sigs, err = lb.NewRunner(open).WatchSignals(ctx, m, a)
		return ansible.Result{}, err
	}
	var buf bytes.Buffer
	ansible.RunArgs(context.Background(), lb.NewSpec("deploy_watch", lb.WatchOptions), data, &buf, run)
	var out map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("output: %v\n%s", err, buf.String())
	}
	msg, _ := out["msg"].(string)
	return sigs, msg
}

// TestWatchHealthStates: every state but healthy fails the check at once,
// naming the pool, the port, the state and the reason.
func TestWatchHealthStates(t *testing.T) {
	healthy := []lb.Member{member("1", lb.StateHealthy), member("2", lb.StateHealthy)}
	unhealthy := member("1", lb.StateUnhealthy)
	unhealthy.Health[0].Reason, unhealthy.Health[0].Description = "Target.Timeout", "Request timed out"
	twoPorts := lb.Member{Target: lb.Target{Type: lb.TypeServer, ID: "1"},
		Health: []lb.PortHealth{{Port: 443, State: lb.StateHealthy}, {Port: 80, State: lb.StateDraining, Reason: "Target.DeregistrationInProgress"}}}
	for _, tc := range []struct {
		name  string
		later []lb.Member
		want  string
	}{
		{"healthy", healthy, ""},
		{"unhealthy", []lb.Member{unhealthy}, "target 1 is unhealthy on port 80 (Target.Timeout: Request timed out) (a target must stay healthy"},
		{"draining on one port", []lb.Member{twoPorts}, "target 1 is draining on port 80 (Target.DeregistrationInProgress) ("},
		{"initial", []lb.Member{member("1", lb.StateInitial)}, "1 is initial on port 80 ("},
		{"unused", []lb.Member{member("1", lb.StateUnused)}, "1 is unused on port 80 ("},
		{"gone", []lb.Member{member("2", lb.StateHealthy)}, "target 1 is not registered (a target must stay healthy"},
		{"no health", []lb.Member{{Target: lb.Target{ID: "1"}}}, "1 has no health reported ("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakePool{name: "web", states: [][]lb.Member{healthy, tc.later}}
			sigs, msg := watchSignals(t, nil, p)
			if len(sigs) != 1 {
				t.Fatalf("signals = %v (%s)", sigs, msg)
			}
			if err := sigs[0].Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			f, err := sigs[0].Check(context.Background())
			if err != nil || f.Failed != (tc.want != "") || !strings.Contains(f.Msg, tc.want) {
				t.Errorf("check = %+v, %v; want a failure containing %q", f, err, tc.want)
			}
			rep := sigs[0].Report()
			if rep["pool"] != "web" || fmt.Sprint(rep["before"]) == fmt.Sprint(rep["after"]) != (tc.want == "") {
				t.Errorf("report = %v", rep)
			}
		})
	}
}

// TestWatchHealthAtStart: a target not healthy when the window starts
// fails the first check, even if it recovers before it.
func TestWatchHealthAtStart(t *testing.T) {
	p := &fakePool{name: "web", states: [][]lb.Member{{member("1", lb.StateUnhealthy)}, {member("1", lb.StateHealthy)}}}
	sigs, _ := watchSignals(t, nil, p)
	if err := sigs[0].Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f, err := sigs[0].Check(context.Background())
	if err != nil || !f.Failed || !strings.Contains(f.Msg, "target 1 is unhealthy on port 80 at the start of the window") {
		t.Errorf("first check = %+v %v", f, err)
	}
	if f, _ := sigs[0].Check(context.Background()); f.Failed {
		t.Errorf("second check, healthy: %+v", f)
	}
}

// TestWatchAlarmsOption: alarms is checked before anything is read.
func TestWatchAlarmsOption(t *testing.T) {
	many := make([]string, lb.MaxAlarms+1)
	for i := range many {
		many[i] = fmt.Sprintf("a%d", i)
	}
	aws := map[string]any{"provider": "aws", "target_group_names": []string{"web"}, "region": "eu-west-1",
		"access_key": "AKIAFAKE", "secret_key": "fake-secret-9d2e", "load_balancer": nil, "api_token": nil}
	withAWS := func(alarms []string) map[string]any {
		m := maps.Clone(aws)
		m["alarms"] = alarms
		return m
	}
	for _, tc := range []struct {
		extra map[string]any
		want  string
	}{
		{map[string]any{"alarms": []string{"web-5xx"}}, "alarms names CloudWatch alarms, which provider hetzner does not have"},
		{withAWS([]string{"a", " "}), "alarms holds an empty name (entry 2)"},
		{withAWS([]string{"a", "b", "a"}), `alarms names "a" twice`},
		{withAWS(many), "alarms names 101 alarms; CloudWatch reads at most 100"},
	} {
		p := &fakePool{name: "web", states: [][]lb.Member{{member("1", lb.StateHealthy)}}}
		sigs, msg := watchSignals(t, tc.extra, p)
		if sigs != nil || !strings.Contains(msg, tc.want) || p.reads != 0 {
			t.Errorf("alarms %v: %v %q (reads %d), want %q", tc.extra["alarms"], sigs, msg, p.reads, tc.want)
		}
	}
}

// TestWatchEveryPool: one signal per pool, each named by its pool; the
// pool where the target turns bad is the one that fails.
func TestWatchEveryPool(t *testing.T) {
	healthy := []lb.Member{member("1", lb.StateHealthy)}
	a := &fakePool{name: "web-a", states: [][]lb.Member{healthy}}
	b := &fakePool{name: "web-b", states: [][]lb.Member{healthy, {member("1", lb.StateUnhealthy)}}}
	sigs, msg := watchSignals(t, map[string]any{"load_balancer": []string{"web-a", "web-b"}}, a, b)
	if len(sigs) != 2 || sigs[0].Name() != "load balancer web-a" || sigs[1].Name() != "load balancer web-b" {
		t.Fatalf("signals = %v (%s)", sigs, msg)
	}
	var failed []string
	for _, s := range sigs {
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if f, err := s.Check(context.Background()); err != nil || f.Failed {
			failed = append(failed, s.Name()+": "+f.Msg)
		}
	}
	if len(failed) != 1 || !strings.HasPrefix(failed[0], "load balancer web-b: target 1 is unhealthy") {
		t.Errorf("failed = %q, want web-b only", failed)
	}
}
