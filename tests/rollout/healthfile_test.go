package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// TestHetznerHealthFile: deploy_hetzner_method health with the default
// deploy_lb_delegate_to (the controller). Each app host has its own view of
// the health file's directory (Options.PrivateDir), as separate machines
// would: the role must make the file on the app host, so that the app's own
// health check fails and lbsim calls the host unhealthy before the deploy,
// while the API waits run on the controller and the API token never goes to
// an app host. Under load, not one request may fail. A --check run before
// shows the file in each host's plan and makes none.
func TestHetznerHealthFile(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rollout under load; skipped with -short")
	}
	coll := ansibletest.Install(t)
	opts := Options{LB: "hetzner", Net: 49, PrivateDir: true, Vars: map[string]any{
		"deploy_hetzner_method":      "health",
		"deploy_hetzner_health_file": "{{ app_private_dir }}/down",
		// Two failed checks take lbsim 0.6 s; a drain that never sees
		// them ends well before the scenario's deadline.
		"deploy_drain_timeout": 20,
	}}
	opts.Load.Clients, opts.Load.Pause = 20, 20*time.Millisecond
	ctx, s := setUp(t, coll, opts)
	file := filepath.Join(s.PrivateDir(), "down")

	// A dry run first: each host's plan names the file it would get, and
	// no file is made.
	run := s.Opts.Playbook
	s.Opts.Playbook = ExecPlaybook(coll.CollectionsPath, s.Dir(), "--check", "--diff")
	dry, err := s.Run(ctx)
	s.Opts.Playbook = run
	if err != nil {
		t.Fatal(err)
	}
	plans := dry.StepResults("plan")
	for _, h := range s.Hosts {
		plan := fmt.Sprint(plans[h.Name])
		if dry.ExitCode != 0 || !strings.Contains(plan, "fail health on "+h.Name+": would create "+file) {
			t.Errorf("--check: exit %d (%s); the plan of %s does not say it would create %s: %s", dry.ExitCode, dry.FailedMsg, h.Name, file, plan)
		}
		if _, err := os.Lstat(h.HealthFile()); err == nil {
			t.Errorf("--check made %s", h.HealthFile())
		}
	}

	seen := watchHealthFile(ctx, s)
	r, err := s.Run(ctx)
	obs := seen()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests (%d slow), %d failed, exit %d, %.1fs; hosts %v; seen %+v",
		r.Requests, r.Slow, r.Failed, r.ExitCode, r.Elapsed, r.Hosts, obs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("report: %s", r.JSON())
		}
	})
	checkZeroDowntime(t, s, r)

	for _, h := range s.Hosts {
		o := obs.hosts[h.Name]
		switch {
		case !o.unhealthy:
			t.Errorf("%s: lbsim never called it unhealthy; the drain did not go through its health check", h.Name)
		case !o.fileThen || o.versionThen != "v1":
			t.Errorf("%s: when lbsim first called it unhealthy its health file was there: %v, and it served %q; want the file there and v1 (before the deploy)",
				h.Name, o.fileThen, o.versionThen)
		}
		if o.removed {
			t.Errorf("%s: its target left the load balancer; method health keeps it", h.Name)
		}
		if _, err := os.Lstat(h.HealthFile()); !os.IsNotExist(err) {
			t.Errorf("%s: health file %s still there at the end (%v)", h.Name, h.HealthFile(), err)
		}
	}
	if obs.onController {
		t.Errorf("a health file appeared in the controller's %s; it belongs on the app hosts", s.PrivateDir())
	}

	// The health file tasks ran on the app hosts with nothing but the
	// file's path and state: no API token, no endpoint.
	token := s.Sim.Endpoints().HetznerToken
	for _, task := range []string{"fail_health", "pass_health"} {
		res := r.StepResults(task)
		for _, h := range s.Hosts {
			if len(res[h.Name]) == 0 {
				t.Errorf("%s: no %q result", h.Name, task)
			}
			for _, one := range res[h.Name] {
				inv, _ := one["invocation"].(map[string]any)
				args, _ := inv["module_args"].(map[string]any)
				var keys []string
				for k := range args {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if !slices.Equal(keys, []string{"path", "state"}) || args["path"] != file {
					t.Errorf("%s: %q ran with %v, want only path %s and state", h.Name, task, args, file)
				}
				if b, _ := json.Marshal(one); strings.Contains(string(b), token) {
					t.Errorf("%s: %q carries the API token: %s", h.Name, task, b)
				}
			}
		}
	}
}

// healthFileSeen is what watchHealthFile saw while the rollout ran.
type healthFileSeen struct {
	hosts map[string]hostSeen
	// onController: the controller's view of the private directory held
	// a health file.
	onController bool
}

type hostSeen struct {
	// unhealthy: lbsim called the host unhealthy at least once; fileThen
	// and versionThen are the host's health file and the version it
	// served at the first time.
	unhealthy   bool
	fileThen    bool
	versionThen string
	// removed: the target left the load balancer at some point.
	removed bool
}

// watchHealthFile polls lbsim's view of every host, its health file and
// the controller's view of the private directory until the returned func
// is called, which gives what it saw.
func watchHealthFile(ctx context.Context, s *Scenario) func() healthFileSeen {
	ctx, cancel := context.WithCancel(ctx)
	seen := healthFileSeen{hosts: map[string]hostSeen{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			st, _ := s.LBStates()
			for _, h := range s.Hosts {
				o := seen.hosts[h.Name]
				switch state := st[h.Name].State; {
				case state == "unhealthy" && !o.unhealthy:
					_, err := os.Lstat(h.HealthFile())
					o.unhealthy, o.fileThen = true, err == nil
					ask, done := context.WithTimeout(ctx, 2*time.Second)
					v, err := DirectVersion(ask, h)
					done()
					if o.versionThen = v.Version; err != nil {
						o.versionThen = "error: " + err.Error()
					}
				case state == "removed" || state == "absent":
					o.removed = true
				}
				seen.hosts[h.Name] = o
			}
			if _, err := os.Lstat(filepath.Join(s.PrivateDir(), "down")); err == nil {
				seen.onController = true
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() healthFileSeen {
		cancel()
		wg.Wait()
		return seen
	}
}
