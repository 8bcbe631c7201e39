package haproxymaint

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

// lookUp finds the servers to act on: in the given backend, or in every
// backend that has a server of that name.
func lookUp(ctx context.Context, c *haproxy.Client, backend, server string) ([]*target, error) {
	states, err := c.ServersState(ctx, backend)
	if errors.Is(err, haproxy.ErrNoBackend) {
		return nil, fmt.Errorf("backend %q not found in HAProxy (%s)%s: %w", backend, c.Path(), backendList(ctx, c), err)
	}
	if err != nil {
		return nil, err
	}
	var targets []*target
	var names []string
	for _, s := range states {
		if s.Name == server {
			targets = append(targets, &target{st: s})
		} else {
			names = append(names, s.Name)
		}
	}
	if len(targets) > 0 {
		return targets, nil
	}
	if backend != "" {
		return nil, fmt.Errorf("server %q not found in backend %q (its servers: %s): %w", server, backend, listOrNone(names), haproxy.ErrNoServer)
	}
	return nil, fmt.Errorf("server %q not found in any backend of HAProxy (%s)%s; set backend, or check the server name in haproxy.cfg: %w",
		server, c.Path(), backendList(ctx, c), haproxy.ErrNoServer)
}

func backendList(ctx context.Context, c *haproxy.Client) string {
	states, err := c.ServersState(ctx, "")
	if err != nil {
		return ""
	}
	seen := map[string]bool{}
	var names []string
	for _, s := range states {
		if !seen[s.Backend] {
			seen[s.Backend] = true
			names = append(names, s.Backend)
		}
	}
	return "; backends with servers: " + listOrNone(names)
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// snapshotBefore records each target's state before the task.
func snapshotBefore(ctx context.Context, c *haproxy.Client, targets []*target) error {
	stats, err := statsByKey(ctx, c)
	if err != nil {
		return err
	}
	for _, t := range targets {
		t.before = takeSnapshot(t.st, stats[t.key()])
	}
	return nil
}

func statsByKey(ctx context.Context, c *haproxy.Client) (map[string]haproxy.Stat, error) {
	stats, err := c.Stats(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]haproxy.Stat, len(stats))
	for _, s := range stats {
		out[s.Key()] = s
	}
	return out, nil
}
