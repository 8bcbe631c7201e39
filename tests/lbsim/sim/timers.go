package sim

import "time"

// timer is a pending afterFunc; Close stops those that have not fired.
type timer struct{ t *time.Timer }

// afterFunc runs f after d unless the simulator closes first or the
// returned stop func is called. The caller holds Sim.mu, and so must the
// caller of stop; f runs without it.
func (s *Sim) afterFunc(d time.Duration, f func()) (stop func()) {
	if s.closed {
		return func() {}
	}
	if s.timers == nil {
		s.timers = map[*timer]struct{}{}
	}
	tok := &timer{}
	s.wg.Add(1)
	s.timers[tok] = struct{}{}
	tok.t = time.AfterFunc(d, func() {
		defer s.wg.Done()
		s.mu.Lock()
		_, live := s.timers[tok]
		delete(s.timers, tok)
		s.mu.Unlock()
		if live {
			f()
		}
	})
	return func() { s.stopTimer(tok) }
}

func (s *Sim) stopTimer(tok *timer) {
	if _, live := s.timers[tok]; !live {
		return
	}
	delete(s.timers, tok)
	if tok.t.Stop() {
		s.wg.Done()
	}
}

// stopTimers stops every pending timer; the caller holds Sim.mu.
func (s *Sim) stopTimers() {
	for tok := range s.timers {
		s.stopTimer(tok)
	}
}
