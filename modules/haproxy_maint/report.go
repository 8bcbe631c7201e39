package haproxymaint

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

// refresh reads the "after" state; on error "after" stays the prediction.
func refresh(ctx context.Context, c *haproxy.Client, targets []*target, want haproxy.AdminState) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, t := range targets {
		t.after = predict(t, want)
	}
	states, err := c.ServersState(ctx, "")
	if err != nil {
		return
	}
	stats, err := statsByKey(ctx, c)
	if err != nil {
		return
	}
	byKey := map[string]haproxy.ServerState{}
	for _, s := range states {
		byKey[s.Key()] = s
	}
	for _, t := range targets {
		if st, ok := byKey[t.key()]; ok {
			t.after = takeSnapshot(st, stats[t.key()])
		}
	}
}

// report is the module result: each target before and after, and the diff.
func report(res ansible.Result, targets []*target, want haproxy.AdminState, c *haproxy.Client, waited time.Duration) ansible.Result {
	backends := make([]map[string]any, 0, len(targets))
	before, after := map[string]any{}, map[string]any{}
	for _, t := range targets {
		backends = append(backends, map[string]any{
			"backend":                  t.st.Backend,
			"server":                   t.st.Name,
			"admin_state_before":       string(t.before.Admin.State()),
			"admin_state_after":        string(t.after.Admin.State()),
			"operational_state_before": string(t.before.Op),
			"operational_state_after":  string(t.after.Op),
			"status_before":            t.before.Status,
			"status_after":             t.after.Status,
			"sessions_before":          t.before.Sessions,
			"sessions_after":           t.after.Sessions,
			"queued":                   t.after.Queued,
			"weight_before":            t.before.Weight,
			"weight_after":             t.after.Weight,
			"check_status_before":      t.before.CheckStatus,
			"check_status_after":       t.after.CheckStatus,
			"changes":                  nonNil(t.changes),
			"sessions_shut_down":       t.cut || t.shutdown,
			"waited":                   ansible.RoundSeconds(t.waited),
		})
		before[t.key()] = diffView(t.before)
		after[t.key()] = diffView(t.after)
	}
	res.Diff = &ansible.Diff{Before: before, After: after}
	res.Data = map[string]any{
		"backends":        backends,
		"waited":          ansible.RoundSeconds(waited),
		"state":           string(want),
		"haproxy_version": c.Version().String(),
	}
	return res
}

// skippedData is the result's data when the server is not there and
// fail_on_not_found is false.
func skippedData(c *haproxy.Client, want haproxy.AdminState) map[string]any {
	return map[string]any{"backends": []any{}, "waited": 0.0, "capacity_wait": 0.0, "state": string(want), "haproxy_version": c.Version().String()}
}

func diffView(s snapshot) map[string]any {
	return map[string]any{"state": string(s.Admin.State()), "weight": s.Weight, "sessions": s.Sessions}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func keys(targets []*target) string {
	var k []string
	for _, t := range targets {
		k = append(k, t.key())
	}
	return strings.Join(k, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
