package haproxymaint

import (
	"fmt"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

// snapshot is what the module reports about one server at one moment.
type snapshot struct {
	Admin       haproxy.AdminFlags
	Op          haproxy.OpState
	Status      string
	Sessions    int
	Queued      int
	Weight      int
	CheckStatus string
	CheckDesc   string
}

func takeSnapshot(st haproxy.ServerState, stat haproxy.Stat) snapshot {
	return snapshot{
		Admin:       st.Admin,
		Op:          st.Op,
		Status:      stat.Status,
		Sessions:    stat.Sessions,
		Queued:      stat.Queued,
		Weight:      st.UserWeight,
		CheckStatus: stat.CheckStatus,
		CheckDesc:   stat.CheckDesc,
	}
}

// target is one backend/server the task acts on.
type target struct {
	st        haproxy.ServerState // before
	before    snapshot
	after     snapshot
	changes   []string // what the task changes, in words
	dance     bool     // leave maintenance through a fresh health check
	setState  bool
	setWeight *weightSpec
	health    *bool
	agent     *bool
	shutdown  bool // shut sessions down right after setting the state
	waited    time.Duration
	done      bool
	cut       bool // sessions shut down on timeout

	countFrom   time.Time // failed checks count from here (failFast)
	checkHealth int       // check_health at the last look; -1 before it
	failed      int       // failed checks counted
}

func (t *target) key() string { return t.st.Key() }

// plan decides what to change on t. It only reads.
func plan(m *ansible.Module, t *target, want haproxy.AdminState, w *weightSpec, a args) {
	st := t.st
	if a.Health != nil {
		switch {
		case !st.HasCheck():
			if *a.Health {
				m.Warn("%s has no health check configured (no `check` on its server line); health: true ignored", t.key())
			}
		case st.CheckEnabled() != *a.Health:
			t.health = a.Health
			t.changes = append(t.changes, enableWord(*a.Health)+" health checks")
		}
	}
	if a.Agent != nil {
		switch {
		case !st.HasAgent():
			if *a.Agent {
				m.Warn("%s has no agent check configured (no `agent-check`); agent: true ignored", t.key())
			}
		case st.AgentEnabled() != *a.Agent:
			t.agent = a.Agent
			t.changes = append(t.changes, enableWord(*a.Agent)+" agent checks")
		}
	}
	if cur := st.Admin.Forced(); cur != want {
		t.setState = true
		t.changes = append(t.changes, fmt.Sprintf("state %s -> %s", cur, want))
		checksOn := st.CheckEnabled()
		if t.health != nil {
			checksOn = *t.health
		}
		// HAProxy 2.6 puts a server leaving maintenance straight into UP
		// (shown as "UP 1/3") before any check has run, so it would take
		// requests even if nothing listens yet. See apply.
		t.dance = want == haproxy.StateReady && cur == haproxy.StateMaint && checksOn
	}
	if st.Admin.Inherited() {
		m.Warn("%s tracks another server and inherits its %s; change the tracked server (admin state %d)", t.key(), st.Admin.State(), st.Admin)
	}
	if w != nil && w.absolute(st.InitialWeight) != st.UserWeight {
		t.setWeight = w
		t.changes = append(t.changes, fmt.Sprintf("weight %d -> %d", st.UserWeight, w.absolute(st.InitialWeight)))
	}
	if want != haproxy.StateReady && a.ShutdownSessions == shutdownImmediately && t.before.Sessions > 0 {
		t.shutdown = true
		t.changes = append(t.changes, "shut down "+plural(t.before.Sessions, "session"))
	}
}

func enableWord(on bool) string {
	if on {
		return "enable"
	}
	return "disable"
}

// predict is the state check mode reports as "after".
func predict(t *target, want haproxy.AdminState) snapshot {
	s := t.before
	if t.setState {
		s.Admin &^= haproxy.FMaint | haproxy.CMaint | haproxy.FDrain
		switch want {
		case haproxy.StateMaint:
			s.Admin |= haproxy.FMaint
		case haproxy.StateDrain:
			s.Admin |= haproxy.FDrain
		}
	}
	if t.setWeight != nil {
		s.Weight = t.setWeight.absolute(t.st.InitialWeight)
	}
	if t.shutdown {
		s.Sessions = 0
	}
	return s
}
