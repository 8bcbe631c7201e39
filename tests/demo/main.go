// Command demo is make demo: it rolls demoapp v1 -> v2 across three hosts
// behind a load balancer (HAProxy, or lbsim's Hetzner or AWS) while clients
// send traffic through it, prints progress and a summary (the table of the
// collection's rollout callback, then what the clients saw), and ends with
// one JSON line: the report. It exits 1 if any request failed or the rollout
// failed, and leaves nothing running, also on Ctrl-C.
//
//	make collection && go run ./tests/demo -lb haproxy
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zerodowntime/rolling/tests/rollout"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lb := fs.String("lb", "haproxy", "load balancer: haproxy, hetzner or aws (lbsim)")
	clients := fs.Int("clients", 20, "concurrent clients; a tenth of them send /slow requests of 1-2s")
	broken := fs.String("broken", "", "make host app-2's new release broken: nostart, stale-token, unhealthy or errors (500 on a fifth of requests)")
	net := fs.Int("net", 1, "third octet of the app hosts' loopback addresses (127.0.NET.11-13)")
	naive := fs.Bool("naive", false, "restart without draining (deploy_lb: none), to see what the collection prevents")
	tarball := fs.String("collection", "", "collection tarball (default: the newest collection/zerodowntime-rolling-*.tar.gz)")
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }

	if *tarball == "" {
		t, err := rollout.FindTarball()
		if err != nil {
			return 1, err
		}
		*tarball = t
	}
	collDir, err := os.MkdirTemp("", "zdt-demo-collections-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(collDir)
	say("installing %s", *tarball)
	collPath, err := rollout.InstallCollection(ctx, *tarball, collDir)
	if err != nil {
		return 1, err
	}

	opts := rollout.Options{
		LB:       *lb,
		Net:      *net,
		Naive:    *naive,
		Load:     rollout.LoadOptions{Clients: *clients},
		Progress: func(line string) { say("%s", line) },
	}
	if *broken != "" {
		opts.Broken = map[string]string{"app-2": *broken}
	}
	if *broken == "errors" {
		// Only real traffic shows this release is bad: watch each host
		// for 10 s after it returns, and undo the whole rollout when a
		// watch fails. Behind a cloud load balancer, which tells nothing
		// per request, the watch also probes the app's own page on the
		// host, the kind of request that fails.
		opts.Rollback = true
		opts.Vars = map[string]any{"deploy_watch_seconds": 10, "deploy_rollback_scope": "all"}
		if *lb != "haproxy" {
			opts.Vars["deploy_watch_probe_url"] = "http://{{ app_addr }}/"
		}
	}
	say("setting up: building demoapp, starting 3 hosts on v1 behind %s", *lb)
	s, err := rollout.Setup(ctx, opts)
	if err != nil {
		return 1, err
	}
	defer s.Close()
	opts.Playbook = rollout.ExecPlaybook(collPath, s.Dir())
	s.Opts.Playbook = opts.Playbook
	for _, h := range s.Hosts {
		say("  %s  demoapp %s on %s", h.Name, s.Opts.OldVersion, h.Addr)
	}
	say("  load balancer front end %s", s.URL)
	say("rolling %s -> %s with ansible-playbook %s, %d clients sending traffic (host version/LB state every 2s)",
		s.Opts.OldVersion, s.Opts.NewVersion, rollout.DeployPlaybook, *clients)

	start := time.Now()
	rep, err := s.Run(ctx)
	if ctx.Err() != nil {
		say("interrupted after %.1fs; stopping everything", time.Since(start).Seconds())
		s.Close()
		return 130, nil
	}
	if err != nil {
		if rep != nil && rep.Stderr != "" {
			fmt.Fprintln(stderr, rep.Stderr)
		}
		return 1, err
	}
	var names []string
	for _, h := range s.Hosts {
		names = append(names, h.Name)
	}
	rep.WriteSummary(stdout, names)
	// The json callback keeps ansible-core's warnings and deprecations in
	// the task results: shown here as a terminal would show them.
	for _, n := range rep.Notices() {
		say("%s", n)
	}
	if rep.ExitCode != 0 && rep.FailedMsg == "" && rep.Stderr != "" {
		say("ansible-playbook stderr:\n%s", indent(rep.Stderr))
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(stderr, "demo: cleanup:", err)
	}
	fmt.Fprintln(stdout, rep.JSON())
	if !rep.OK() {
		return 1, nil
	}
	return 0, nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}
