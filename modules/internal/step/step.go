// Package step is the sequence every load-balancer step of the modules runs,
// whatever it drains or registers and wherever:
//
//  1. Lookup finds what the step works on and reads its state, under a
//     provisional deadline (the timeout option, else Setup).
//  2. Plan decides what to change and how long the whole step may take,
//     counted from its start.
//  3. In check mode, Predict gives the result the step would have, and
//     nothing else runs.
//  4. Apply makes the changes; Wait polls until each reaches its goal, both
//     under the deadline Plan set.
//  5. Report gives the result. An error of any phase goes to Fail, which
//     words it as the module's failure, with the result so far.
//
// A module implements Step for one run and calls Run:
//
//	func run(ctx context.Context, m *ansible.Module, a Args) (ansible.Result, error) {
//		return step.Run(ctx, m, newDrain(m, a), step.Limits{Timeout: a.Timeout, Start: time.Now()})
//	}
//
// The package names no provider and no module: what a state means, which
// call changes it and when a wait is done belong to the Step.
package step

import (
	"context"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// Step is one run of a module, phase by phase.
type Step interface {
	Lookup(ctx context.Context) error
	// Plan returns the step's timeout, from Limits.Start.
	Plan(ctx context.Context) (timeout time.Duration, err error)
	Predict() ansible.Result
	Apply(ctx context.Context) error
	// Wait polls until the goal is reached; deadline is Limits.Start plus
	// the timeout Plan returned.
	Wait(ctx context.Context, deadline time.Time) error
	Report() ansible.Result
	// Fail gives the module's result and failure for err. ctx is the run's
	// own context: an err of its deadline is the step's timeout.
	Fail(ctx context.Context, err error) (ansible.Result, error)
}

// SetupTimeout bounds the lookups when no timeout is given.
const SetupTimeout = 120 * time.Second

// Limits are the bounds of a run.
type Limits struct {
	Timeout int           // seconds, the timeout option; 0: Setup, then Plan's
	Setup   time.Duration // default SetupTimeout
	Start   time.Time     // when the module started
	// Grace keeps the run's context alive this long past the deadline,
	// for what Wait does once its own wait has timed out.
	Grace time.Duration
}

// Run runs s through its phases.
func Run(ctx context.Context, m *ansible.Module, s Step, l Limits) (ansible.Result, error) {
	setup := l.Setup
	if setup <= 0 {
		setup = SetupTimeout
	}
	if l.Timeout > 0 {
		setup = time.Duration(l.Timeout) * time.Second
	}
	setupCtx, cancel := context.WithTimeout(ctx, setup)
	defer cancel()
	if err := s.Lookup(setupCtx); err != nil {
		return s.Fail(ctx, err)
	}
	timeout, err := s.Plan(setupCtx)
	if err != nil {
		return s.Fail(ctx, err)
	}
	if m.CheckMode {
		return s.Predict(), nil
	}
	deadline := l.Start.Add(timeout)
	runCtx, cancelRun := context.WithDeadline(ctx, deadline.Add(l.Grace))
	defer cancelRun()
	if err := s.Apply(runCtx); err != nil {
		return s.Fail(ctx, err)
	}
	if err := s.Wait(runCtx, deadline); err != nil {
		return s.Fail(ctx, err)
	}
	return s.Report(), nil
}
