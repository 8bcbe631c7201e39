package sim

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Hetzner target health states.
const (
	hzHealthy   = "healthy"
	hzUnhealthy = "unhealthy"
	hzUnknown   = "unknown"
)

// hzModel is the Hetzner part of the world; guarded by Sim.mu.
type hzModel struct {
	lbs        []*hzLB
	lbByID     map[int64]*hzLB
	servers    []Server
	serverByID map[int64]*Server
	actions    map[int64]*hzAction
	nextAction int64
	created    time.Time
}

type hzLB struct {
	cfg      LoadBalancer
	services []*hzService
	targets  []Target // as the API lists them, in order
	running  int      // actions still running
}

type hzService struct {
	lb      *hzLB
	cfg     Service
	port    int // bound listen port
	addr    string
	members map[string]*hzMember // by backend key
	order   []string
	rr      int
	// leaving are removed members whose in-flight requests are still
	// completing, oldest first; each leaves the list when it is idle.
	leaving []*hzMember
}

// hzMember is a backend of one service, with its health for that port.
type hzMember struct {
	member
	serverID int64
	status   string
	detail   string
	httpCode int
	okRun    int
	failRun  int
	stop     context.CancelFunc
}

type hzAction struct {
	id       int64
	command  string
	status   string // running, success, error
	progress int
	started  time.Time
	finished *time.Time
	errCode  string
	errMsg   string
	lbID     int64
}

// hzBackend is a host a load balancer sends traffic to.
type hzBackend struct {
	key      string // "server:101" or "ip:127.0.0.14"
	host     string
	name     string // server name or IP, for labels
	serverID int64
}

func (s *Sim) newHzModel() *hzModel {
	m := &hzModel{
		lbByID:     map[int64]*hzLB{},
		serverByID: map[int64]*Server{},
		actions:    map[int64]*hzAction{},
		created:    time.Now().UTC().Truncate(time.Second),
	}
	m.servers = append(m.servers, s.cfg.Hetzner.Servers...)
	for i := range m.servers {
		m.serverByID[m.servers[i].ID] = &m.servers[i]
	}
	for _, c := range s.cfg.Hetzner.LoadBalancers {
		lb := &hzLB{cfg: c, targets: append([]Target(nil), c.Targets...)}
		for _, sc := range c.Services {
			lb.services = append(lb.services, &hzService{lb: lb, cfg: sc, members: map[string]*hzMember{}})
		}
		m.lbs = append(m.lbs, lb)
		m.lbByID[c.ID] = lb
	}
	return m
}

// startHetznerServices binds every service's listen port.
func (s *Sim) startHetznerServices() error {
	for _, lb := range s.hz.lbs {
		for _, svc := range lb.services {
			addr := net.JoinHostPort(lb.cfg.Address, strconv.Itoa(svc.cfg.ListenPort))
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("hetzner load balancer %q service %d: listen on %s: %w", lb.cfg.Name, svc.cfg.ListenPort, addr, err)
			}
			svc.addr = ln.Addr().String()
			svc.port = ln.Addr().(*net.TCPAddr).Port
			fe := s.newFrontend("hetzner", fmt.Sprintf("%s/%d", lb.cfg.Name, svc.port), func() *member { return s.hzPick(svc) })
			s.serveListener(ln, fe)
			s.endpoints.Services = append(s.endpoints.Services, ServiceEndpoint{
				LoadBalancer: lb.cfg.Name, LoadBalancerID: lb.cfg.ID,
				ListenPort: svc.port, DestinationPort: svc.cfg.DestinationPort,
				Address: svc.addr, URL: "http://" + svc.addr,
			})
		}
	}
	return nil
}

// hzPick chooses the next healthy backend, round robin; nil if none.
func (s *Sim) hzPick(svc *hzService) *member {
	var ok []*hzMember
	for _, k := range svc.order {
		if m := svc.members[k]; m.status == hzHealthy {
			ok = append(ok, m)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	svc.rr++
	return &ok[svc.rr%len(ok)].member
}

// resolve returns the servers a label selector matches, by id.
func (m *hzModel) resolve(sel string) []*Server {
	p, err := parseSelector(sel)
	if err != nil {
		return nil
	}
	var out []*Server
	for i := range m.servers {
		if p.matches(m.servers[i].Labels) {
			out = append(out, &m.servers[i])
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// backends lists the distinct hosts behind lb's targets, in target order.
func (s *Sim) hzBackends(lb *hzLB) []hzBackend {
	seen := map[string]bool{}
	var out []hzBackend
	add := func(b hzBackend) {
		if !seen[b.key] {
			seen[b.key] = true
			out = append(out, b)
		}
	}
	server := func(sv *Server, private bool) hzBackend {
		return hzBackend{key: "server:" + strconv.FormatInt(sv.ID, 10), host: sv.reachedAt(private), name: sv.Name, serverID: sv.ID}
	}
	for _, t := range lb.targets {
		switch t.Type {
		case "server":
			if sv := s.hz.serverByID[t.Server.ID]; sv != nil {
				add(server(sv, t.UsePrivateIP))
			}
		case "ip":
			add(hzBackend{key: "ip:" + t.IP.IP, host: t.IP.IP, name: t.IP.IP})
		case "label_selector":
			for _, sv := range s.hz.resolve(t.LabelSelector.Selector) {
				add(server(sv, t.UsePrivateIP))
			}
		}
	}
	return out
}

// hzSync makes every service's members match lb's targets: new backends
// start in "unknown" with a health checker, removed ones stop taking new
// requests at once while their in-flight requests complete.
func (s *Sim) hzSync(lb *hzLB) {
	backends := s.hzBackends(lb)
	for _, svc := range lb.services {
		want := map[string]bool{}
		svc.order = svc.order[:0]
		for _, b := range backends {
			want[b.key] = true
			svc.order = append(svc.order, b.key)
			if _, ok := svc.members[b.key]; ok {
				continue
			}
			m := &hzMember{
				member: member{
					label: fmt.Sprintf("hetzner/%s/%d/%s", lb.cfg.Name, svc.port, b.name),
					host:  b.host,
					addr:  net.JoinHostPort(b.host, strconv.Itoa(svc.cfg.DestinationPort)),
				},
				serverID: b.serverID,
				status:   hzUnknown,
			}
			svc.members[b.key] = m
			s.hzStartChecker(svc, m)
		}
		for k, m := range svc.members {
			if !want[k] {
				m.stop()
				delete(svc.members, k)
				s.closeIdleConns()
				s.log.Info("hetzner target out of rotation", "lb", lb.cfg.Name, "port", svc.port, "target", m.label, "in_flight", m.inflight)
				svc.leave(m)
			}
		}
	}
}

// leave keeps removed member m listed until its in-flight requests end.
// The caller holds Sim.mu, as member.end does when it runs onIdle.
func (svc *hzService) leave(m *hzMember) {
	if m.inflight == 0 {
		return
	}
	svc.leaving = append(svc.leaving, m)
	m.onIdle = func() {
		svc.leaving = slices.DeleteFunc(svc.leaving, func(x *hzMember) bool { return x == m })
	}
}

func (s *Sim) hzStartChecker(svc *hzService, m *hzMember) {
	hc := svc.cfg.HealthCheck
	p := probe{
		tcp:       hc.Protocol == "tcp",
		host:      m.host,
		addr:      net.JoinHostPort(m.host, strconv.Itoa(hc.Port)),
		userAgent: "lbsim-hcloud-healthcheck",
		timeout:   hc.Timeout.D(),
	}
	if hc.HTTP != nil {
		p.path = hc.HTTP.Path
		p.hostHdr = hc.HTTP.Domain
		p.body = hc.HTTP.Response
		p.pass = statusPatterns(hc.HTTP.StatusCodes)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	m.stop = cancel
	s.startChecker(ctx, p, hc.Interval.D(), func(r probeResult) {
		before := m.status
		m.apply(r, hc.Retries)
		if m.status != before {
			s.log.Info("hetzner health", "lb", svc.lb.cfg.Name, "port", svc.port, "target", m.label, "from", before, "to", m.status, "detail", m.detail)
		}
	})
}

// apply moves the health state: unknown takes the first result; after
// that, retries consecutive failures make it unhealthy and retries
// consecutive passes healthy again (Hetzner's documented meaning).
func (m *hzMember) apply(r probeResult, retries int) {
	if r.ok() {
		m.okRun++
		m.failRun = 0
	} else {
		m.failRun++
		m.okRun = 0
	}
	switch {
	case m.status == hzUnknown && r.ok(), m.status == hzUnhealthy && m.okRun >= retries:
		m.status = hzHealthy
	case m.status == hzUnknown && !r.ok(), m.status == hzHealthy && m.failRun >= retries:
		m.status = hzUnhealthy
	}
	if m.status == hzHealthy {
		m.detail, m.httpCode = "", 0
	} else if !r.ok() {
		m.detail, m.httpCode = hzDetail(r), r.code
	}
}

func hzDetail(r probeResult) string {
	switch r.kind {
	case probeRefused:
		return "layer4_no_connection"
	case probeL4Timeout:
		return "layer4_timeout"
	case probeL7Timeout:
		return "layer7_timeout"
	case probeStatus:
		return "unexpected_http_status"
	case probeContent:
		return "unexpected_http_content"
	}
	return "unspecified"
}

// targetKey identifies an API target for duplicate and removal checks.
func targetKey(t Target) string {
	switch t.Type {
	case "server":
		if t.Server != nil {
			return "server:" + strconv.FormatInt(t.Server.ID, 10)
		}
	case "ip":
		if t.IP != nil {
			return "ip:" + t.IP.IP
		}
	case "label_selector":
		if t.LabelSelector != nil {
			return "label_selector:" + t.LabelSelector.Selector
		}
	}
	return ""
}

// hzRunAction starts an action on lb that runs for the configured delay,
// then either applies change and succeeds or fails (action faults). The
// caller holds Sim.mu.
func (s *Sim) hzRunAction(lb *hzLB, command string, change func()) *hzAction {
	s.hz.nextAction++
	a := &hzAction{
		id: s.hz.nextAction, command: command, status: "running",
		started: time.Now().UTC(), lbID: lb.cfg.ID,
	}
	s.hz.actions[a.id] = a
	lb.running++
	s.afterFunc(s.cfg.Hetzner.ActionDelay.D(), func() {
		code, msg, fail := s.actionFails()
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now().UTC()
		a.finished = &now
		a.progress = 100
		lb.running--
		if fail {
			a.status, a.errCode, a.errMsg = "error", code, msg
			s.log.Info("hetzner action failed (fault)", "action", a.id, "command", command)
			return
		}
		a.status = "success"
		change()
		s.hzSync(lb)
		s.log.Info("hetzner action done", "action", a.id, "command", command)
	})
	return a
}

// reachedAt is the address the load balancer sends checks and requests
// to: the private IP for a target added with use_private_ip, as Hetzner
// does, when it is a loopback IP lbsim can reach; else the public one.
func (sv *Server) reachedAt(private bool) string {
	if a, err := netip.ParseAddr(sv.PrivateIP); private && err == nil && a.IsLoopback() {
		return sv.PrivateIP
	}
	return sv.Address
}
