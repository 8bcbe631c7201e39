package sim

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// CloudWatch alarm states.
const (
	AlarmOK           = "OK"
	AlarmAlarm        = "ALARM"
	AlarmInsufficient = "INSUFFICIENT_DATA"
)

// Metric5xx is the one metric lbsim's alarms watch.
const Metric5xx = "HTTPCode_Target_5XX_Count"

// cwAlarm is one alarm; guarded by Sim.mu.
type cwAlarm struct {
	cfg     Alarm
	arn     string
	tg      *awsTG // nil: set through the admin endpoint only
	need    int    // 5xx responses in the window that reach the threshold
	state   string
	reason  string
	updated time.Time
	over    bool // the traffic's last verdict; an admin state holds until it changes
}

// AlarmState is an alarm as GET /alarms and the state show it.
type AlarmState struct {
	Name        string    `json:"name"`
	TargetGroup string    `json:"target_group,omitempty"`
	State       string    `json:"state"`
	Reason      string    `json:"reason"`
	Updated     time.Time `json:"updated"`
	// Count is the 5xx in the current window (traffic alarms).
	Count int `json:"count"`
}

func normalizeAlarms(a *AWS, tgByKey map[string]bool, bad func(string, string, ...any)) {
	seen := map[string]bool{}
	for i := range a.Alarms {
		al := &a.Alarms[i]
		f := fmt.Sprintf("aws.alarms[%d]", i)
		if al.Name == "" {
			bad(f+".name", "is required")
		}
		if seen[al.Name] {
			bad(f+".name", "%q is used twice", al.Name)
		}
		seen[al.Name] = true
		if al.TargetGroup != "" && !tgByKey[al.TargetGroup] {
			bad(f+".target_group", "%q is not the name or ARN of one of aws.target_groups", al.TargetGroup)
		}
		if al.Metric == "" {
			al.Metric = Metric5xx
		}
		if al.Metric != Metric5xx {
			bad(f+".metric", "only %s is simulated, got %q", Metric5xx, al.Metric)
		}
		if al.Threshold == 0 {
			al.Threshold = 1
		}
		if al.Threshold < 0 || math.IsNaN(al.Threshold) || math.IsInf(al.Threshold, 0) {
			bad(f+".threshold", "must be a positive number, got %v", al.Threshold)
		}
		if al.Period == 0 {
			al.Period = Duration(60 * time.Second)
		}
		if al.Period < 0 {
			bad(f+".period", "must be positive, got %s", al.Period)
		}
		if al.State == "" {
			al.State = AlarmOK
		}
		if !validAlarmState(al.State) {
			bad(f+".state", "must be OK, ALARM or INSUFFICIENT_DATA, got %q", al.State)
		}
	}
}

func validAlarmState(s string) bool {
	return s == AlarmOK || s == AlarmAlarm || s == AlarmInsufficient
}

// newAlarm builds alarm c of the AWS model m at time now.
func (s *Sim) newAlarm(m *awsModel, c Alarm, now time.Time) *cwAlarm {
	al := &cwAlarm{cfg: c, state: c.State, reason: "lbsim: initial state from the config", updated: now,
		arn:  fmt.Sprintf("arn:aws:cloudwatch:%s:123456789012:alarm:%s", s.cfg.AWS.Region, c.Name),
		need: max(1, int(math.Ceil(c.Threshold)))}
	if c.TargetGroup != "" {
		al.tg = m.lookup(c.TargetGroup)
		al.tg.alarms = append(al.tg.alarms, al)
	}
	return al
}

// record5xx counts a 5xx answer a target of group name gave through its
// listener, and judges the group's alarms.
func (s *Sim) record5xx(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tg := s.aws.byName[name]
	if tg == nil || len(tg.alarms) == 0 {
		return
	}
	now := time.Now()
	tg.errs = append(tg.errs, now)
	s.judgeAlarms(tg, now)
}

// judgeAlarms brings the group's alarms up to time now and drops the 5xx
// no alarm needs any more.
func (s *Sim) judgeAlarms(tg *awsTG, now time.Time) {
	keepFrom, keepLast := now, 0
	for _, al := range tg.alarms {
		al.judge(tg.errs, now)
		keepFrom = minTime(keepFrom, now.Add(-al.cfg.Period.D()))
		keepLast = max(keepLast, al.need)
	}
	cut := 0
	for cut < len(tg.errs)-keepLast && tg.errs[cut].Before(keepFrom) {
		cut++
	}
	tg.errs = slices.Delete(tg.errs, 0, cut)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// judge sets the state from the 5xx in the window ending at now, when the
// verdict differs from the last one. A fall back below the threshold is
// dated when it happened: when the need-th newest 5xx left the window.
func (al *cwAlarm) judge(errs []time.Time, now time.Time) {
	from := now.Add(-al.cfg.Period.D())
	n := len(errs) - inWindow(errs, from)
	over := n >= al.need
	if over == al.over {
		return
	}
	al.over = over
	window := al.cfg.Period.D().Seconds()
	if over {
		al.set(AlarmAlarm, fmt.Sprintf("Threshold Crossed: %d %s of target group %s in the last %g s (lbsim sliding window) was greater than or equal to the threshold (%g).",
			n, Metric5xx, al.tg.cfg.Name, window, al.cfg.Threshold), now)
		return
	}
	at := now
	if k := len(errs) - al.need; k >= 0 {
		at = minTime(now, errs[k].Add(al.cfg.Period.D()))
	}
	al.set(AlarmOK, fmt.Sprintf("Threshold Crossed: %d %s of target group %s in the last %g s (lbsim sliding window) was not greater than or equal to the threshold (%g).",
		al.need-1, Metric5xx, al.tg.cfg.Name, window, al.cfg.Threshold), at)
}

// inWindow is the index of the first time in errs after from.
func inWindow(errs []time.Time, from time.Time) int {
	i, _ := slices.BinarySearchFunc(errs, from, func(e, t time.Time) int {
		if e.After(t) {
			return 1
		}
		return -1
	})
	return i
}

func (al *cwAlarm) set(state, reason string, at time.Time) {
	if state != al.state {
		al.updated = at
	}
	al.state, al.reason = state, reason
}

// alarmsNow judges every traffic alarm and returns all alarms in config
// order; call with s.mu held.
func (s *Sim) alarmsNow() []*cwAlarm {
	now := time.Now()
	for _, tg := range s.aws.tgs {
		if len(tg.alarms) > 0 {
			s.judgeAlarms(tg, now)
		}
	}
	return s.aws.alarms
}

// Alarms returns every alarm's current state.
func (s *Sim) Alarms() []AlarmState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AlarmState
	for _, al := range s.alarmsNow() {
		st := AlarmState{Name: al.cfg.Name, State: al.state, Reason: al.reason, Updated: al.updated}
		if al.tg != nil {
			st.TargetGroup = al.tg.cfg.Name
			st.Count = len(al.tg.errs) - inWindow(al.tg.errs, time.Now().Add(-al.cfg.Period.D()))
		}
		out = append(out, st)
	}
	return out
}

// SetAlarm sets alarm name's state, as CloudWatch's SetAlarmState does: a
// traffic alarm keeps it until its verdict next changes. An unknown name
// creates an alarm without a target group.
func (s *Sim) SetAlarm(name, state, reason string) error {
	if name == "" || strings.ContainsAny(name, "\x00\n") {
		return fmt.Errorf("alarm name %q is not valid", name)
	}
	if !validAlarmState(state) {
		return fmt.Errorf("state must be OK, ALARM or INSUFFICIENT_DATA, got %q", state)
	}
	if reason == "" {
		reason = "lbsim: set through the admin endpoint"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	al := s.aws.alarmByName[name]
	if al == nil {
		al = s.newAlarm(s.aws, Alarm{Name: name, Metric: Metric5xx, Threshold: 1, Period: Duration(time.Minute), State: state}, time.Now())
		s.aws.alarms = append(s.aws.alarms, al)
		s.aws.alarmByName[name] = al
	}
	al.set(state, reason, time.Now())
	return nil
}
