package haproxymaint

import (
	"context"
	"errors"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

// run is the module's sequence, step for step the one lb's modules follow:
// look up, plan, predict (check mode) or apply, wait, report.
func run(ctx context.Context, m *ansible.Module, a args) (ansible.Result, error) {
	g, err := checkArgs(m, a)
	if err != nil {
		return ansible.Result{}, err
	}
	c, err := connect(ctx, a)
	if err != nil {
		return ansible.Result{}, fail(err, "")
	}

	targets, err := lookUp(ctx, c, a.Backend, a.Server)
	if errors.Is(err, haproxy.ErrNoServer) || errors.Is(err, haproxy.ErrNoBackend) {
		if !a.FailOnNotFound {
			m.Warn("%s; skipped because fail_on_not_found is false", err)
			return ansible.Result{Data: skippedData(c, g.state)}, nil
		}
	}
	if err != nil {
		return ansible.Result{}, fail(err, a.Server)
	}
	if err := snapshotBefore(ctx, c, targets); err != nil {
		return ansible.Result{}, fail(err, "")
	}

	changed := false
	for _, t := range targets {
		plan(m, t, g.state, g.weight, a)
		changed = changed || len(t.changes) > 0
	}
	res := ansible.Result{Changed: changed}
	if m.CheckMode {
		for _, t := range targets {
			t.after = predict(t, g.state)
		}
		return report(res, targets, g.state, c, 0), nil
	}

	for _, t := range targets {
		if err := apply(ctx, m, c, t, g.state); err != nil {
			refresh(ctx, c, targets, g.state)
			return report(res, targets, g.state, c, 0), fail(err, t.key())
		}
	}

	var waited time.Duration
	if a.Wait {
		waited, err = waitFor(ctx, m, c, targets, g.state, a)
	}
	refresh(ctx, c, targets, g.state)
	return report(res, targets, g.state, c, waited), err
}

// connect opens the runtime API and checks that it can set a server's state.
func connect(ctx context.Context, a args) (*haproxy.Client, error) {
	mode := haproxy.MasterAuto
	if a.MasterSocket != nil {
		mode = haproxy.MasterOff
		if *a.MasterSocket {
			mode = haproxy.MasterOn
		}
	}
	c, err := haproxy.Dial(ctx, a.Socket, haproxy.WithMaster(mode), haproxy.WithWorker(a.Worker))
	if err != nil {
		return nil, err
	}
	if err := c.Require(1, 6, "`set server <backend>/<server> state`"); err != nil {
		return nil, err
	}
	return c, nil
}
