package sim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// hetznerHandler serves the Hetzner Cloud API subset under /v1.
func (s *Sim) hetznerHandler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		op := "hetzner " + method + " " + strings.TrimPrefix(path, "/v1")
		mux.Handle(pattern, s.hzMiddleware(op, h))
	}
	route("GET /v1/load_balancers", s.hzListLBs)
	route("GET /v1/load_balancers/{id}", s.hzGetLB)
	route("POST /v1/load_balancers/{id}/actions/add_target", s.hzAddTarget)
	route("POST /v1/load_balancers/{id}/actions/remove_target", s.hzRemoveTarget)
	route("GET /v1/load_balancers/{id}/actions", s.hzListLBActions)
	route("GET /v1/load_balancers/{id}/actions/{action_id}", s.hzGetLBAction)
	route("GET /v1/actions", s.hzListActions)
	route("GET /v1/actions/{action_id}", s.hzGetAction)
	route("GET /v1/servers", s.hzListServers)
	route("GET /v1/servers/{id}", s.hzGetServer)
	mux.Handle("/", s.hzMiddleware("hetzner other", func(w http.ResponseWriter, r *http.Request) {
		hzFail(w, "not_found", fmt.Sprintf("lbsim does not simulate %s %s (only load_balancers, actions and servers)", r.Method, r.URL.Path), nil)
	}))
	return mux
}

// hzMiddleware counts, authenticates, rate-limits and injects faults.
func (s *Sim) hzMiddleware(op string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.countAPI(op)
		w.Header().Set("X-Correlation-Id", requestID())
		if r.Header.Get("Authorization") != "Bearer "+s.cfg.Hetzner.Token || s.cfg.Hetzner.Token == "" {
			hzFail(w, "unauthorized", "unable to authenticate", nil)
			return
		}
		ok, limit, remaining, reset := s.limiter.take(time.Now())
		w.Header().Set("RateLimit-Limit", strconv.Itoa(limit))
		w.Header().Set("RateLimit-Remaining", strconv.Itoa(remaining))
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(reset, 10))
		if !ok {
			hzFail(w, "rate_limit_exceeded", "limit of "+strconv.Itoa(limit)+" requests per hour reached", nil)
			return
		}
		in, _ := s.inject("hetzner", op)
		switch {
		case in.throttle:
			hzFail(w, "rate_limit_exceeded", "limit of "+strconv.Itoa(limit)+" requests per hour reached (lbsim fault: throttle_next)", nil)
			return
		case in.failCode != "":
			hzFail(w, in.failCode, "lbsim fault: fail_next "+in.failCode, nil)
			return
		case in.status == http.StatusServiceUnavailable:
			hzFail(w, "unavailable", "service unavailable (lbsim fault: error_rate)", nil)
			return
		case in.status != 0:
			hzFail(w, "server_error", "internal server error (lbsim fault: error_rate)", nil)
			return
		}
		h(w, r)
	})
}

// hzStatus maps an error code to its HTTP status.
func hzStatus(code string) int {
	switch code {
	case "invalid_input", "json_error", "unsupported_error":
		return http.StatusBadRequest
	case "unauthorized":
		return http.StatusUnauthorized
	case "forbidden", "token_readonly", "resource_unavailable", "resource_limit_exceeded":
		return http.StatusForbidden
	case "not_found":
		return http.StatusNotFound
	case "conflict", "uniqueness_error", "target_already_defined":
		return http.StatusConflict
	case "locked", "protected":
		return http.StatusLocked
	case "rate_limit_exceeded":
		return http.StatusTooManyRequests
	case "server_error":
		return http.StatusInternalServerError
	case "bad_gateway":
		return http.StatusBadGateway
	case "unavailable", "service_error", "maintenance", "robot_unavailable":
		return http.StatusServiceUnavailable
	case "timeout":
		return http.StatusGatewayTimeout
	}
	return http.StatusUnprocessableEntity
}

// hzFail writes Hetzner's error JSON. Content-Type matters: hcloud-go
// ignores error bodies without application/json.
func hzFail(w http.ResponseWriter, code, msg string, details any) {
	if details == nil {
		details = map[string]any{}
	}
	writeJSON(w, hzStatus(code), hzError{Error: hzErrorBody{Code: code, Message: msg, Details: details}})
}

func hzInvalid(w http.ResponseWriter, field, msg string) {
	hzFail(w, "invalid_input", "invalid input in field '"+field+"'", map[string]any{
		"fields": []hzInvalidField{{Name: field, Messages: []string{msg}}},
	})
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// page reads page and per_page and returns the slice bounds and meta.
func hzPage(w http.ResponseWriter, r *http.Request, total int) (lo, hi int, meta hzMeta, ok bool) {
	q := r.URL.Query()
	page, perPage := 1, 25
	for _, p := range []struct {
		name string
		v    *int
		max  int
	}{{"page", &page, 1 << 30}, {"per_page", &perPage, 50}} {
		if s := q.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > p.max {
				hzInvalid(w, p.name, fmt.Sprintf("must be an integer between 1 and %d", p.max))
				return 0, 0, meta, false
			}
			*p.v = n
		}
	}
	last := (total + perPage - 1) / perPage
	if last == 0 {
		last = 1
	}
	lo = min((page-1)*perPage, total)
	hi = min(lo+perPage, total)
	pg := hzPagination{Page: page, PerPage: perPage, LastPage: &last, TotalEntries: &total}
	if page > 1 {
		p := page - 1
		pg.PreviousPage = &p
	}
	if page < last {
		n := page + 1
		pg.NextPage = &n
	}
	return lo, hi, hzMeta{Pagination: pg}, true
}

// hzLBByPath resolves {id}; it writes the error itself.
func (s *Sim) hzLBByPath(w http.ResponseWriter, r *http.Request) *hzLB {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		hzInvalid(w, "id", "must be an integer")
		return nil
	}
	lb := s.hz.lbByID[id]
	if lb == nil {
		hzFail(w, "not_found", fmt.Sprintf("load balancer with ID %d not found", id), nil)
	}
	return lb
}

func (s *Sim) hzListLBs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var sel selector
	if ls := q.Get("label_selector"); ls != "" {
		var err error
		if sel, err = parseSelector(ls); err != nil {
			hzInvalid(w, "label_selector", err.Error())
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []hzLoadBalancer
	for _, lb := range s.hz.lbs {
		if n := q.Get("name"); n != "" && n != lb.cfg.Name {
			continue
		}
		if sel != nil && !sel.matches(lb.cfg.Labels) {
			continue
		}
		out = append(out, s.hzLBJSON(lb))
	}
	hzSortBy(q["sort"], out, func(a hzLoadBalancer) (int64, string) { return a.ID, a.Name })
	lo, hi, meta, ok := hzPage(w, r, len(out))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"load_balancers": nonNil(out[lo:hi]), "meta": meta})
}

// hzSortBy sorts by "id" or "name" (":asc"/":desc"); default by id.
func hzSortBy[T any](keys []string, list []T, key func(T) (int64, string)) {
	sort.SliceStable(list, func(i, j int) bool {
		ai, an := key(list[i])
		bi, bn := key(list[j])
		for _, k := range keys {
			f, dir, _ := strings.Cut(k, ":")
			less, eq := ai < bi, ai == bi
			if f == "name" {
				less, eq = an < bn, an == bn
			}
			if eq {
				continue
			}
			if dir == "desc" {
				return !less
			}
			return less
		}
		return ai < bi
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Sim) hzGetLB(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lb := s.hzLBByPath(w, r); lb != nil {
		writeJSON(w, http.StatusOK, map[string]any{"load_balancer": s.hzLBJSON(lb)})
	}
}

// hzLBJSON renders lb; the caller holds Sim.mu.
func (s *Sim) hzLBJSON(lb *hzLB) hzLoadBalancer {
	c := lb.cfg
	out := hzLoadBalancer{
		ID: c.ID, Name: c.Name, Labels: c.Labels, Created: hzTime(s.hz.created),
		PublicNet:        hzLBPublicNet{Enabled: true, IPv4: hzIPv4{IP: c.Address}, IPv6: hzIPv4{IP: "2001:db8::" + strconv.FormatInt(c.ID, 16)}},
		PrivateNet:       []hzLBPrivateNet{},
		Location:         hzLocationOf(c.Location),
		LoadBalancerType: hzLBType{ID: 1, Name: "lb11", Description: "LB11", MaxConnections: 10000, MaxServices: 5, MaxTargets: 25, MaxAssignedCertificates: 10, Prices: []any{}},
		Algorithm:        hzAlgorithm{Type: "round_robin"},
		IncludedTraffic:  21990232555520,
		Services:         []hzServiceJSON{},
		Targets:          []hzTargetJSON{},
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if c.Network != nil {
		out.PrivateNet = append(out.PrivateNet, hzLBPrivateNet{Network: c.Network.ID, IP: c.Network.IP})
	}
	for _, svc := range lb.services {
		hc := svc.cfg.HealthCheck
		js := hzServiceJSON{
			Protocol: svc.cfg.Protocol, ListenPort: svc.port, DestinationPort: svc.cfg.DestinationPort,
			HTTP: hzServiceHTTP{CookieName: "HCLBSTICKY", CookieLifetime: 300, Certificates: []int64{}, TimeoutIdle: 60},
			HealthCheck: hzHealthCheck{
				Protocol: hc.Protocol, Port: hc.Port, Retries: hc.Retries,
				Interval: hc.Interval.seconds(1), Timeout: hc.Timeout.seconds(1),
			},
		}
		if hc.HTTP != nil {
			h := &hzHealthCheckHTP{Path: hc.HTTP.Path, Response: hc.HTTP.Response, StatusCodes: hc.HTTP.StatusCodes}
			if hc.HTTP.Domain != "" {
				h.Domain = &hc.HTTP.Domain
			}
			js.HealthCheck.HTTP = h
		}
		out.Services = append(out.Services, js)
	}
	health := func(key string) []hzHealthStatus {
		hs := []hzHealthStatus{}
		for _, svc := range lb.services {
			st := hzHealthStatus{ListenPort: svc.port, Status: hzUnknown}
			if m := svc.members[key]; m != nil {
				st.Status = m.status
				if m.status == hzUnhealthy && m.detail != "" {
					d := m.detail
					st.Detail = &d
					if m.httpCode != 0 {
						c := m.httpCode
						st.HTTPStatusCode = &c
					}
				}
			}
			hs = append(hs, st)
		}
		return hs
	}
	for _, t := range lb.targets {
		upi := t.UsePrivateIP
		jt := hzTargetJSON{Type: t.Type}
		switch t.Type {
		case "server":
			jt.Server = &hzTargetServer{ID: t.Server.ID}
			jt.UsePrivateIP = &upi
			jt.HealthStatus = health("server:" + itoa64(t.Server.ID))
		case "ip":
			jt.IP = &hzTargetIP{IP: t.IP.IP}
			jt.HealthStatus = health("ip:" + t.IP.IP)
		case "label_selector":
			jt.LabelSelector = &hzTargetSelector{Selector: t.LabelSelector.Selector}
			jt.UsePrivateIP = &upi
			children := []hzTargetJSON{}
			for _, sv := range s.hz.resolve(t.LabelSelector.Selector) {
				cupi := upi
				children = append(children, hzTargetJSON{
					Type: "server", Server: &hzTargetServer{ID: sv.ID}, UsePrivateIP: &cupi,
					HealthStatus: health("server:" + itoa64(sv.ID)),
				})
			}
			jt.Targets = &children
		}
		out.Targets = append(out.Targets, jt)
	}
	return out
}

// hzTargetBody is the body of add_target and remove_target.
type hzTargetBody struct {
	Type   string `json:"type"`
	Server *struct {
		ID *int64 `json:"id"`
	} `json:"server"`
	LabelSelector *struct {
		Selector *string `json:"selector"`
	} `json:"label_selector"`
	IP *struct {
		IP *string `json:"ip"`
	} `json:"ip"`
	UsePrivateIP *bool `json:"use_private_ip"`
}

// hzDecodeTarget reads and checks the body of add_target/remove_target;
// it writes the error itself. It runs before Sim.mu is taken, so a slow
// client never holds the model.
func hzDecodeTarget(w http.ResponseWriter, r *http.Request, add bool) (Target, bool) {
	var b hzTargetBody
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		var te *json.UnmarshalTypeError
		if errorsAs(err, &te) {
			hzInvalid(w, te.Field, "has the wrong type: "+err.Error())
		} else {
			hzFail(w, "json_error", "request body is not valid JSON: "+err.Error(), nil)
		}
		return Target{}, false
	}
	t := Target{Type: b.Type}
	switch b.Type {
	case "server":
		if b.Server == nil || b.Server.ID == nil {
			hzInvalid(w, "server", "Missing data for required field.")
			return t, false
		}
		t.Server = &TargetServer{ID: *b.Server.ID}
	case "label_selector":
		if b.LabelSelector == nil || b.LabelSelector.Selector == nil {
			hzInvalid(w, "label_selector", "Missing data for required field.")
			return t, false
		}
		if _, err := parseSelector(*b.LabelSelector.Selector); err != nil {
			hzInvalid(w, "label_selector.selector", err.Error())
			return t, false
		}
		t.LabelSelector = &TargetLabelSelector{Selector: *b.LabelSelector.Selector}
	case "ip":
		if b.IP == nil || b.IP.IP == nil {
			hzInvalid(w, "ip", "Missing data for required field.")
			return t, false
		}
		a, err := netip.ParseAddr(*b.IP.IP)
		if err != nil {
			hzInvalid(w, "ip.ip", "not a valid IP address")
			return t, false
		}
		if !a.IsLoopback() && add {
			hzInvalid(w, "ip.ip", "lbsim can only reach loopback IP targets (127.0.0.0/8)")
			return t, false
		}
		t.IP = &TargetIP{IP: *b.IP.IP}
	case "":
		hzInvalid(w, "type", "Missing data for required field.")
		return t, false
	default:
		hzInvalid(w, "type", "Must be one of: server, label_selector, ip.")
		return t, false
	}
	if add && b.UsePrivateIP != nil && *b.UsePrivateIP {
		if t.Type == "ip" {
			hzInvalid(w, "use_private_ip", "not allowed for ip targets")
			return t, false
		}
		t.UsePrivateIP = true
	}
	return t, true
}

// hzServerExists answers not_found for an unknown server target; the
// caller holds Sim.mu.
func (s *Sim) hzServerExists(w http.ResponseWriter, t Target) bool {
	if t.Type == "server" && s.hz.serverByID[t.Server.ID] == nil {
		hzFail(w, "not_found", fmt.Sprintf("server with ID %d not found", t.Server.ID), nil)
		return false
	}
	return true
}

func (s *Sim) hzAddTarget(w http.ResponseWriter, r *http.Request) {
	t, ok := hzDecodeTarget(w, r, true)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lb := s.hzLBByPath(w, r)
	if lb == nil || !s.hzServerExists(w, t) {
		return
	}
	if t.UsePrivateIP && lb.cfg.Network == nil {
		hzFail(w, "load_balancer_not_attached_to_network", "load balancer is not attached to a network; use_private_ip needs one", nil)
		return
	}
	if t.UsePrivateIP && t.Type == "server" && s.hz.serverByID[t.Server.ID].PrivateIP == "" {
		hzFail(w, "server_not_attached_to_network", "server is not attached to a network; use_private_ip needs one", nil)
		return
	}
	key := targetKey(t)
	for _, x := range lb.targets {
		if targetKey(x) == key {
			hzFail(w, "target_already_defined", "target is already defined", nil)
			return
		}
	}
	if !s.hzLockFree(w, lb) {
		return
	}
	a := s.hzRunAction(lb, "add_target", func() {
		for _, x := range lb.targets {
			if targetKey(x) == key {
				return
			}
		}
		lb.targets = append(lb.targets, t)
	})
	writeJSON(w, http.StatusCreated, map[string]any{"action": s.hzActionJSON(a, t)})
}

func (s *Sim) hzRemoveTarget(w http.ResponseWriter, r *http.Request) {
	t, ok := hzDecodeTarget(w, r, false)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lb := s.hzLBByPath(w, r)
	if lb == nil || !s.hzServerExists(w, t) {
		return
	}
	key := targetKey(t)
	found := false
	for _, x := range lb.targets {
		found = found || targetKey(x) == key
	}
	if !found {
		hzFail(w, "not_found", "target not found on load balancer "+lb.cfg.Name, nil)
		return
	}
	if !s.hzLockFree(w, lb) {
		return
	}
	a := s.hzRunAction(lb, "remove_target", func() {
		for i, x := range lb.targets {
			if targetKey(x) == key {
				lb.targets = append(lb.targets[:i:i], lb.targets[i+1:]...)
				return
			}
		}
	})
	writeJSON(w, http.StatusCreated, map[string]any{"action": s.hzActionJSON(a, t)})
}

// hzLockFree answers 423 locked while another action runs on lb.
func (s *Sim) hzLockFree(w http.ResponseWriter, lb *hzLB) bool {
	if *s.cfg.Hetzner.LockDuringActions && lb.running > 0 {
		hzFail(w, "locked", "Load Balancer is locked by another action; retry when it has finished", nil)
		return false
	}
	return true
}

// hzActionJSON renders a; t, if set, adds the server to the resources.
func (s *Sim) hzActionJSON(a *hzAction, t Target) hzActionJSON {
	out := hzActionJSON{
		ID: a.id, Command: a.command, Status: a.status, Progress: a.progress, Started: hzTime(a.started),
		Resources: []hzResource{{ID: a.lbID, Type: "load_balancer"}},
	}
	if t.Type == "server" && t.Server != nil {
		out.Resources = append(out.Resources, hzResource{ID: t.Server.ID, Type: "server"})
	}
	if a.finished != nil {
		f := hzTime(*a.finished)
		out.Finished = &f
	}
	if a.status == "error" {
		out.Error = &hzActionErrMsg{Code: a.errCode, Message: a.errMsg}
	}
	return out
}

func (s *Sim) hzActionByPath(w http.ResponseWriter, r *http.Request) *hzAction {
	id, err := strconv.ParseInt(r.PathValue("action_id"), 10, 64)
	if err != nil {
		hzInvalid(w, "id", "must be an integer")
		return nil
	}
	a := s.hz.actions[id]
	if a == nil {
		hzFail(w, "not_found", fmt.Sprintf("action with ID %d not found", id), nil)
	}
	return a
}

func (s *Sim) hzGetAction(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.hzActionByPath(w, r); a != nil {
		writeJSON(w, http.StatusOK, map[string]any{"action": s.hzActionJSON(a, Target{})})
	}
}

func (s *Sim) hzGetLBAction(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lb := s.hzLBByPath(w, r)
	if lb == nil {
		return
	}
	a := s.hzActionByPath(w, r)
	if a == nil {
		return
	}
	if a.lbID != lb.cfg.ID {
		hzFail(w, "not_found", fmt.Sprintf("action with ID %d not found on load balancer %d", a.id, lb.cfg.ID), nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"action": s.hzActionJSON(a, Target{})})
}

func (s *Sim) hzListActions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hzWriteActions(w, r, 0)
}

func (s *Sim) hzListLBActions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lb := s.hzLBByPath(w, r); lb != nil {
		s.hzWriteActions(w, r, lb.cfg.ID)
	}
}

// hzWriteActions lists actions filtered by id and status and sorted by
// sort (id, command, status, progress, started, finished; :asc/:desc).
func (s *Sim) hzWriteActions(w http.ResponseWriter, r *http.Request, lbID int64) {
	q := r.URL.Query()
	ids := map[int64]bool{}
	for _, v := range q["id"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			hzInvalid(w, "id", "must be an integer")
			return
		}
		ids[id] = true
	}
	for _, st := range q["status"] {
		if st != "running" && st != "success" && st != "error" {
			hzInvalid(w, "status", "Must be one of: running, success, error.")
			return
		}
	}
	var list []*hzAction
	for _, a := range s.hz.actions {
		if (len(ids) > 0 && !ids[a.id]) || (lbID != 0 && a.lbID != lbID) {
			continue
		}
		if st := q["status"]; len(st) > 0 && !contains(st, a.status) {
			continue
		}
		list = append(list, a)
	}
	sorts := q["sort"]
	for _, k := range sorts {
		f, dir, _ := strings.Cut(k, ":")
		if !contains([]string{"id", "command", "status", "progress", "started", "finished"}, f) || (dir != "" && dir != "asc" && dir != "desc") {
			hzInvalid(w, "sort", "Must be one of id, command, status, progress, started, finished, optionally with :asc or :desc.")
			return
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		for _, k := range sorts {
			f, dir, _ := strings.Cut(k, ":")
			var c int
			switch f {
			case "id":
				c = cmp3(a.id, b.id)
			case "command":
				c = strings.Compare(a.command, b.command)
			case "status":
				c = strings.Compare(a.status, b.status)
			case "progress":
				c = cmp3(a.progress, b.progress)
			case "started":
				c = a.started.Compare(b.started)
			case "finished":
				c = cmp3(finishedNanos(a), finishedNanos(b))
			}
			if c != 0 {
				return (c < 0) != (dir == "desc")
			}
		}
		return a.id < b.id
	})
	lo, hi, meta, ok := hzPage(w, r, len(list))
	if !ok {
		return
	}
	out := []hzActionJSON{}
	for _, a := range list[lo:hi] {
		out = append(out, s.hzActionJSON(a, Target{}))
	}
	writeJSON(w, http.StatusOK, map[string]any{"actions": out, "meta": meta})
}

func finishedNanos(a *hzAction) int64 {
	if a.finished == nil {
		return 1<<63 - 1
	}
	return a.finished.UnixNano()
}

func cmp3[T int | int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Sim) hzListServers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var sel selector
	if ls := q.Get("label_selector"); ls != "" {
		var err error
		if sel, err = parseSelector(ls); err != nil {
			hzInvalid(w, "label_selector", err.Error())
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []hzServer
	for i := range s.hz.servers {
		sv := &s.hz.servers[i]
		if n := q.Get("name"); n != "" && n != sv.Name {
			continue
		}
		if sel != nil && !sel.matches(sv.Labels) {
			continue
		}
		if st := q["status"]; len(st) > 0 && !contains(st, "running") {
			continue
		}
		out = append(out, s.hzServerJSON(sv))
	}
	hzSortBy(q["sort"], out, func(a hzServer) (int64, string) { return a.ID, a.Name })
	lo, hi, meta, ok := hzPage(w, r, len(out))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"servers": nonNil(out[lo:hi]), "meta": meta})
}

func (s *Sim) hzGetServer(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		hzInvalid(w, "id", "must be an integer")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.hz.serverByID[id]
	if sv == nil {
		hzFail(w, "not_found", fmt.Sprintf("server with ID %d not found", id), nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"server": s.hzServerJSON(sv)})
}

// hzServerJSON renders sv; the caller holds Sim.mu.
func (s *Sim) hzServerJSON(sv *Server) hzServer {
	loc := hzLocationOf(sv.Location)
	created := hzTime(s.hz.created)
	out := hzServer{
		ID: sv.ID, Name: sv.Name, Status: "running", Created: created, Labels: sv.Labels,
		PublicNet: hzServerPublicNet{
			IPv4:        &hzServerIP{ID: sv.ID, IP: sv.Address, DNSPtr: "static." + sv.Address + ".clients.your-server.de"},
			IPv6:        &hzServerV6{ID: sv.ID, IP: "2001:db8:" + strconv.FormatInt(sv.ID, 16) + "::/64", DNSPtr: []any{}},
			FloatingIPs: []int64{}, Firewalls: []any{},
		},
		PrivateNet: []hzServerPrivNet{},
		ServerType: hzServerType{ID: 104, Name: "cx22", Description: "CX22", Cores: 2, Memory: 4, Disk: 40, Prices: []any{}, StorageType: "local", CPUType: "shared", Architecture: "x86"},
		Datacenter: hzDatacenter{ID: loc.ID, Name: loc.Name + "-dc14", Description: loc.Description, Location: loc},
		Location:   loc,
		Image: &hzImage{ID: 161547269, Type: "system", Status: "available", Name: "ubuntu-24.04", Description: "Ubuntu 24.04",
			OSFlavor: "ubuntu", OSVersion: "24.04", Created: created, Architecture: "x86", Labels: map[string]string{}},
		Protection:      hzServerProt{},
		Volumes:         []int64{},
		LoadBalancers:   []int64{},
		PrimaryDiskSize: 40,
	}
	out.Datacenter.ServerTypes.Supported = []int64{104}
	out.Datacenter.ServerTypes.Available = []int64{104}
	out.Datacenter.ServerTypes.AvailableForMigration = []int64{104}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if sv.PrivateIP != "" {
		out.PrivateNet = append(out.PrivateNet, hzServerPrivNet{Network: 1, IP: sv.PrivateIP, AliasIPs: []string{}, MACAddress: fmt.Sprintf("86:00:00:%02x:%02x:%02x", (sv.ID>>16)&0xff, (sv.ID>>8)&0xff, sv.ID&0xff)})
	}
	for _, lb := range s.hz.lbs {
		for _, b := range s.hzBackends(lb) {
			if b.serverID == sv.ID {
				out.LoadBalancers = append(out.LoadBalancers, lb.cfg.ID)
				break
			}
		}
	}
	return out
}
