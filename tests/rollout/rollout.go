// Package rollout is the zero-downtime proof: it sets up app hosts behind a
// load balancer on loopback, sends continuous traffic through the load
// balancer while the zerodowntime.rolling.deploy playbook rolls a new
// version across the hosts, and reports every request that failed.
//
// Each app host is a tests/demoapp process on its own loopback address
// (127.0.N.11, .12, ...), the load balancer is a real HAProxy or lbsim
// in-process (Hetzner or AWS), and every inventory host runs on the
// controller with ansible_connection=local.
//
//	s, err := rollout.Setup(ctx, rollout.Options{LB: "haproxy", Playbook: pb})
//	defer s.Close()
//	rep, err := s.Run(ctx)
//
// make demo (tests/demo) and this package's tests drive the same harness.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
	"github.com/zerodowntime/rolling/tests/progress"
	"gopkg.in/yaml.v3"
)

// Options describes a scenario.
type Options struct {
	// LB is haproxy (default), hetzner or aws.
	LB string
	// HAProxyNodes is the number of HAProxy nodes in front of the same app
	// hosts (LB haproxy; default 1), as in an active/active pair behind DNS
	// round robin: inventory hosts lb1, lb2, ... in group haproxy, each with
	// its own front end and stats socket (its deploy_haproxy_socket host
	// variable), and the load spread over their front ends.
	HAProxyNodes int
	// Hosts is the number of app hosts (default 3, at most 40).
	Hosts int
	// Net is the third octet of the app hosts' addresses, 127.0.Net.11 and
	// up (default 1). Scenarios that run at once need different ones.
	Net int
	// Port is the apps' port (default 8081).
	Port int
	// Dir is the working directory; default a new temporary one, removed
	// by Close.
	Dir string
	// Demoapp is a built tests/demoapp binary; default: built into Dir.
	Demoapp string
	// OldVersion and NewVersion default to v1 and v2.
	OldVersion, NewVersion string
	// Broken maps a host name (app-2) to the -broken mode of its new
	// release: nostart, stale-token, unhealthy or errors.
	Broken map[string]string
	// Naive deploys with deploy_lb: none and the same tasks file: each app
	// is restarted while the load balancer still sends it traffic. It
	// proves the harness sees failures.
	Naive bool
	// BootDelay is how long the new version takes to boot (demoapp
	// -start-delay; default 3s, negative for none), like a real app
	// loading its code and warming up. It must be longer than HAProxy's
	// retries of refused connections (3 retries a second apart) for a
	// naive restart to show behind HAProxy.
	BootDelay time.Duration
	// StartNoWait makes the deploy and rollback tasks start the app with
	// demoapp -daemon -daemon-wait=false: the start returns at once and
	// the app listens BootDelay later, like systemctl restart of a
	// Type=simple unit. By default the start waits until the app listens.
	StartNoWait bool
	// Rollback gives the role a rollback tasks file that restarts the old
	// version.
	Rollback bool
	// RollbackBroken maps a host name to the -broken mode of the old
	// version as the rollback restarts it: a rollback that does not
	// bring a healthy app back.
	RollbackBroken map[string]string
	// Unreachable names hosts Ansible cannot reach: their inventory
	// entries point SSH at a closed port, while their apps keep serving
	// behind the load balancer, as when the network between the
	// controller and a host is down.
	Unreachable []string
	// PrivateDir gives each app host its own view of one path,
	// Scenario.PrivateDir(), which the controller sees apart
	// (privatedir.go); the inventory names it app_private_dir.
	PrivateDir bool
	// HTTPSToken makes every app serve HTTPS too, on Port+1 with a
	// certificate from a CA made for the scenario, and ask for basic auth
	// at /token; the role then verifies the token there with
	// deploy_verify_url_username, _url_password and _ca_path.
	HTTPSToken bool
	// Serial is the batch size (default 1).
	Serial int
	// Vars are extra role variables; they win over the harness's.
	Vars map[string]any
	// Load configures the load generator; URL and HostNames are set by
	// the harness.
	Load LoadOptions
	// Playbook runs ansible-playbook; required for Run.
	Playbook Playbook
	// Progress, if set, gets a line every ProgressEvery (default 2s) while
	// the playbook runs.
	Progress      func(line string)
	ProgressEvery time.Duration
	// Log, if set, gets lbsim's log.
	Log io.Writer
	// SimConfig, if set, may change the lbsim world before it starts
	// (rate limit, action delay, health checks, faults from the start).
	SimConfig func(*sim.Config)
	// ExtraPerHost is what faults the harness cannot see (set while the
	// rollout runs) add to each host's steps; Budget counts it.
	ExtraPerHost time.Duration
}

func (o *Options) defaults() error {
	if o.LB == "" {
		o.LB = "haproxy"
	}
	switch o.LB {
	case "haproxy", "hetzner", "aws":
	default:
		return fmt.Errorf("rollout options: LB %q: want haproxy, hetzner or aws", o.LB)
	}
	if o.HAProxyNodes <= 0 {
		o.HAProxyNodes = 1
	}
	if o.HAProxyNodes > 1 && o.LB != "haproxy" {
		return fmt.Errorf("rollout options: HAProxyNodes %d: only with LB haproxy", o.HAProxyNodes)
	}
	if o.Hosts <= 0 {
		o.Hosts = 3
	}
	if o.Hosts > 40 {
		return fmt.Errorf("rollout options: Hosts %d: at most 40 (127.0.Net.11 to .50)", o.Hosts)
	}
	if o.Net <= 0 {
		o.Net = 1
	}
	if o.Net > 254 {
		return fmt.Errorf("rollout options: Net %d: want 1..254 (third octet of 127.0.Net.11)", o.Net)
	}
	if o.Port <= 0 {
		o.Port = 8081
	}
	if o.OldVersion == "" {
		o.OldVersion = "v1"
	}
	if o.NewVersion == "" {
		o.NewVersion = "v2"
	}
	if o.Serial <= 0 {
		o.Serial = 1
	}
	if o.BootDelay == 0 {
		o.BootDelay = 3 * time.Second
	}
	if o.BootDelay < 0 {
		o.BootDelay = 0
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 2 * time.Second
	}
	return nil
}

// Scenario is a set-up world: apps running the old version behind a load
// balancer. Close stops everything.
type Scenario struct {
	Opts  Options
	Hosts []Host
	// URL is the load balancer's front end, http://127.0.0.1:port (the
	// first HAProxy node's).
	URL string
	// HAProxy is set for LB haproxy (the first node, lb1), Sim for hetzner
	// and aws.
	HAProxy *HAProxy
	Sim     *sim.Sim
	// HAProxies are all HAProxy nodes, lb1 first.
	HAProxies []*HAProxy

	simCfg *sim.Config // the lbsim world as started, for Budget
	dir    string
	ownDir bool
	bin    string
	cancel context.CancelFunc
	closed sync.Once
	mu     sync.Mutex
	load   *Load
	// appEnv configures the apps beyond startArgs (HTTPSToken), through
	// demoapp's DEMOAPP_* variables: for the harness's starts and, as the
	// host variable app_env, the tasks files'.
	appEnv map[string]map[string]string
	tls    *tokenTLS
}

// staleOnce makes Setup look for the remains of killed runs once per test
// binary.
var staleOnce sync.Once

// Setup builds the demoapp, starts the old version on every host and the
// load balancer, and waits until every host is in rotation. On error,
// whatever was started is stopped again.
func Setup(ctx context.Context, opts Options) (s *Scenario, err error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	s = &Scenario{Opts: opts, dir: opts.Dir}
	if s.dir == "" {
		// Short, so that HAProxy's socket path fits.
		if s.dir, err = os.MkdirTemp("", "zdt-"); err != nil {
			return nil, err
		}
		s.ownDir = true
	}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	if s.bin = opts.Demoapp; s.bin == "" {
		if s.bin, err = BuildDemoapp(ctx, s.dir); err != nil {
			return s, err
		}
	}
	for i := range opts.Hosts {
		name := simtest.ServerName(i)
		s.Hosts = append(s.Hosts, Host{
			Name:       name,
			Addr:       fmt.Sprintf("127.0.%d.%d:%d", opts.Net, 11+i, opts.Port),
			Dir:        filepath.Join(s.dir, name),
			InstanceID: simtest.InstanceID(i),
			ServerID:   simtest.ServerID(i),
		})
	}
	addrs := make([]string, len(s.Hosts))
	for i, h := range s.Hosts {
		addrs[i] = h.Addr
	}
	staleOnce.Do(func() { removeStale(os.TempDir(), time.Now()) })
	stopLeftovers(addrs, s.dir)
	if opts.HTTPSToken {
		if err := s.setUpTokenTLS(); err != nil {
			return s, err
		}
	}
	for _, h := range s.Hosts {
		if err := startApp(ctx, s.bin, h, opts.OldVersion, s.appEnv[h.Name]); err != nil {
			return s, err
		}
	}
	if opts.PrivateDir {
		if err := s.setupPrivateDir(); err != nil {
			return s, err
		}
	}
	lbCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	switch opts.LB {
	case "haproxy":
		for i := range opts.HAProxyNodes {
			dir := s.dir
			if i > 0 {
				dir = filepath.Join(s.dir, haproxyNode(i))
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return s, err
				}
			}
			h, err := StartHAProxy(ctx, dir, s.Hosts)
			if err != nil {
				return s, err
			}
			s.HAProxies = append(s.HAProxies, h)
		}
		s.HAProxy = s.HAProxies[0]
		s.URL = "http://" + s.HAProxy.Frontend
	default:
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		if opts.Log != nil {
			log = slog.New(slog.NewTextHandler(opts.Log, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
		if s.Sim, s.simCfg, s.URL, err = startSim(lbCtx, opts.LB, s.Hosts, log, opts.SimConfig); err != nil {
			return s, err
		}
	}
	return s, s.waitInRotation(ctx, 15*time.Second)
}

// waitInRotation waits until the load balancer sends traffic to every host.
func (s *Scenario) waitInRotation(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		st, err := s.LBStates()
		out := 0
		for _, t := range st {
			if !t.InRotation {
				out++
			}
		}
		if err == nil && out == 0 && len(st) == len(s.Hosts) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not every host in rotation after %s: %v (error %v)", s.Opts.LB, limit, st, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LBStates is every host as the load balancer sees it now. Behind several
// HAProxy nodes a host is in rotation when every node sends it requests,
// and its state is each node's ("lb1 up, lb2 maint") where they differ.
func (s *Scenario) LBStates() (map[string]TargetState, error) {
	if len(s.HAProxies) > 0 {
		views := map[string][]TargetState{} // host -> each node's view
		for i, node := range s.HAProxies {
			st, err := node.ServersState()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", haproxyNode(i), err)
			}
			for _, h := range s.Hosts {
				view := TargetState{State: "absent"}
				if v, ok := st[h.Name]; ok {
					view = TargetState{State: v.String(), InRotation: v.InRotation()}
				}
				views[h.Name] = append(views[h.Name], view)
			}
		}
		out := map[string]TargetState{}
		for host, vs := range views {
			out[host] = joinViews(vs)
		}
		return out, nil
	}
	if s.Sim != nil {
		return simStates(s.Sim, s.Opts.LB, s.Hosts), nil
	}
	return nil, errors.New("no load balancer running")
}

// joinViews is one host's state from every HAProxy node's view of it: in
// rotation when every node sends it requests; the state is the nodes'
// common one, or each node's ("lb1 up, lb2 maint") where they differ.
func joinViews(views []TargetState) TargetState {
	out := TargetState{State: views[0].State, InRotation: true}
	each := make([]string, len(views))
	for i, v := range views {
		out.InRotation = out.InRotation && v.InRotation
		each[i] = haproxyNode(i) + " " + v.State
		if v.State != views[0].State {
			out.State = ""
		}
	}
	if out.State == "" {
		out.State = strings.Join(each, ", ")
	}
	return out
}

// haproxyNode is the inventory name of HAProxy node i (lb1 first).
func haproxyNode(i int) string { return fmt.Sprintf("lb%d", i+1) }

// Dir is the scenario's working directory.
func (s *Scenario) Dir() string { return s.dir }

// ProgressFile is where the Playbook should have ansible-playbook's
// zdt_progress callback write (progress.Environ), so that a run that
// outlives its deadline says which step each host was in.
func (s *Scenario) ProgressFile() string { return filepath.Join(s.dir, progress.FileName) }

// Demoapp is the demoapp binary the hosts run.
func (s *Scenario) Demoapp() string { return s.bin }

// Close stops the load, every app, the load balancer, and removes the
// working directory if Setup made it. It is safe to call more than once.
func (s *Scenario) Close() error {
	var errs []error
	s.closed.Do(func() {
		s.mu.Lock()
		l := s.load
		s.mu.Unlock()
		if l != nil {
			l.Stop()
		}
		for _, h := range s.Hosts {
			if err := stopApp(s.bin, h); err != nil {
				errs = append(errs, err)
			}
		}
		for _, h := range s.HAProxies {
			h.Stop()
		}
		if s.Sim != nil {
			_ = s.Sim.Close()
		}
		if s.cancel != nil {
			s.cancel()
		}
		if s.ownDir {
			_ = os.RemoveAll(s.dir)
		}
		if home, err := os.UserHomeDir(); err == nil {
			_ = os.Remove(filepath.Join(home, ".ansible", "zerodowntime_rolling", "runs", s.RunName()+".json"))
		}
	})
	return errors.Join(errs...)
}

// RunName is the scenario's deploy_run_name: its own run record on the
// controller, apart from the scenarios running beside it.
func (s *Scenario) RunName() string { return "tests-rollout-" + filepath.Base(s.dir) }

// hostNames maps each app's X-App-Host to its host name.
func (s *Scenario) hostNames() map[string]string {
	m := map[string]string{}
	for _, h := range s.Hosts {
		m[h.Addr] = h.Name
	}
	return m
}

// SampleVersions asks the load balancer until every host answered (or
// 100 requests went by) and returns the version each host served;
// hosts out of rotation are missing.
func (s *Scenario) SampleVersions(ctx context.Context) map[string]string {
	names := s.hostNames()
	seen := map[string]string{}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	for i := 0; i < 100 && len(seen) < len(s.Hosts); i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/", nil)
		if err != nil {
			break
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			host := resp.Header.Get("X-App-Host")
			if n, ok := names[host]; ok {
				host = n
			}
			seen[host] = resp.Header.Get("X-App-Version")
		}
	}
	return seen
}

// DirectVersions asks every app directly; a host whose app does not
// answer is reported as "down".
func (s *Scenario) DirectVersions(ctx context.Context) map[string]string {
	out := map[string]string{}
	for _, h := range s.Hosts {
		v, err := DirectVersion(ctx, h)
		if err != nil {
			out[h.Name] = "down"
			continue
		}
		out[h.Name] = v.Version
	}
	return out
}

// Inventory is the YAML inventory: the app hosts in group app with their
// own addresses and files, lb1 in group haproxy, everything local.
func (s *Scenario) Inventory() string {
	hosts := map[string]any{}
	for _, h := range s.Hosts {
		hv := map[string]any{
			"app_addr":                h.Addr,
			"app_dir":                 h.Dir,
			"app_broken":              s.Opts.Broken[h.Name],
			"app_rollback_broken":     s.Opts.RollbackBroken[h.Name],
			"deploy_token_file":       h.TokenFile(),
			"deploy_verify_url":       "http://" + h.Addr + "/version",
			"deploy_verify_token_url": "http://" + h.Addr + "/token",
		}
		if s.Opts.PrivateDir {
			hv["app_private_dir"], hv["ansible_shell_executable"] = s.PrivateDir(), s.hostShell(h)
		}
		if s.tls != nil {
			hv["app_env"] = s.appEnv[h.Name]
			hv["deploy_verify_token_url"] = "https://" + s.tls.addr(h) + "/token"
		}
		if slices.Contains(s.Opts.Unreachable, h.Name) {
			hv["ansible_connection"], hv["ansible_host"], hv["ansible_port"] = "ssh", "127.0.0.1", closedPort()
		}
		switch s.Opts.LB {
		case "aws":
			hv["deploy_lb_target"] = h.InstanceID
		case "hetzner":
			// For playbooks that read target health from the API themselves.
			hv["hcloud_server_id"] = h.ServerID
		}
		hosts[h.Name] = hv
	}
	inv := map[string]any{
		"all": map[string]any{
			"vars": map[string]any{
				"ansible_connection":         "local",
				"ansible_python_interpreter": "/usr/bin/python3",
			},
			"hosts": map[string]any{"localhost": nil},
			"children": map[string]any{
				"app":     map[string]any{"hosts": hosts},
				"haproxy": map[string]any{"hosts": s.haproxyHosts()},
			},
		},
	}
	b, _ := yaml.Marshal(inv)
	return "# written by tests/rollout\n" + string(b)
}

// haproxyHosts are the inventory entries of the HAProxy nodes: lb1 alone
// takes its socket from deploy_haproxy_socket; behind several nodes each
// has its own as a host variable, which the role must honour.
func (s *Scenario) haproxyHosts() map[string]any {
	hosts := map[string]any{"lb1": nil}
	if len(s.HAProxies) > 1 {
		for i, h := range s.HAProxies {
			hosts[haproxyNode(i)] = map[string]any{"deploy_haproxy_socket": h.Socket}
		}
	}
	return hosts
}

// closedPort is a loopback TCP port nothing listens on (it was free a
// moment ago): a connection to it is refused at once.
func closedPort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 1
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// deployTasks stops the running app and starts the new release with the
// host's settings; the role includes it after the drain.
const deployTasks = `# written by tests/rollout: the user's deploy step for demoapp
- name: stop the running version
  ansible.builtin.command:
    argv: ["{{ demoapp_bin }}", -stop, -pid-file, "{{ app_dir }}/app.pid", -shutdown-timeout, "{{ demoapp_shutdown_timeout }}"]
  changed_when: true

- name: start the new version
  environment: "{{ app_env | default({}) }}"
  ansible.builtin.command:
    argv: ["{{ demoapp_bin }}", -daemon, -listen, "{{ app_addr }}", -version, "{{ new_version }}",
           "-broken={{ app_broken | default('') }}", -start-delay, "{{ demoapp_boot_delay }}",
           -token-file, "{{ app_dir }}/token", -health-file, "{{ app_dir }}/down",
           -pid-file, "{{ app_dir }}/app.pid", -log-file, "{{ app_dir }}/app.log",
           -shutdown-timeout, "{{ demoapp_shutdown_timeout }}", "-daemon-wait={{ demoapp_daemon_wait }}"]
  changed_when: true
`

// rollbackTasks restarts the old version.
const rollbackTasks = `# written by tests/rollout: the user's rollback step for demoapp
- name: stop the failed version
  ansible.builtin.command:
    argv: ["{{ demoapp_bin }}", -stop, -pid-file, "{{ app_dir }}/app.pid", -shutdown-timeout, "{{ demoapp_shutdown_timeout }}"]
  changed_when: true

- name: start the old version
  environment: "{{ app_env | default({}) }}"
  ansible.builtin.command:
    argv: ["{{ demoapp_bin }}", -daemon, -listen, "{{ app_addr }}", -version, "{{ old_version }}",
           "-broken={{ app_rollback_broken | default('') }}", -start-delay, "{{ demoapp_boot_delay }}",
           -token-file, "{{ app_dir }}/token", -health-file, "{{ app_dir }}/down",
           -pid-file, "{{ app_dir }}/app.pid", -log-file, "{{ app_dir }}/app.log",
           -shutdown-timeout, "{{ demoapp_shutdown_timeout }}", "-daemon-wait={{ demoapp_daemon_wait }}"]
  changed_when: true
`

// WriteTasks writes the deploy (and rollback) tasks files into the working
// directory and returns their paths.
func (s *Scenario) WriteTasks() (deploy, rollback string, err error) {
	deploy = filepath.Join(s.dir, "deploy-tasks.yml")
	if err := os.WriteFile(deploy, []byte(deployTasks), 0o644); err != nil {
		return "", "", err
	}
	if s.Opts.Rollback {
		rollback = filepath.Join(s.dir, "rollback-tasks.yml")
		if err := os.WriteFile(rollback, []byte(rollbackTasks), 0o644); err != nil {
			return "", "", err
		}
	}
	return deploy, rollback, nil
}

// Vars are the extra variables for the playbook: the role's settings for
// the scenario's load balancer plus what the tasks files use.
func (s *Scenario) Vars(deployTasksFile, rollbackTasksFile string) map[string]any {
	v := map[string]any{
		"deploy_hosts":              "app",
		"deploy_run_name":           s.RunName(),
		"deploy_serial":             s.Opts.Serial,
		"deploy_lb":                 s.Opts.LB,
		"deploy_tasks_file":         deployTasksFile,
		"deploy_verify_expect_json": map[string]any{"version": s.Opts.NewVersion},
		"deploy_verify_timeout":     8,
		"deploy_register_timeout":   30,
		"demoapp_bin":               s.bin,
		"demoapp_shutdown_timeout":  shutdownTimeout,
		"demoapp_boot_delay":        s.Opts.BootDelay.String(),
		"demoapp_daemon_wait":       strconv.FormatBool(!s.Opts.StartNoWait),
		"new_version":               s.Opts.NewVersion,
		"old_version":               s.Opts.OldVersion,
	}
	if rollbackTasksFile != "" {
		v["deploy_rollback_tasks_file"] = rollbackTasksFile
	}
	if s.tls != nil {
		v["deploy_verify_url_username"] = tokenUser
		v["deploy_verify_url_password"] = s.tls.password
		v["deploy_verify_ca_path"] = s.tls.files.CA
	}
	// A drain that goes wrong ends within a minute. Behind AWS the role's
	// default stands: the deregistration delay plus 60 s (lbsim ends the
	// draining once no request is in flight, as AWS does).
	if s.Opts.LB != "aws" {
		v["deploy_drain_timeout"] = 60
	}
	switch {
	case s.Opts.Naive:
		v["deploy_lb"] = "none"
	case s.HAProxy != nil:
		var nodes []string
		for i := range s.HAProxies {
			nodes = append(nodes, haproxyNode(i))
		}
		v["deploy_haproxy_hosts"] = nodes
		v["deploy_haproxy_backend"] = HAProxyBackend
		if len(s.HAProxies) == 1 {
			// Behind several nodes each has its own (haproxyHosts).
			v["deploy_haproxy_socket"] = s.HAProxy.Socket
		}
	case s.Opts.LB == "hetzner":
		ep := s.Sim.Endpoints()
		v["deploy_hetzner_load_balancers"] = []string{hetznerLB}
		v["deploy_hetzner_api_token"] = ep.HetznerToken
		v["deploy_hetzner_endpoint"] = ep.HetznerAPI
	case s.Opts.LB == "aws":
		ep := s.Sim.Endpoints()
		v["deploy_aws_region"] = ep.AWSRegion
		v["deploy_aws_endpoint_url"] = ep.AWSAPI
		v["deploy_aws_access_key"] = ep.AWSAccessKeyID
		v["deploy_aws_secret_key"] = ep.AWSSecretAccessKey
		v["deploy_aws_target_group_names"] = []string{awsTG}
	}
	for k, x := range s.Opts.Vars {
		v[k] = x
	}
	return v
}

// Run rolls the new version out under load and reports what the clients
// saw. An error means the harness itself failed; a failed rollout or
// failed requests are in the report.
func (s *Scenario) Run(ctx context.Context) (*Report, error) {
	if s.Opts.Playbook == nil {
		return nil, errors.New("Options.Playbook is not set")
	}
	deploy, rollback, err := s.WriteTasks()
	if err != nil {
		return nil, err
	}
	rep := &Report{LB: s.Opts.LB, Naive: s.Opts.Naive, Broken: s.Opts.Broken}
	if s.Opts.Naive {
		rep.LB += " (naive: deploy_lb none)"
	}
	start := time.Now()
	rep.VersionsBefore = s.SampleVersions(ctx)

	lo := s.Opts.Load
	lo.URL, lo.HostNames = s.URL, s.hostNames()
	for _, h := range s.HAProxies[min(1, len(s.HAProxies)):] {
		lo.MoreURLs = append(lo.MoreURLs, "http://"+h.Frontend)
	}
	load := StartLoad(ctx, lo)
	s.mu.Lock()
	s.load = load
	s.mu.Unlock()

	stopProgress := s.progress(load, start)
	// When ctx runs out while the playbook runs, say where everything was
	// at that moment, before the playbook is stopped.
	atDeadline := make(chan string, 1)
	stopWatch := context.AfterFunc(ctx, func() { atDeadline <- s.describe(start, load) })
	_ = os.Remove(filepath.Join(s.dir, SummaryFileName)) // an earlier run's
	run, perr := s.Opts.Playbook(ctx, s.Inventory(), s.Vars(deploy, rollback))
	stopProgress()
	if !stopWatch() {
		rep.fillLoad(load.Stop())
		return rep, fmt.Errorf("the rollout did not end before its deadline (%v); at the deadline %s",
			context.Cause(ctx), <-atDeadline)
	}

	// A moment of traffic after the last register: failures right after
	// a host rejoins count too.
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
	}
	stats := load.Stop()
	rep.fillLoad(stats)
	if perr != nil {
		return rep, perr
	}
	rep.ExitCode = run.ExitCode
	rep.VersionsAfter = s.SampleVersions(ctx)
	rep.DirectAfter = s.DirectVersions(ctx)
	if st, err := s.LBStates(); err == nil {
		rep.LBAfter = st
	}
	rep.Elapsed = round2(time.Since(start).Seconds())
	doc, rest, err := parseCallback(run.Stdout)
	if err != nil {
		return rep, fmt.Errorf("%w\nstderr:\n%s", err, run.Stderr)
	}
	rep.doc = doc
	// The per-host part comes from the collection's rollout callback,
	// when the Playbook enabled it (ExecPlaybook does).
	rep.Table = summaryTable(rest)
	if _, err := os.Lstat(filepath.Join(s.dir, SummaryFileName)); err == nil {
		if rep.Summary, err = ReadSummary(filepath.Join(s.dir, SummaryFileName)); err != nil {
			return rep, err
		}
		rep.Hosts = rep.Summary.hostTimes()
	}
	rep.FailedHost, rep.FailedMsg = doc.failure()
	rep.Drained = sortedKeys(doc.steps("reserve", "fail_health", "drain_haproxy_ahead", "drain_haproxy", "drain_lb"))
	rep.Stderr = strings.TrimSpace(run.Stderr)
	return rep, nil
}

// describe is the world as it is now, for a rollout that ran out of time:
// the step each host was in (from the progress file), the load balancer's
// view of each host, the version each app answers directly, and the load.
func (s *Scenario) describe(start time.Time, load *Load) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(after %.1fs): ", time.Since(start).Seconds())
	p, err := progress.Read(s.ProgressFile())
	fmt.Fprintf(&b, "ansible-playbook: %s", p)
	if err != nil {
		fmt.Fprintf(&b, " (progress file: %v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	direct := s.DirectVersions(ctx)
	lb, err := s.LBStates()
	b.WriteString("; hosts:")
	for _, h := range s.Hosts {
		rot := "out of rotation"
		if lb[h.Name].InRotation {
			rot = "in rotation"
		}
		fmt.Fprintf(&b, " %s serves %s, %s %q %s;", h.Name, direct[h.Name], s.Opts.LB, lb[h.Name].State, rot)
	}
	if err != nil {
		fmt.Fprintf(&b, " (load balancer: %v)", err)
	}
	st := load.Snapshot()
	fmt.Fprintf(&b, " load: %d requests, %d failed", st.Requests, st.Failed)
	return b.String()
}

// progress calls Options.Progress every ProgressEvery until the returned
// func is called.
func (s *Scenario) progress(load *Load, start time.Time) func() {
	if s.Opts.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(s.Opts.ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			st := load.Snapshot()
			lb, _ := s.LBStates()
			var hosts []string
			for _, h := range s.Hosts {
				v := st.Last[h.Name]
				if v == "" {
					v = "-"
				}
				hosts = append(hosts, fmt.Sprintf("%s %s/%s", h.Name, v, lb[h.Name].State))
			}
			s.Opts.Progress(fmt.Sprintf("%5.1fs  requests %6d  failed %d  %s",
				time.Since(start).Seconds(), st.Requests, st.Failed, strings.Join(hosts, "  ")))
		}
	}()
	return func() { close(done); wg.Wait() }
}
