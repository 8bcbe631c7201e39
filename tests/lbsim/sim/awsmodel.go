package sim

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// ELBv2 target health states and reasons.
const (
	awsInitial   = "initial"
	awsHealthy   = "healthy"
	awsUnhealthy = "unhealthy"
	awsDraining  = "draining"
	awsUnused    = "unused"
)

// awsModel is the AWS part of the world; guarded by Sim.mu.
type awsModel struct {
	tgs       []*awsTG
	byARN     map[string]*awsTG
	byName    map[string]*awsTG
	instances map[string]*Instance

	alarms      []*cwAlarm
	alarmByName map[string]*cwAlarm
}

type awsTG struct {
	cfg     TargetGroup
	match   codeMatcher
	targets map[string]*awsTarget // by "id:port"
	order   []string              // registration order
	lbARNs  []string
	rr      int

	alarms []*cwAlarm  // the alarms on this group's 5xx
	errs   []time.Time // the 5xx its listeners proxied, oldest first
}

// awsTarget is a registered (or draining) target.
type awsTarget struct {
	member
	id          string
	port        int
	az          string // the AvailabilityZone it was registered with (ip targets)
	state       string
	reason      string
	description string
	okRun       int
	failRun     int
	stop        context.CancelFunc
	stopDrain   func()
}

func (tg *awsTG) port(p int) int {
	if p == 0 {
		return tg.cfg.Port
	}
	return p
}

func awsKey(id string, port int) string { return id + ":" + strconv.Itoa(port) }

func (s *Sim) newAWSModel() *awsModel {
	m := &awsModel{byARN: map[string]*awsTG{}, byName: map[string]*awsTG{}, instances: map[string]*Instance{}, alarmByName: map[string]*cwAlarm{}}
	for i := range s.cfg.AWS.Instances {
		in := s.cfg.AWS.Instances[i]
		m.instances[in.ID] = &in
	}
	for _, c := range s.cfg.AWS.TargetGroups {
		match, _ := parseMatcher(c.HealthCheck.Matcher)
		tg := &awsTG{cfg: c, match: match, targets: map[string]*awsTarget{}}
		m.tgs = append(m.tgs, tg)
		m.byARN[c.ARN] = tg
		m.byName[c.Name] = tg
	}
	now := time.Now()
	for _, c := range s.cfg.AWS.Alarms {
		al := s.newAlarm(m, c, now)
		m.alarms = append(m.alarms, al)
		m.alarmByName[c.Name] = al
	}
	lbIndex := map[string]string{}
	for _, l := range s.cfg.AWS.Listeners {
		tg := m.lookup(l.TargetGroup)
		arn, ok := lbIndex[l.LoadBalancer]
		if !ok {
			arn = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%016x",
				s.cfg.AWS.Region, accountOf(tg.cfg.ARN), l.LoadBalancer, len(lbIndex)+1)
			lbIndex[l.LoadBalancer] = arn
		}
		if !contains(tg.lbARNs, arn) {
			tg.lbARNs = append(tg.lbARNs, arn)
		}
	}
	return m
}

func accountOf(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) > 4 {
		return parts[4]
	}
	return "123456789012"
}

func (m *awsModel) lookup(nameOrARN string) *awsTG {
	if tg := m.byARN[nameOrARN]; tg != nil {
		return tg
	}
	return m.byName[nameOrARN]
}

// startAWSListeners binds every listener.
func (s *Sim) startAWSListeners() error {
	for _, l := range s.cfg.AWS.Listeners {
		tg := s.aws.lookup(l.TargetGroup)
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			return fmt.Errorf("aws listener for %q: listen on %s: %w", tg.cfg.Name, l.Address, err)
		}
		fe := s.newFrontend("aws", tg.cfg.Name, func() *member { return s.awsPick(tg) })
		s.serveListener(ln, fe)
		addr := ln.Addr().String()
		s.endpoints.Listeners = append(s.endpoints.Listeners, ListenerEndpoint{
			LoadBalancer: l.LoadBalancer, TargetGroup: tg.cfg.Name, TargetGroupARN: tg.cfg.ARN,
			Address: addr, URL: "http://" + addr,
		})
	}
	return nil
}

// awsPick chooses the next healthy target, round robin. With no healthy
// target and fail_open, it uses the unhealthy ones (ALB fail-open); targets
// in initial or draining never get traffic.
func (s *Sim) awsPick(tg *awsTG) *member {
	var healthy, unhealthy []*awsTarget
	for _, k := range tg.order {
		switch t := tg.targets[k]; t.state {
		case awsHealthy:
			healthy = append(healthy, t)
		case awsUnhealthy:
			unhealthy = append(unhealthy, t)
		}
	}
	pool := healthy
	if len(pool) == 0 && *tg.cfg.FailOpen {
		pool = unhealthy
	}
	if len(pool) == 0 {
		return nil
	}
	tg.rr++
	return &pool[tg.rr%len(pool)].member
}

// hostOfTarget returns the address a target id stands for.
func (s *Sim) awsHostOf(tg *awsTG, id string) (string, bool) {
	if tg.cfg.TargetType == "ip" {
		return id, true
	}
	in := s.aws.instances[id]
	if in == nil {
		return "", false
	}
	return in.Address, true
}

// awsRegister registers (id, port) in tg: a new target starts in initial;
// a draining one is taken back (initial again); a registered one is left
// alone. The caller holds Sim.mu and has validated id.
func (s *Sim) awsRegister(tg *awsTG, id string, port int, az string) {
	key := awsKey(id, port)
	t := tg.targets[key]
	switch {
	case t == nil:
		host, _ := s.awsHostOf(tg, id)
		t = &awsTarget{
			member: member{
				label: fmt.Sprintf("aws/%s/%s", tg.cfg.Name, key),
				host:  host,
				addr:  net.JoinHostPort(host, strconv.Itoa(port)),
			},
			id: id, port: port, az: az,
		}
		tg.targets[key] = t
		tg.order = append(tg.order, key)
	case t.state == awsDraining:
		t.stopDrain()
		t.onIdle = nil
	default:
		return
	}
	t.state, t.reason, t.description = awsInitial, "Elb.RegistrationInProgress", "Target registration is in progress"
	t.okRun, t.failRun = 0, 0
	s.awsStartChecker(tg, t)
	s.log.Info("aws target registered", "tg", tg.cfg.Name, "target", key)
}

// awsDeregister starts draining (id, port): no new requests at once; the
// target leaves when its in-flight requests end or, at the deregistration
// delay, its remaining requests are cut (as an ALB closes them). Unknown
// pairs are ignored, like AWS does. The caller holds Sim.mu.
func (s *Sim) awsDeregister(tg *awsTG, id string, port int) {
	key := awsKey(id, port)
	t := tg.targets[key]
	if t == nil || t.state == awsDraining {
		return
	}
	t.stop()
	t.state, t.reason, t.description = awsDraining, "Target.DeregistrationInProgress", "Target deregistration is in progress"
	s.log.Info("aws target draining", "tg", tg.cfg.Name, "target", key, "in_flight", t.inflight)
	remove := func() {
		t.stopDrain()
		t.onIdle = nil
		delete(tg.targets, key)
		for i, k := range tg.order {
			if k == key {
				tg.order = append(tg.order[:i], tg.order[i+1:]...)
				break
			}
		}
		s.closeIdleConns()
		s.log.Info("aws target deregistered", "tg", tg.cfg.Name, "target", key)
	}
	if t.inflight == 0 {
		t.stopDrain = func() {}
		remove()
		return
	}
	t.onIdle = remove
	t.stopDrain = s.afterFunc(tg.cfg.DeregistrationDelay.D(), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if tg.targets[key] != t || t.state != awsDraining {
			return
		}
		s.log.Info("aws deregistration delay expired, cutting requests", "tg", tg.cfg.Name, "target", key, "in_flight", t.inflight)
		t.cutAll()
		remove()
	})
}

func (s *Sim) awsStartChecker(tg *awsTG, t *awsTarget) {
	hc := tg.cfg.HealthCheck
	port := t.port
	if hc.Port != 0 {
		port = hc.Port
	}
	p := probe{
		tcp:       hc.Protocol == "TCP",
		host:      t.host,
		addr:      net.JoinHostPort(t.host, strconv.Itoa(port)),
		path:      hc.Path,
		userAgent: "ELB-HealthChecker/2.0",
		timeout:   hc.Timeout.D(),
		pass:      tg.match,
	}
	ctx, cancel := context.WithCancel(s.ctx)
	t.stop = cancel
	s.startChecker(ctx, p, hc.Interval.D(), func(r probeResult) {
		before := t.state
		t.apply(r, hc.HealthyThreshold, hc.UnhealthyThreshold)
		if t.state != before {
			s.log.Info("aws health", "tg", tg.cfg.Name, "target", t.label, "from", before, "to", t.state, "reason", t.reason)
		}
	})
}

// apply moves the state machine: initial → healthy after healthy
// consecutive passes, or → unhealthy after unhealthy consecutive failures;
// healthy ⇄ unhealthy on the same thresholds.
func (t *awsTarget) apply(r probeResult, healthy, unhealthy int) {
	if t.state == awsDraining {
		return
	}
	if r.ok() {
		t.okRun++
		t.failRun = 0
	} else {
		t.failRun++
		t.okRun = 0
	}
	switch {
	case r.ok() && t.state != awsHealthy && t.okRun >= healthy:
		t.state, t.reason, t.description = awsHealthy, "", ""
	case !r.ok() && t.state != awsUnhealthy && t.failRun >= unhealthy:
		t.state = awsUnhealthy
		t.reason, t.description = awsFailure(r)
	case !r.ok() && t.state == awsUnhealthy:
		t.reason, t.description = awsFailure(r)
	case t.state == awsInitial:
		t.reason, t.description = "Elb.InitialHealthChecking", "Initial health checks in progress"
	}
}

func awsFailure(r probeResult) (reason, description string) {
	switch r.kind {
	case probeL4Timeout, probeL7Timeout:
		return "Target.Timeout", "Request timed out"
	case probeStatus, probeContent:
		return "Target.ResponseCodeMismatch", fmt.Sprintf("Health checks failed with these codes: [%d]", r.code)
	}
	return "Target.FailedHealthChecks", "Health checks failed"
}
