package lbtest

// HetznerArgs are the options of a run against srv, with extra.
func HetznerArgs(srv *Server, extra map[string]any) map[string]any {
	a := map[string]any{
		"provider": "hetzner", "api_token": HetznerToken, "endpoint": srv.URL + "/v1",
		"load_balancer": "web-lb", "target": "web-1", "timeout": 60,
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

// Targets of load balancer web-lb (4711): servers 42 (web-1) and 43.
var (
	H42          = HTarget{Server: 42, Health: map[int]string{80: "healthy"}}
	H42Unhealthy = HTarget{Server: 42, Health: map[int]string{80: "unhealthy"}}
	H42Unknown   = HTarget{Server: 42, Health: map[int]string{80: "unknown"}}
	H43          = HTarget{Server: 43, Health: map[int]string{80: "healthy"}}
	H43Unhealthy = HTarget{Server: 43, Health: map[int]string{80: "unhealthy"}}
)

// HetznerLookups are the requests before acting: the load balancer by name, whose
// answer carries the targets and their health (nothing reads it again
// before acting), and the server by name.
func HetznerLookups(targets ...HTarget) []Exchange {
	return []Exchange{
		{Method: "GET", Path: "/v1/load_balancers?name=web-lb", Body: HetznerLBList(4711, "web-lb", targets...)},
		{Method: "GET", Path: "/v1/servers?name=web-1", Body: HetznerServerList(42, "web-1")},
	}
}

// HetznerLBGet is a read of web-lb with targets.
func HetznerLBGet(targets ...HTarget) Exchange {
	return Exchange{Method: "GET", Path: "/v1/load_balancers/4711", Body: HetznerLB(4711, "web-lb", targets...)}
}
