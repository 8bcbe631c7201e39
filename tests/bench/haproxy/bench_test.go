// Package haproxy compares zerodowntime.rolling.haproxy_maint with
// community.general.haproxy against the same real HAProxy, through
// ansible-playbook. It runs only with ZDT_BENCH=1 (make bench).
package haproxy

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/benchkit"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

const (
	pairs   = 10 // 20 alternating drain/ready tasks
	repeats = 5  // drains with a request in flight, per module
)

func TestBenchHaproxyMaintVsCommunityGeneral(t *testing.T) {
	if os.Getenv("ZDT_BENCH") != "1" {
		t.Skip("benchmark: set ZDT_BENCH=1 (make bench)")
	}
	coll := ansibletest.Install(t)
	a1 := haproxytest.StartApp(t, "web1")
	a2 := haproxytest.StartApp(t, "web2")
	h := haproxytest.Start(t, haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
		{Name: "web1", Addr: a1.Addr, Params: "check inter 500 rise 2 fall 2"},
		{Name: "web2", Addr: a2.Addr, Params: "check inter 500 rise 2 fall 2"},
	}}}})
	vars := ansibletest.Vars(map[string]any{"sock": h.Socket})

	// 1. Per-task time over 20 alternating drain/ready tasks.
	ours := alternating("zerodowntime.rolling.haproxy_maint",
		indent("socket: \"{{ sock }}\"", "server: web1", "backend: www", "state: drain"),
		indent("socket: \"{{ sock }}\"", "server: web1", "backend: www", "state: ready"))
	peer := alternating("community.general.haproxy",
		indent("socket: \"{{ sock }}\"", "host: web1", "backend: www", "state: drain", "wait: true"),
		indent("socket: \"{{ sock }}\"", "host: web1", "backend: www", "state: enabled", "wait: true"))
	type row struct {
		name                string
		drain, ready, total time.Duration
	}
	var rows []row
	for _, c := range []struct{ name, play string }{{"haproxy_maint", ours}, {"community.general.haproxy", peer}} {
		run := coll.Playbook(t, c.play, vars, ansibletest.AllowDeprecations())
		if run.ExitCode != 0 {
			t.Fatalf("%s: exit %d", c.name, run.ExitCode)
		}
		tt := taskTimes(t, run.Stdout)
		d, r := durations(tt["drain"]), durations(tt["ready"])
		var total time.Duration
		for _, x := range append(d, r...) {
			total += x
		}
		rows = append(rows, row{c.name, median(d), median(r), total / time.Duration(len(d)+len(r))})
	}

	// 2. Drain with a 2 s request in flight: request end -> task end.
	type lagRow struct {
		name     string
		lag, max time.Duration
	}
	var lags []lagRow
	for _, c := range []struct{ name, task string }{
		{"haproxy_maint (interval 0.1, default)", "zerodowntime.rolling.haproxy_maint:\n" +
			indent("socket: \"{{ sock }}\"", "server: web1", "backend: www", "state: drain")},
		{"community.general.haproxy (wait_interval 5, default)", "community.general.haproxy:\n" +
			indent("socket: \"{{ sock }}\"", "host: web1", "backend: www", "state: drain", "drain: true", "wait: true")},
		{"community.general.haproxy (wait_interval 1, its minimum)", "community.general.haproxy:\n" +
			indent("socket: \"{{ sock }}\"", "host: web1", "backend: www", "state: drain", "drain: true", "wait: true", "wait_interval: 1")},
	} {
		var ls []time.Duration
		for range repeats {
			ls = append(ls, inFlightLag(t, coll, h, a1, c.task, vars))
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
		lags = append(lags, lagRow{c.name, median(ls), ls[len(ls)-1]})
	}

	version := ""
	for _, l := range strings.Split(h.Command(t, "show info"), "\n") {
		if v, ok := strings.CutPrefix(l, "Version: "); ok {
			version = v
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d alternating drain/ready tasks per module; HAProxy %s; ansible-playbook, local connection\n", 2*pairs, version)
	fmt.Fprintf(&b, "%-28s %12s %12s %12s\n", "module", "drain (med)", "ready (med)", "mean/task")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-28s %12s %12s %12s\n", r.name, r.drain.Round(time.Millisecond), r.ready.Round(time.Millisecond), r.total.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "per-task time ratio community.general.haproxy / haproxy_maint: %.2f\n\n", float64(rows[1].total)/float64(rows[0].total))
	fmt.Fprintf(&b, "drain with a 2 s request in flight: request end -> task end, %d runs each\n", repeats)
	fmt.Fprintf(&b, "%-58s %8s %8s\n", "module", "median", "max")
	for _, l := range lags {
		fmt.Fprintf(&b, "%-58s %8s %8s\n", l.name, l.lag.Round(time.Millisecond), l.max.Round(time.Millisecond))
	}
	t.Log(b.String())
}

// inFlightLag holds a 2 s request on web1, runs a drain task and returns the
// time from the request's end to the task's end.
func inFlightLag(t *testing.T, coll *ansibletest.Collection, h *haproxytest.HAProxy, a1 *haproxytest.App, task string, vars ansibletest.Option) time.Duration {
	t.Helper()
	h.Command(t, "set server www/web1 state ready")
	h.Command(t, "set server www/web2 state maint") // pin the request to web1
	reqEnd := make(chan time.Time, 1)
	go func() {
		haproxytest.Get(context.Background(), h.Frontend(), "/sleep?d=2s")
		reqEnd <- time.Now()
	}()
	for a1.Active() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	h.Command(t, "set server www/web2 state ready")
	run := coll.Playbook(t, "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: drain\n      "+task+"\n", vars)
	if run.ExitCode != 0 {
		t.Fatalf("exit %d", run.ExitCode)
	}
	end := <-reqEnd
	return taskTimes(t, run.Stdout)["drain"][0][1].Sub(end)
}

// taskTimes is each task's start and end, by name, from the json
// callback's document.
func taskTimes(t *testing.T, stdout string) map[string][][2]time.Time {
	t.Helper()
	tasks, err := benchkit.Tasks(stdout)
	if err != nil {
		t.Fatalf("json callback output: %v", err)
	}
	out := map[string][][2]time.Time{}
	for _, task := range tasks {
		out[task.Name] = append(out[task.Name], [2]time.Time{task.Start, task.End})
	}
	return out
}

func alternating(module, drain, ready string) string {
	var b strings.Builder
	b.WriteString("- hosts: localhost\n  gather_facts: false\n  tasks:\n")
	for range pairs {
		fmt.Fprintf(&b, "    - name: drain\n      %s:\n%s\n", module, drain)
		fmt.Fprintf(&b, "    - name: ready\n      %s:\n%s\n", module, ready)
	}
	return b.String()
}

func indent(lines ...string) string {
	for i, l := range lines {
		lines[i] = "        " + l
	}
	return strings.Join(lines, "\n")
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func durations(spans [][2]time.Time) []time.Duration {
	var out []time.Duration
	for _, s := range spans {
		out = append(out, s[1].Sub(s[0]))
	}
	return out
}
