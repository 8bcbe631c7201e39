package haproxymaint

import (
	"fmt"
	"strings"

	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

// planMsg is check mode's msg: what a run would change on each server and
// the wait after it. A role's dry run shows it as its plan.
func (s *maint) planMsg() string {
	want := s.g.state
	var do, same []string
	for _, t := range s.targets {
		if len(t.changes) == 0 {
			same = append(same, t.key())
			continue
		}
		now := ""
		if want != haproxy.StateReady {
			now = ", " + plural(t.before.Sessions, "session") + " now"
		}
		do = append(do, fmt.Sprintf("%s to %s (%s%s)", t.key(), want, strings.Join(t.changes, ", "), now))
	}
	var parts []string
	if len(do) > 0 {
		parts = append(parts, "would set "+strings.Join(do, "; "))
		if s.a.Wait {
			until := "its sessions end"
			if want == haproxy.StateReady {
				until = "it is UP (its health checks pass)"
			}
			parts = append(parts, fmt.Sprintf("then wait up to %ds until %s", s.a.Timeout, until))
		}
	}
	if len(same) > 0 {
		parts = append(parts, fmt.Sprintf("%s is %s already: nothing to change", strings.Join(same, ", "), want))
	}
	if len(parts) == 0 {
		return "check mode: no server to change"
	}
	return "check mode: " + strings.Join(parts, "; ")
}
