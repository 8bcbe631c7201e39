package lb

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Registration is one registration of the target in one pool: lb_drain
// returns those it took away as restore, and lb_register's restore option
// puts exactly those back.
type Registration struct {
	Kind   string // "load_balancer" or "target_group"
	Pool   string // the pool's name
	PoolID string // Hetzner load balancer id, target group ARN
	Target Target // with the AWS port; Hetzner targets have none
	Opts   RegisterOpts
	// Method is how the drain took the target out: remove deregistered
	// it, health made it fail its health check and left it registered.
	Method string
}

// restoreKeys are the keys of a restore entry, as Map writes them.
var restoreKeys = []string{"availability_zone", "kind", "method", "pool", "pool_id", "port", "target", "target_type", "use_private_ip"}

// Map is r as lb_drain returns it: every key always present, null where
// it does not apply (use_private_ip is for server targets only).
func (r Registration) Map() map[string]any {
	m := map[string]any{
		"kind": r.Kind, "pool": r.Pool, "pool_id": r.PoolID,
		"target": r.Target.ID, "target_type": r.Target.Type, "method": r.Method,
		"port": nil, "availability_zone": nil, "use_private_ip": nil,
	}
	if r.Target.Port != 0 {
		m["port"] = r.Target.Port
	}
	if r.Opts.AvailabilityZone != "" {
		m["availability_zone"] = r.Opts.AvailabilityZone
	}
	if r.Target.Type == TypeServer {
		m["use_private_ip"] = r.Opts.UsePrivateIP
	}
	return m
}

func registrationMaps(regs []Registration) []any {
	out := make([]any, 0, len(regs))
	for _, r := range regs {
		out = append(out, r.Map())
	}
	return out
}

// parseRestore checks the restore option's entries, each on its own: the
// keys Map writes and their types. Whether an entry's pool and target are
// those of the run is checked once they are looked up (matchRestore).
func parseRestore(entries []map[string]any) ([]Registration, error) {
	regs := make([]Registration, 0, len(entries))
	for i, e := range entries {
		at := fmt.Sprintf("restore[%d]", i)
		for _, k := range slices.Sorted(maps.Keys(e)) {
			if !slices.Contains(restoreKeys, k) {
				return nil, fmt.Errorf("%s has an unknown key %q (known: %s); pass lb_drain's restore result as it is", at, k, strings.Join(restoreKeys, ", "))
			}
		}
		var r Registration
		var err error
		str := func(key string, required bool, choices ...string) string {
			v, ok := e[key].(string)
			switch {
			case err != nil:
			case e[key] == nil && required:
				err = fmt.Errorf("%s needs %s: pass lb_drain's restore result as it is", at, key)
			case e[key] != nil && !ok:
				err = fmt.Errorf("%s.%s must be a string, got %v", at, key, e[key])
			case ok && len(choices) > 0 && !slices.Contains(choices, v):
				err = fmt.Errorf("%s.%s must be one of %s, got %q", at, key, strings.Join(choices, ", "), v)
			}
			return v
		}
		r.Kind = str("kind", false, "load_balancer", "target_group")
		r.Pool = str("pool", false)
		r.PoolID = str("pool_id", true)
		r.Target.ID = str("target", true)
		r.Target.Type = str("target_type", false, TypeServer, TypeIP, TypeInstance)
		r.Method = str("method", false, MethodRemove, MethodHealth)
		r.Opts.AvailabilityZone = str("availability_zone", false)
		if err != nil {
			return nil, err
		}
		if r.Target.Port, err = restorePort(e["port"]); err != nil {
			return nil, fmt.Errorf("%s.port %v", at, err)
		}
		switch v := e["use_private_ip"].(type) {
		case nil:
		case bool:
			r.Opts.UsePrivateIP = v
		default:
			return nil, fmt.Errorf("%s.use_private_ip must be true, false or null, got %v", at, v)
		}
		regs = append(regs, r)
	}
	return regs, nil
}

// restorePort reads a port: null, or a whole number from 1 to 65535.
func restorePort(v any) (int, error) {
	var f float64
	switch n := v.(type) {
	case nil:
		return 0, nil
	case float64:
		f = n
	case int:
		f = float64(n)
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, fmt.Errorf("must be a number, got %q", n)
		}
	default:
		return 0, fmt.Errorf("must be a number or null, got %v", v)
	}
	if f != float64(int(f)) || f < 1 || f > 65535 {
		return 0, fmt.Errorf("must be between 1 and 65535, got %v", v)
	}
	return int(f), nil
}

// matchRestore gives each restore entry to its pool, and refuses one whose
// pool is not among the run's or whose target is not the run's target.
func (s *runState) matchRestore() error {
	var given []string
	for _, pr := range s.pools {
		given = append(given, fmt.Sprintf("%s (%s)", pr.label(), pr.id))
	}
	for i, r := range s.a.restore {
		// By id alone: a server id, an instance id and an IP cannot be
		// mistaken for one another.
		if r.Target.ID != s.target.ID {
			return fmt.Errorf("restore[%d] is for target %s, but target is %s: pass the restore result of the drain of this target", i, r.Target.ID, s.target)
		}
		p := slices.IndexFunc(s.pools, func(pr *poolRun) bool { return pr.id == r.PoolID && (r.Kind == "" || r.Kind == pr.kind) })
		if p < 0 {
			return fmt.Errorf("restore[%d] is for %s %s (%s), which is not one of the pools this task works on: %s; pass the restore result of a drain of the same load balancers or target groups",
				i, strings.ReplaceAll(orDefault(r.Kind, "pool"), "_", " "), orDefault(r.Pool, "?"), r.PoolID, strings.Join(given, ", "))
		}
		s.pools[p].restore = append(s.pools[p].restore, r)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// drained lists the target's own registrations in every pool, as the
// lookup found them: what the drain takes away (method remove) or makes
// fail its health check (method health). Registrations through a label
// selector are not the target's own, and an unused AWS one carries no
// traffic.
func (s *runState) drained() []Registration {
	var regs []Registration
	for _, pr := range s.pools {
		for _, m := range pr.members {
			if !s.target.Matches(m.Target) || m.Via != "" || allStates(m, StateUnused) {
				continue
			}
			t := m.Target
			t.Name = s.target.Name
			regs = append(regs, Registration{Kind: pr.kind, Pool: pr.pool.Name(), PoolID: pr.id, Target: t, Opts: m.Opts, Method: s.a.Method})
		}
	}
	return regs
}

// planRestore sets the register calls of restore: each entry of a pool
// that is not registered (or draining) there. A pool no entry names is
// left as it is.
func (s *runState) planRestore() error {
	if err := s.matchRestore(); err != nil {
		return err
	}
	for _, pr := range s.pools {
		for i, r := range pr.restore {
			// The run's target names it in messages, and types it
			// where the entry does not.
			r.Target.Name = s.target.Name
			if r.Target.Type == "" {
				r.Target.Type = s.target.Type
			}
			pr.restore[i] = r
			if !registered(r.Target, pr.members) {
				pr.calls = append(pr.calls, r.Target)
			}
		}
		st := pr.before
		pr.done = len(pr.restore) == 0 || (len(pr.calls) == 0 && st.Registered && st.AllPorts(StateHealthy))
	}
	return nil
}

// registered reports whether t is a member on its own port (AWS: each port
// is a registration of its own) and not draining.
func registered(t Target, members []Member) bool {
	for _, m := range members {
		if m.Target.ID == t.ID && (t.Port == 0 || m.Target.Port == t.Port) && m.Via == "" && !allStates(m, StateDraining) {
			return true
		}
	}
	return false
}

// restoreOpts are the registration settings restore gives for t in p,
// else the options'.
func (s *runState) restoreOpts(p Pool, t Target) RegisterOpts {
	for _, pr := range s.pools {
		if pr.pool != p {
			continue
		}
		for _, r := range pr.restore {
			if r.Target.ID == t.ID && r.Target.Port == t.Port {
				return r.Opts
			}
		}
	}
	return RegisterOpts{UsePrivateIP: s.a.UsePrivateIP}
}

// restored lists the registrations the register made or, in check mode,
// would make.
func (s *runState) restored() []Registration {
	var regs []Registration
	for _, pr := range s.pools {
		for _, t := range pr.calls {
			for _, r := range pr.restore {
				if r.Target.ID == t.ID && r.Target.Port == t.Port && (pr.acted || s.m.CheckMode) {
					regs = append(regs, r)
					break
				}
			}
		}
	}
	return regs
}
