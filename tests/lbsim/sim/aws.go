package sim

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/zerodowntime/rolling/tests/lbsim/sim/internal/sigv4"
)

// awsErr is an ELBv2 API error.
type awsErr struct {
	status int
	code   string
	msg    string
}

func (e *awsErr) Error() string { return e.code + ": " + e.msg }

func validation(format string, args ...any) *awsErr {
	return &awsErr{http.StatusBadRequest, "ValidationError", fmt.Sprintf(format, args...)}
}

// awsStatus is the HTTP status of an error code used with fail_next.
func awsStatus(code string) int {
	switch code {
	case "HealthUnavailable", "InternalFailure":
		return http.StatusInternalServerError
	case "ServiceUnavailable":
		return http.StatusServiceUnavailable
	case "InvalidClientTokenId", "SignatureDoesNotMatch", "MissingAuthenticationToken", "AccessDenied":
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// awsHandler serves the ELBv2 Query API (POST form or GET query).
func (s *Sim) awsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := requestID()
		if strings.HasPrefix(r.URL.Path, cwRPCPrefix) {
			s.cwRPC(w, r, reqID)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			awsFail(w, http.StatusBadRequest, "MalformedQueryString", "cannot read the request body", reqID)
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			awsFail(w, http.StatusBadRequest, "MalformedQueryString", "request body is not form-encoded: "+err.Error(), reqID)
			return
		}
		for k, v := range r.URL.Query() {
			form[k] = append(form[k], v...)
		}
		op := form.Get("Action")
		if op == "" {
			op = "(no Action)"
		}
		s.countAPI("aws " + op)
		if op == "DescribeAlarms" {
			s.cwQuery(w, r, body, form, reqID)
			return
		}
		if e := s.awsAuth(r, body, "elasticloadbalancing"); e != nil {
			awsFail(w, e.status, e.code, e.msg, reqID)
			return
		}
		if e := s.awsFault(op); e != nil {
			awsFail(w, e.status, e.code, e.msg, reqID)
			return
		}
		if v := form.Get("Version"); v != "2015-12-01" {
			awsFail(w, http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("Version %q is not supported; elasticloadbalancing v2 uses Version=2015-12-01", v), reqID)
			return
		}
		var result any
		var e *awsErr
		switch op {
		case "RegisterTargets":
			e = s.awsRegisterTargets(form, true)
		case "DeregisterTargets":
			e = s.awsRegisterTargets(form, false)
		case "DescribeTargetHealth":
			result, e = s.awsDescribeTargetHealth(form)
		case "DescribeTargetGroups":
			result, e = s.awsDescribeTargetGroups(form)
		case "DescribeTargetGroupAttributes":
			result, e = s.awsDescribeAttributes(form)
		default:
			e = &awsErr{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service (lbsim simulates RegisterTargets, DeregisterTargets, DescribeTargetHealth, DescribeTargetGroups, DescribeTargetGroupAttributes).", op)}
		}
		if e != nil {
			awsFail(w, e.status, e.code, e.msg, reqID)
			return
		}
		awsWrite(w, op, reqID, result)
	})
}

// awsFault is the error the faults give op, if any.
func (s *Sim) awsFault(op string) *awsErr {
	in, _ := s.inject("aws", op)
	switch {
	case in.throttle:
		return &awsErr{http.StatusBadRequest, "Throttling", "Rate exceeded"}
	case in.failCode != "":
		return &awsErr{awsStatus(in.failCode), in.failCode, "lbsim fault: fail_next " + in.failCode}
	case in.status == http.StatusServiceUnavailable:
		return &awsErr{in.status, "ServiceUnavailable", "Service is unavailable (lbsim fault: error_rate)"}
	case in.status != 0:
		return &awsErr{http.StatusInternalServerError, "InternalFailure", "The request processing has failed because of an unknown error (lbsim fault: error_rate)"}
	}
	return nil
}

// awsAuth checks the SigV4 header of a request to service: the access key
// id always, the signature when verify_signature is on.
func (s *Sim) awsAuth(r *http.Request, body []byte, service string) *awsErr {
	a, err := sigv4.Parse(r)
	if errors.Is(err, sigv4.ErrMissing) {
		return &awsErr{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	}
	if err != nil {
		return &awsErr{http.StatusBadRequest, "IncompleteSignature", err.Error()}
	}
	if a.AccessKeyID != s.cfg.AWS.AccessKeyID {
		return &awsErr{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	if a.Service != service {
		return &awsErr{http.StatusForbidden, "SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped to correct service: '%s', not %q.", service, a.Service)}
	}
	if a.Region != s.cfg.AWS.Region {
		return &awsErr{http.StatusForbidden, "SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped to a valid region, not '%s' (lbsim simulates %s).", a.Region, s.cfg.AWS.Region)}
	}
	if *s.cfg.AWS.VerifySignature && !sigv4.Valid(r, body, a, s.cfg.AWS.SecretAccessKey) {
		return &awsErr{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return nil
}

var memberRE = regexp.MustCompile(`^Targets\.member\.(\d+)\.(Id|Port|AvailabilityZone)$`)

type awsTargetReq struct {
	id      string
	port    int // 0 = not given
	hasPort bool
	az      string // AvailabilityZone, "" = not given
}

// awsTargets reads Targets.member.N.{Id,Port,AvailabilityZone}.
func awsTargets(form url.Values) ([]awsTargetReq, *awsErr) {
	byN := map[int]*awsTargetReq{}
	for k, v := range form {
		m := memberRE.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		t := byN[n]
		if t == nil {
			t = &awsTargetReq{}
			byN[n] = t
		}
		switch m[2] {
		case "Id":
			t.id = v[0]
		case "Port":
			p, err := strconv.Atoi(v[0])
			if err != nil || p < 1 || p > 65535 {
				return nil, validation("1 validation error detected: Value '%s' at 'targets.%d.member.port' failed to satisfy constraint: Member must have value between 1 and 65535", v[0], n)
			}
			t.port, t.hasPort = p, true
		case "AvailabilityZone":
			t.az = v[0]
		}
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	out := make([]awsTargetReq, 0, len(ns))
	for _, n := range ns {
		if byN[n].id == "" {
			return nil, validation("1 validation error detected: Value null at 'targets.%d.member.id' failed to satisfy constraint: Member must not be null", n)
		}
		out = append(out, *byN[n])
	}
	return out, nil
}

// awsTG resolves TargetGroupArn; the caller holds Sim.mu.
func (s *Sim) awsTGFromForm(form url.Values) (*awsTG, *awsErr) {
	arn := form.Get("TargetGroupArn")
	if arn == "" {
		return nil, validation("1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null")
	}
	if !tgARNRE.MatchString(arn) {
		return nil, validation("'%s' is not a valid target group ARN", arn)
	}
	tg := s.aws.byARN[arn]
	if tg == nil {
		return nil, &awsErr{http.StatusBadRequest, "TargetGroupNotFound", fmt.Sprintf("Target groups '%s' not found", arn)}
	}
	return tg, nil
}

// awsCheckTargets rejects ids that are not instances (or loopback IPs for
// ip target groups), as AWS answers InvalidTarget.
func (s *Sim) awsCheckTargets(tg *awsTG, ts []awsTargetReq) *awsErr {
	var bad []string
	for _, t := range ts {
		if e := s.awsCheckZone(tg, t.az); e != nil {
			return e
		}
		if tg.cfg.TargetType == "ip" {
			a, err := netip.ParseAddr(t.id)
			if err != nil || !a.IsLoopback() {
				return &awsErr{http.StatusBadRequest, "InvalidTarget", fmt.Sprintf("The IP address '%s' is not valid for target group %s: lbsim only reaches loopback IPs (127.0.0.0/8)", t.id, tg.cfg.Name)}
			}
			continue
		}
		if s.aws.instances[t.id] == nil {
			bad = append(bad, "'"+t.id+"'")
		}
	}
	if len(bad) > 0 {
		return &awsErr{http.StatusBadRequest, "InvalidTarget", "The following targets are not valid instances: " + strings.Join(bad, ", ")}
	}
	return nil
}

func (s *Sim) awsRegisterTargets(form url.Values, register bool) *awsErr {
	s.mu.Lock()
	defer s.mu.Unlock()
	tg, e := s.awsTGFromForm(form)
	if e != nil {
		return e
	}
	ts, e := awsTargets(form)
	if e != nil {
		return e
	}
	if len(ts) == 0 {
		return validation("1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null")
	}
	if e := s.awsCheckTargets(tg, ts); e != nil {
		return e
	}
	for _, t := range ts {
		if register {
			s.awsRegister(tg, t.id, tg.port(t.port), t.az)
		} else {
			s.awsDeregister(tg, t.id, tg.port(t.port))
		}
	}
	return nil
}

func (s *Sim) awsDescribeTargetHealth(form url.Values) (any, *awsErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tg, e := s.awsTGFromForm(form)
	if e != nil {
		return nil, e
	}
	ts, e := awsTargets(form)
	if e != nil {
		return nil, e
	}
	if e := s.awsCheckTargets(tg, ts); e != nil {
		return nil, e
	}
	res := &awsDescribeTargetHealthResult{}
	add := func(t *awsTarget, id string, port int) {
		d := awsTHDXML{Target: awsTargetXML{ID: id, Port: port}, HealthCheckPort: strconv.Itoa(port)}
		if hc := tg.cfg.HealthCheck.Port; hc != 0 {
			d.HealthCheckPort = strconv.Itoa(hc)
		}
		switch {
		case t == nil:
			d.TargetHealth = awsTargetHealthXML{awsUnused, "Target.NotRegistered", "Target is not registered to the target group"}
		case len(tg.lbARNs) == 0 && t.state != awsDraining:
			d.TargetHealth = awsTargetHealthXML{awsUnused, "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"}
		default:
			d.TargetHealth = awsTargetHealthXML{t.state, t.reason, t.description}
		}
		if tg.cfg.TargetType == "ip" {
			d.Target.AvailabilityZone = s.cfg.AWS.Region + "a"
			if t != nil && t.az != "" {
				d.Target.AvailabilityZone = t.az
			}
		}
		res.Descriptions.Members = append(res.Descriptions.Members, d)
	}
	if len(ts) == 0 {
		for _, k := range tg.order {
			t := tg.targets[k]
			add(t, t.id, t.port)
		}
		return res, nil
	}
	for _, r := range ts {
		if r.hasPort {
			add(tg.targets[awsKey(r.id, r.port)], r.id, r.port)
			continue
		}
		found := false
		for _, k := range tg.order {
			if t := tg.targets[k]; t.id == r.id {
				add(t, t.id, t.port)
				found = true
			}
		}
		if !found {
			add(nil, r.id, tg.cfg.Port)
		}
	}
	return res, nil
}

// awsList reads Name.member.N values in order.
func awsList(form url.Values, name string) []string {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `\.member\.(\d+)$`)
	type kv struct {
		n int
		v string
	}
	var list []kv
	for k, v := range form {
		if m := re.FindStringSubmatch(k); m != nil {
			n, _ := strconv.Atoi(m[1])
			list = append(list, kv{n, v[0]})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].n < list[j].n })
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = x.v
	}
	return out
}

func (s *Sim) awsDescribeTargetGroups(form url.Values) (any, *awsErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names, arns, lbARN := awsList(form, "Names"), awsList(form, "TargetGroupArns"), form.Get("LoadBalancerArn")
	given := 0
	for _, b := range []bool{len(names) > 0, len(arns) > 0, lbARN != ""} {
		if b {
			given++
		}
	}
	if given > 1 {
		return nil, validation("Target group names, target group ARNs, and a load balancer ARN cannot be specified at the same time")
	}
	var tgs []*awsTG
	switch {
	case len(names) > 0:
		for _, n := range names {
			tg := s.aws.byName[n]
			if tg == nil {
				return nil, &awsErr{http.StatusBadRequest, "TargetGroupNotFound", fmt.Sprintf("One or more target groups not found: '%s'", n)}
			}
			tgs = append(tgs, tg)
		}
	case len(arns) > 0:
		for _, a := range arns {
			if !tgARNRE.MatchString(a) {
				return nil, validation("'%s' is not a valid target group ARN", a)
			}
			tg := s.aws.byARN[a]
			if tg == nil {
				return nil, &awsErr{http.StatusBadRequest, "TargetGroupNotFound", "One or more target groups not found"}
			}
			tgs = append(tgs, tg)
		}
	case lbARN != "":
		found := false
		for _, tg := range s.aws.tgs {
			if contains(tg.lbARNs, lbARN) {
				tgs = append(tgs, tg)
				found = true
			}
		}
		if !found {
			return nil, &awsErr{http.StatusBadRequest, "LoadBalancerNotFound", fmt.Sprintf("Load balancer '%s' not found", lbARN)}
		}
	default:
		tgs = s.aws.tgs
	}
	start, size := 0, 400
	if m := form.Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(tgs) {
			return nil, validation("Invalid marker '%s'", m)
		}
		start = n
	}
	if p := form.Get("PageSize"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 400 {
			return nil, validation("1 validation error detected: Value '%s' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and 400", p)
		}
		size = n
	}
	end := min(start+size, len(tgs))
	res := &awsDescribeTargetGroupsResult{}
	for _, tg := range tgs[start:end] {
		c := tg.cfg
		hcPort := "traffic-port"
		if c.HealthCheck.Port != 0 {
			hcPort = strconv.Itoa(c.HealthCheck.Port)
		}
		x := awsTargetGroupXML{
			TargetGroupArn: c.ARN, TargetGroupName: c.Name, Protocol: c.Protocol, Port: c.Port, VpcID: c.VPCID,
			HealthCheckProtocol: c.HealthCheck.Protocol, HealthCheckPort: hcPort, HealthCheckEnabled: true,
			HealthCheckIntervalSeconds: c.HealthCheck.Interval.seconds(1), HealthCheckTimeoutSeconds: c.HealthCheck.Timeout.seconds(1),
			HealthyThresholdCount: c.HealthCheck.HealthyThreshold, UnhealthyThresholdCount: c.HealthCheck.UnhealthyThreshold,
			Matcher: awsMatcherXML{HTTPCode: c.HealthCheck.Matcher}, TargetType: c.TargetType,
			ProtocolVersion: "HTTP1", IPAddressType: "ipv4",
		}
		if c.HealthCheck.Protocol == "HTTP" {
			x.HealthCheckPath = c.HealthCheck.Path
		}
		x.LoadBalancerArns.Members = tg.lbARNs
		res.TargetGroups.Members = append(res.TargetGroups.Members, x)
	}
	if end < len(tgs) {
		res.NextMarker = strconv.Itoa(end)
	}
	return res, nil
}

func (s *Sim) awsDescribeAttributes(form url.Values) (any, *awsErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tg, e := s.awsTGFromForm(form)
	if e != nil {
		return nil, e
	}
	res := &awsDescribeAttributesResult{}
	for _, kv := range [][2]string{
		{"deregistration_delay.timeout_seconds", strconv.Itoa(tg.cfg.DeregistrationDelay.seconds(0))},
		{"slow_start.duration_seconds", strconv.Itoa(tg.cfg.SlowStart.seconds(0))},
		{"stickiness.enabled", "false"},
		{"stickiness.type", "lb_cookie"},
		{"stickiness.lb_cookie.duration_seconds", "86400"},
		{"load_balancing.algorithm.type", "round_robin"},
		{"load_balancing.cross_zone.enabled", "use_load_balancer_configuration"},
		{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "1"},
	} {
		res.Attributes.Members = append(res.Attributes.Members, awsAttributeXML{Key: kv[0], Value: kv[1]})
	}
	return res, nil
}

// awsCheckZone refuses an AvailabilityZone AWS would: any for an instance
// target group, else one that is neither "all" nor a zone of the region.
func (s *Sim) awsCheckZone(tg *awsTG, az string) *awsErr {
	switch {
	case az == "" || validZone(tg.cfg.TargetType, az, s.cfg.AWS.Region):
		return nil
	case tg.cfg.TargetType != "ip":
		return validation("You cannot specify an Availability Zone for targets of target group %s: its target type is %s", tg.cfg.Name, tg.cfg.TargetType)
	}
	return validation("The Availability Zone '%s' is not valid for region %s: give all or a zone of the region", az, s.cfg.AWS.Region)
}
