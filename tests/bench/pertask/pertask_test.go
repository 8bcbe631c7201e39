// Package pertask compares each zerodowntime.rolling module with its Python
// peer, task for task, over the local connection and over a real SSH
// connection to Debian's sshd on 127.0.0.1:
//
//	haproxy_maint            vs community.general.haproxy        (real HAProxy)
//	deploy_verify            vs ansible.builtin.uri              (local HTTP server)
//	lb_drain / lb_register   vs community.aws.elb_target          (lbsim, ELBv2)
//	lb_drain / lb_register   vs hetzner.hcloud.hcloud_load_balancer_target (lbsim, Hetzner)
//
// Each variant is one ansible-playbook run of 5 alternating step A / step B
// actions (drain/ready, drain/register, verify/verify) on the same target
// and the same load balancer, after a raw task that opens the connection.
// Between actions a controller-side set_fact reads a probe served by this
// test: the bytes sent to sshd so far (through a counting proxy) and
// lbsim's API request counters. Every run starts with an empty remote cache
// (a fresh HOME), so the first action pays the build's transfer.
//
// Same end state for every variant: ours waits until drained / healthy.
// "peer" is the Python module as is; "peer+wait" adds its waiting options
// (community.general.haproxy wait: true, elb_target target_status) or,
// where it has none (hcloud, register), the until loop a user would write
// (uri on the Hetzner API, delay: 1, the most favourable common choice).
package pertask

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/benchkit"
	"github.com/zerodowntime/rolling/tests/bench/sshd"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

const cycles = 5 // A/B pairs per run: 10 actions

const (
	hzToken  = "lbsim-bench-token-0000000000000000000000000000000000000000000000000000000000"
	awsKeyID = "AKIALBSIMBENCH000001"
	awsKey   = "lbsimBenchSecretKey000000000000000000001"
)

// variant is one way of doing steps A and B; each step is one or more
// task bodies (YAML at task level, 6 spaces in).
type variant struct {
	name string
	ours bool
	a, b []string
}

// pair is a module and its peer on one world.
type pair struct {
	name     string
	aName    string // what step A is (drain, verify)
	bName    string
	variants []variant
	vars     map[string]any
	api      func() map[string]int64 // lbsim's API counters, nil without lbsim
}

// result is one variant's run.
type result struct {
	pair, variant, conn string
	ours                bool
	first               time.Duration   // the first action (step A, cold cache)
	a, b                []time.Duration // later actions
	firstBytes          int64           // sent to sshd during the first action
	laterBytes          []int64         // during each later action
	apiA, apiB          []int64         // API requests per action (lbsim)
	apiOps              map[string]int64
}

func (r result) mean() time.Duration {
	return benchkit.Mean(append(append([]time.Duration{}, r.a...), r.b...))
}

func TestBenchPerTask(t *testing.T) {
	benchkit.Gate(t)
	coll := ansibletest.Install(t)
	pairs := []pair{haproxyPair(t), verifyPair(t)}
	awsP, hzP := lbPairs(t)
	pairs = append(pairs, awsP, hzP)
	// ZDT_BENCH_PAIR=deploy_verify runs only the pairs whose name holds it.
	if only := os.Getenv("ZDT_BENCH_PAIR"); only != "" {
		pairs = slices.DeleteFunc(pairs, func(p pair) bool { return !strings.Contains(p.name, only) })
	}

	sshOK := sshd.Available() == ""
	var results []result
	for _, conn := range []string{"local", "ssh"} {
		if conn == "ssh" && !sshOK {
			t.Logf("SSH runs skipped: %s", sshd.Available())
			continue
		}
		for _, p := range pairs {
			for _, v := range p.variants {
				results = append(results, runVariant(t, coll, p, v, conn))
			}
		}
	}
	printTables(results)
}

// runVariant runs one playbook of alternating actions and measures it.
func runVariant(t *testing.T, coll *ansibletest.Collection, p pair, v variant, conn string) result {
	t.Helper()
	home := t.TempDir()
	var inv string
	var srv *sshd.Server
	opts := []ansibletest.Option{ansibletest.Vars(p.vars), ansibletest.Timeout(10 * time.Minute)}
	switch conn {
	case "local":
		inv = "target ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
		// The local connection's ~ is the controller's HOME: a fresh one
		// makes the first task find an empty cache, as over SSH. The
		// controller's own cache of unpacked builds stays the user's: it is
		// filled once per collection version (see the size benchmark).
		cacheDir, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, ansibletest.Env("HOME="+home, "XDG_CACHE_HOME="+cacheDir))
	case "ssh":
		srv = sshd.Start(t, sshd.Options{Home: home, Count: true})
		inv = "target " + srv.HostVars() + "\n"
	}
	opts = append(opts, ansibletest.Inventory(inv))
	probe := benchkit.NewProbe(t, func() map[string]any {
		m := map[string]any{"sent": int64(0), "api": int64(0), "ops": map[string]int64{}}
		if srv != nil {
			m["sent"] = srv.Proxy.Sent.Load()
		}
		if p.api != nil {
			ops := p.api()
			var n int64
			for _, c := range ops {
				n += c
			}
			m["api"], m["ops"] = n, ops
		}
		return m
	})

	var b strings.Builder
	b.WriteString("- hosts: target\n  gather_facts: false\n  tasks:\n")
	b.WriteString("    - name: connect\n      ansible.builtin.raw: \"true\"\n      changed_when: false\n")
	b.WriteString(benchkit.ProbeTask("probe/start", probe.URL))
	for i := 0; i < cycles; i++ {
		for _, step := range []struct {
			key   string
			tasks []string
		}{{"A", v.a}, {"B", v.b}} {
			for j, body := range step.tasks {
				fmt.Fprintf(&b, "    - name: act/%s/%d/%d\n%s", step.key, i, j, body)
			}
			b.WriteString(benchkit.ProbeTask(fmt.Sprintf("probe/%s/%d", step.key, i), probe.URL))
		}
	}
	if !v.ours {
		// The peers are other collections: what ansible-core deprecates in
		// them is not this collection's to fix.
		opts = append(opts, ansibletest.AllowDeprecations())
	}
	run := coll.Playbook(t, b.String(), opts...)
	if run.ExitCode != 0 {
		t.Fatalf("%s %s over %s: ansible-playbook exit %d\n%s\n%s", p.name, v.name, conn, run.ExitCode, run.Stdout, run.Stderr)
	}
	tasks, err := benchkit.Tasks(run.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	r := result{pair: p.name, variant: v.name, conn: conn, ours: v.ours, apiOps: map[string]int64{}}
	var prevSent, prevAPI float64
	var prevOps map[string]any
	action := 0
	for _, task := range tasks {
		if h := task.Hosts["target"]; strings.HasPrefix(task.Name, "act/") && h["failed"] == true {
			t.Fatalf("%s %s: task %s failed: %v", p.name, v.name, task.Name, h["msg"])
		}
		if !strings.HasPrefix(task.Name, "probe/") {
			continue
		}
		// Each probe runs right after an action (or, probe/start, before
		// the first): the differences are that action's bytes and requests.
		sent, api := benchkit.ProbeValue(task, "target", "sent"), benchkit.ProbeValue(task, "target", "api")
		ops := probeOps(task)
		if task.Name != "probe/start" {
			step := strings.Split(task.Name, "/")[1]
			if action == 0 {
				r.firstBytes = int64(sent - prevSent)
			} else {
				r.laterBytes = append(r.laterBytes, int64(sent-prevSent))
			}
			if step == "A" {
				r.apiA = append(r.apiA, int64(api-prevAPI))
			} else {
				r.apiB = append(r.apiB, int64(api-prevAPI))
			}
			for k, v := range ops {
				f, _ := v.(float64)
				g, _ := prevOps[k].(float64)
				r.apiOps[step+" "+k] += int64(f - g)
			}
			action++
		}
		prevSent, prevAPI, prevOps = sent, api, ops
	}
	timeActions(tasks, &r)
	if action != 2*cycles || len(r.a)+len(r.b)+1 != 2*cycles {
		t.Fatalf("%s %s: %d actions measured, want %d", p.name, v.name, action, 2*cycles)
	}
	return r
}

// timeActions sets each action's duration: its first task's start to its
// last task's end, so that nothing of the probe tasks is counted.
func timeActions(tasks []Task, r *result) {
	type span struct{ start, end time.Time }
	spans := map[string]*span{}
	var order []string
	for _, task := range tasks {
		if !strings.HasPrefix(task.Name, "act/") {
			continue
		}
		f := strings.Split(task.Name, "/") // act/A/i/j
		key := f[1] + "/" + f[2]
		s, ok := spans[key]
		if !ok {
			s = &span{start: task.Start}
			spans[key] = s
			order = append(order, key)
		}
		s.end = task.End
	}
	var a, b []time.Duration
	for i, key := range order {
		d := spans[key].end.Sub(spans[key].start)
		switch {
		case i == 0:
			r.first = d
		case strings.HasPrefix(key, "A/"):
			a = append(a, d)
		default:
			b = append(b, d)
		}
	}
	r.a, r.b = a, b
}

// Task aliases benchkit.Task for brevity.
type Task = benchkit.Task

func probeOps(task Task) map[string]any {
	m, _ := task.Hosts["target"]["ansible_facts"].(map[string]any)
	p, _ := m["probe"].(map[string]any)
	ops, _ := p["ops"].(map[string]any)
	return ops
}

func indent(n int, lines ...string) string {
	pad := strings.Repeat(" ", n)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(pad + l + "\n")
	}
	return b.String()
}

// module is a task body calling name with the given argument lines.
func module(name string, args ...string) string {
	return indent(6, name+":") + indent(8, args...)
}

func haproxyPair(t *testing.T) pair {
	a1 := haproxytest.StartApp(t, "web1")
	a2 := haproxytest.StartApp(t, "web2")
	h := haproxytest.Start(t, haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
		{Name: "web1", Addr: a1.Addr, Params: "check inter 500 rise 2 fall 2"},
		{Name: "web2", Addr: a2.Addr, Params: "check inter 500 rise 2 fall 2"},
	}}}})
	// The same tasks as tests/bench/haproxy.
	common := []string{`socket: "{{ sock }}"`, "backend: www"}
	return pair{
		name: "haproxy_maint vs community.general.haproxy", aName: "drain", bName: "ready",
		vars: map[string]any{"sock": h.Socket},
		variants: []variant{
			{name: "haproxy_maint", ours: true,
				a: []string{module("zerodowntime.rolling.haproxy_maint", append(common, "server: web1", "state: drain")...)},
				b: []string{module("zerodowntime.rolling.haproxy_maint", append(common, "server: web1", "state: ready")...)}},
			{name: "community.general.haproxy wait: true",
				a: []string{module("community.general.haproxy", append(common, "host: web1", "state: drain", "wait: true")...)},
				b: []string{module("community.general.haproxy", append(common, "host: web1", "state: enabled", "wait: true")...)}},
		},
	}
}

func verifyPair(t *testing.T) pair {
	srv := haproxytest.StartApp(t, "v2") // answers its name on /
	url := "http://" + srv.Addr + "/"
	ours := module("zerodowntime.rolling.deploy_verify", "url: "+url, "expect_body: v2")
	peer := module("ansible.builtin.uri", "url: "+url, "return_content: true") +
		indent(6, "register: r", "failed_when: r.content | trim != 'v2'")
	return pair{
		name: "deploy_verify vs ansible.builtin.uri", aName: "verify", bName: "verify",
		variants: []variant{
			{name: "deploy_verify", ours: true, a: []string{ours}, b: []string{ours}},
			{name: "ansible.builtin.uri", a: []string{peer}, b: []string{peer}},
		},
	}
}

// lbPairs starts one lbsim world (Hetzner LB and AWS target group in front
// of the same three backends) and returns the AWS and Hetzner pairs.
func lbPairs(t *testing.T) (pair, pair) {
	r := simtest.World{
		HetznerToken: hzToken, AWSKeyID: awsKeyID, AWSSecret: awsKey,
		CheckInterval: 250 * time.Millisecond, CheckTimeout: time.Second, Retries: 2,
		ActionDelay: 250 * time.Millisecond, DeregistrationDelay: 5 * time.Second,
		Healthy: 15 * time.Second,
	}.Start(t, simtest.Hosts(3))
	s, ep := r.Sim, r.Endpoints
	api := func(prefix string) func() map[string]int64 {
		return func() map[string]int64 {
			out := map[string]int64{}
			for op, n := range s.Counts().API {
				if strings.HasPrefix(op, prefix) || strings.HasPrefix(op, "metadata") {
					out[op] = n
				}
			}
			return out
		}
	}
	vars := map[string]any{"aws_api": ep.AWSAPI, "aws_key_id": awsKeyID, "aws_secret": awsKey,
		"hz_api": ep.HetznerAPI, "hz_token": hzToken}

	awsOurs := []string{"provider: aws", "region: eu-central-1", `endpoint_url: "{{ aws_api }}"`,
		`access_key: "{{ aws_key_id }}"`, `secret_key: "{{ aws_secret }}"`,
		"target_group_names: [web-tg]", "target: i-0000000000000001", "timeout: 30"}
	awsPeer := []string{"region: eu-central-1", `endpoint_url: "{{ aws_api }}"`,
		`access_key: "{{ aws_key_id }}"`, `secret_key: "{{ aws_secret }}"`,
		"target_group_name: web-tg", "target_id: i-0000000000000001"}
	awsPair := pair{
		name: "lb_drain/lb_register vs community.aws.elb_target", aName: "drain", bName: "register",
		vars: vars, api: api("aws "),
		variants: []variant{
			{name: "lb_drain / lb_register (aws)", ours: true,
				a: []string{module("zerodowntime.rolling.lb_drain", awsOurs...)},
				b: []string{module("zerodowntime.rolling.lb_register", awsOurs...)}},
			{name: "elb_target (peer as is)",
				a: []string{module("community.aws.elb_target", append(awsPeer, "state: absent")...)},
				b: []string{module("community.aws.elb_target", append(awsPeer, "state: present")...)}},
			{name: "elb_target + target_status (peer+wait)",
				a: []string{module("community.aws.elb_target", append(awsPeer, "state: absent", "target_status: unused", "target_status_timeout: 30")...)},
				b: []string{module("community.aws.elb_target", append(awsPeer, "state: present", "target_status: healthy", "target_status_timeout: 30")...)}},
		},
	}

	hzOurs := []string{"provider: hetzner", "load_balancer: web-lb", "target: app-1",
		`api_token: "{{ hz_token }}"`, `endpoint: "{{ hz_api }}"`, "timeout: 30"}
	hzPeer := []string{"type: server", "load_balancer: web-lb", "server: app-1",
		`api_token: "{{ hz_token }}"`, `endpoint: "{{ hz_api }}"`}
	// What a user writes to wait for health: hcloud_load_balancer_info
	// does not return target health, so ask the API.
	hzWait := module("ansible.builtin.uri",
		`url: "{{ hz_api }}/load_balancers/1"`,
		`headers: {Authorization: "Bearer {{ hz_token }}"}`,
		"return_content: true") +
		indent(6, "register: lb",
			"until: >-",
			"  (lb.json.load_balancer.targets | selectattr('server.id', 'equalto', 101) | list | length == 1) and",
			"  (lb.json.load_balancer.targets | selectattr('server.id', 'equalto', 101) | first).health_status",
			"  | rejectattr('status', 'equalto', 'healthy') | list | length == 0",
			"retries: 30", "delay: 1")
	hzPair := pair{
		name: "lb_drain/lb_register vs hetzner.hcloud.hcloud_load_balancer_target", aName: "drain", bName: "register",
		vars: vars, api: api("hetzner "),
		variants: []variant{
			{name: "lb_drain / lb_register (hetzner)", ours: true,
				a: []string{module("zerodowntime.rolling.lb_drain", hzOurs...)},
				b: []string{module("zerodowntime.rolling.lb_register", hzOurs...)}},
			{name: "hcloud_load_balancer_target (peer as is)",
				a: []string{module("hetzner.hcloud.hcloud_load_balancer_target", append(hzPeer, "state: absent")...)},
				b: []string{module("hetzner.hcloud.hcloud_load_balancer_target", append(hzPeer, "state: present")...)}},
			{name: "hcloud_load_balancer_target + until (peer+wait)",
				// Removal waits for the action already: Hetzner has no
				// draining state, so "drained" is "removed", as for ours.
				a: []string{module("hetzner.hcloud.hcloud_load_balancer_target", append(hzPeer, "state: absent")...)},
				b: []string{module("hetzner.hcloud.hcloud_load_balancer_target", append(hzPeer, "state: present")...), hzWait}},
		},
	}
	return awsPair, hzPair
}

func printTables(results []result) {
	// Ours per pair and connection, for the ratio column.
	ours := map[string]result{}
	for _, r := range results {
		if r.ours {
			ours[r.pair+"|"+r.conn] = r
		}
	}
	per := &benchkit.Table{
		Title: fmt.Sprintf("Per-task time, module vs Python peer: %d alternating actions per run (step A / step B), same target, same load balancer; "+
			"'1st' is the first action (cold remote cache: the build is sent), medians and mean over the other %d", 2*cycles, 2*cycles-1),
		Head: []string{"module (variant)", "conn", "1st", "A med", "B med", "mean", "peer/ours"},
	}
	lastPair := ""
	for _, conn := range []string{"local", "ssh"} {
		for _, r := range results {
			if r.conn != conn {
				continue
			}
			if r.pair != lastPair {
				per.Add("["+r.pair+"]", "", "", "", "", "", "")
				lastPair = r.pair
			}
			ratio := "1.00x"
			if !r.ours {
				ratio = benchkit.Ratio(r.mean(), ours[r.pair+"|"+r.conn].mean())
			}
			per.Add("  "+r.variant, r.conn, benchkit.Ms(r.first), benchkit.Ms(benchkit.Median(r.a)), benchkit.Ms(benchkit.Median(r.b)),
				benchkit.Ms(r.mean()), ratio)
		}
	}
	per.Notes = []string{
		"A/B: haproxy drain/ready, verify verify/verify, lb drain/register. peer/ours: mean per task, peer over ours (>1: ours is faster).",
		"peer+wait for hcloud register = hcloud_load_balancer_target + uri until healthy (delay: 1); its drain equals 'as is'.",
	}
	per.Print()

	xfer := &benchkit.Table{
		Title: "Bytes sent to the host over SSH (counting proxy in front of sshd: client->server bytes, SSH framing included), per action",
		Head:  []string{"module (variant)", "1st action", "later: median", "later: max", "later total"},
	}
	for _, r := range results {
		if r.conn != "ssh" {
			continue
		}
		med, max, sum := stats(r.laterBytes)
		xfer.Add(r.variant, benchkit.Bytes(r.firstBytes), benchkit.Bytes(med), benchkit.Bytes(max), benchkit.Bytes(sum))
	}
	if len(xfer.Rows) > 0 {
		xfer.Notes = []string{"ours: the 1st action carries the smallest build holding the module (zdt-host_linux_amd64 for haproxy_maint and deploy_verify, zdt_linux_amd64 for lb_drain/lb_register), gzipped, into ~/.ansible/zerodowntime_rolling; later actions send only the command and the JSON arguments."}
		xfer.Print()
	}

	api := &benchkit.Table{
		Title: "Cloud API requests per drained / registered host (lbsim Counts(), local connection, every action incl. the 1st)",
		Head:  []string{"module (variant)", "per drain", "per register"},
	}
	for _, r := range results {
		if r.conn != "local" || len(r.apiA) == 0 || !strings.HasPrefix(r.pair, "lb_") {
			continue
		}
		api.Add(r.variant, meanInt(r.apiA), meanInt(r.apiB))
		for _, step := range []string{"A", "B"} {
			var ops []string
			for k, v := range r.apiOps {
				if op, ok := strings.CutPrefix(k, step+" "); ok && v > 0 {
					ops = append(ops, fmt.Sprintf("%s %.1f", op, float64(v)/cycles))
				}
			}
			sort.Strings(ops)
			name := map[string]string{"A": "drain", "B": "register"}[step]
			api.Notes = append(api.Notes, fmt.Sprintf("%s, per %s: %s", r.variant, name, strings.Join(ops, ", ")))
		}
	}
	api.Print()
}

func stats(xs []int64) (med, max, sum int64) {
	if len(xs) == 0 {
		return -1, -1, -1
	}
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	for _, x := range s {
		sum += x
	}
	return s[len(s)/2], s[len(s)-1], sum
}

func meanInt(xs []int64) string {
	if len(xs) == 0 {
		return "-"
	}
	var sum int64
	for _, x := range xs {
		sum += x
	}
	return fmt.Sprintf("%.1f", float64(sum)/float64(len(xs)))
}
