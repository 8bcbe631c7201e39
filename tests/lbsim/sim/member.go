package sim

import (
	"context"
	"errors"
)

// errDrainCut is the cause given to requests still in flight when an AWS
// target's deregistration delay expires.
var errDrainCut = errors.New("lbsim: deregistration delay expired, connection closed")

// member is one backend of a data-plane pool: the place traffic goes.
// All fields are guarded by Sim.mu.
type member struct {
	// label names the member in the proxied counters, e.g.
	// "hetzner/web-lb/80/app-1" or "aws/web-tg/i-0000000000000001:8081".
	label string
	host  string // host address
	addr  string // host:port for traffic

	inflight int
	nextReq  uint64
	reqs     map[uint64]context.CancelCauseFunc
	// onIdle, if set, runs (under Sim.mu) when inflight drops to zero.
	onIdle func()
}

// begin records a new in-flight request and returns its id.
func (m *member) begin(cancel context.CancelCauseFunc) uint64 {
	if m.reqs == nil {
		m.reqs = map[uint64]context.CancelCauseFunc{}
	}
	m.nextReq++
	m.reqs[m.nextReq] = cancel
	m.inflight++
	return m.nextReq
}

// end forgets request id; the caller holds Sim.mu.
func (m *member) end(id uint64) {
	if _, ok := m.reqs[id]; !ok {
		return
	}
	delete(m.reqs, id)
	m.inflight--
	if m.inflight == 0 && m.onIdle != nil {
		f := m.onIdle
		m.onIdle = nil
		f()
	}
}

// cutAll aborts every in-flight request.
func (m *member) cutAll() {
	for _, c := range m.reqs {
		c(errDrainCut)
	}
}
