package haproxymaint

import (
	"context"
	"strconv"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

// apply sends the commands planned for t.
func apply(ctx context.Context, m *ansible.Module, c *haproxy.Client, t *target, want haproxy.AdminState) error {
	b, s := t.st.Backend, t.st.Name
	if t.health != nil {
		if err := c.EnableHealth(ctx, b, s, *t.health); err != nil {
			return err
		}
	}
	if t.agent != nil {
		if err := c.EnableAgent(ctx, b, s, *t.agent); err != nil {
			return err
		}
	}
	if t.dance {
		// Leave maintenance through a fresh health check: with weight 0 the
		// server takes no new requests while it is (wrongly) UP, then
		// "health down" makes it earn UP with `rise` passing checks, and
		// its weight comes back while it is DOWN, so traffic starts only
		// once HAProxy's own checks have passed. Verified on 2.6.12: no
		// request reaches a server that does not listen yet.
		m.Progress("%s: weight 0 before leaving maintenance", t.key())
		if err := c.SetWeight(ctx, b, s, "0%"); err != nil {
			return err
		}
		restore := restoreWeight(t)
		m.Progress("%s: weight 0, leaving maintenance; the weight to restore is %s", t.key(), restore)
		if err := c.SetState(ctx, b, s, haproxy.StateReady); err != nil {
			c.SetWeight(ctx, b, s, restore)
			return err
		}
		if err := c.SetHealth(ctx, b, s, "down"); err != nil {
			c.SetWeight(ctx, b, s, restore)
			return err
		}
		m.Progress("%s: ready, DOWN until its health check passes; restoring weight %s", t.key(), restore)
		return c.SetWeight(ctx, b, s, restore)
	}
	if t.setWeight != nil && want != haproxy.StateReady {
		if err := c.SetWeight(ctx, b, s, t.setWeight.String()); err != nil {
			return err
		}
	}
	if t.setState {
		if err := c.SetState(ctx, b, s, want); err != nil {
			return err
		}
		m.Progress("%s set to %s", t.key(), want)
	}
	if t.setWeight != nil && want == haproxy.StateReady {
		if err := c.SetWeight(ctx, b, s, t.setWeight.String()); err != nil {
			return err
		}
	}
	if t.shutdown {
		if err := c.ShutdownSessions(ctx, b, s); err != nil {
			return err
		}
		m.Progress("%s set to %s, sessions shut down", t.key(), want)
	}
	return nil
}

// restoreWeight is the weight a server gets back after the ready dance:
// the one asked for, else the one it had. Percentages keep it valid for
// static algorithms, which only accept 0% and 100%.
func restoreWeight(t *target) string {
	if t.setWeight != nil {
		return t.setWeight.String()
	}
	if t.st.UserWeight == t.st.InitialWeight {
		return "100%"
	}
	return strconv.Itoa(t.st.UserWeight)
}
