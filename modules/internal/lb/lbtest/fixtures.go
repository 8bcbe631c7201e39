package lbtest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// HTarget is a Hetzner load balancer target for HetznerLB.
type HTarget struct {
	Server   int64
	IP       string
	Selector string
	Children []HTarget
	// Health maps listen port to status (healthy, unhealthy, unknown).
	Health map[int]string
}

func (t HTarget) schema() map[string]any {
	m := map[string]any{"use_private_ip": false}
	switch {
	case t.Selector != "":
		m["type"] = "label_selector"
		m["label_selector"] = map[string]any{"selector": t.Selector}
		var kids []any
		for _, c := range t.Children {
			kids = append(kids, c.schema())
		}
		m["targets"] = kids
		return m
	case t.IP != "":
		m["type"] = "ip"
		m["ip"] = map[string]any{"ip": t.IP}
	default:
		m["type"] = "server"
		m["server"] = map[string]any{"id": t.Server}
	}
	var ports []int
	for p := range t.Health {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	hs := []any{}
	for _, p := range ports {
		h := map[string]any{"listen_port": p, "status": t.Health[p]}
		if t.Health[p] == "unhealthy" {
			h["detail"] = "unexpected_http_status"
			h["http_status_code"] = 503
		}
		hs = append(hs, h)
	}
	m["health_status"] = hs
	return m
}

func hetznerLB(id int64, name string, targets []HTarget) map[string]any {
	ts := []any{}
	for _, t := range targets {
		ts = append(ts, t.schema())
	}
	return map[string]any{
		"id": id, "name": name,
		"services": []any{map[string]any{"protocol": "http", "listen_port": 80, "destination_port": 8080,
			"health_check": map[string]any{"protocol": "http", "port": 8080, "interval": 15, "timeout": 10, "retries": 3}}},
		"targets": ts,
	}
}

// HetznerLB is a GET /load_balancers/{id} answer.
func HetznerLB(id int64, name string, targets ...HTarget) string {
	return mustJSON(map[string]any{"load_balancer": hetznerLB(id, name, targets)})
}

// HetznerLBList is a GET /load_balancers?name= answer (nil: none found).
func HetznerLBList(id int64, name string, targets ...HTarget) string {
	list := []any{}
	if id != 0 {
		list = append(list, hetznerLB(id, name, targets))
	}
	return mustJSON(map[string]any{"load_balancers": list, "meta": pagination(len(list))})
}

// HetznerServerList is a GET /servers?name= answer (id 0: none found).
func HetznerServerList(id int64, name string) string {
	list := []any{}
	if id != 0 {
		list = append(list, map[string]any{"id": id, "name": name, "status": "running"})
	}
	return mustJSON(map[string]any{"servers": list, "meta": pagination(len(list))})
}

// HetznerServer is a GET /servers/{id} answer.
func HetznerServer(id int64, name string) string {
	return mustJSON(map[string]any{"server": map[string]any{"id": id, "name": name, "status": "running"}})
}

// HetznerAction is a POST .../actions/* answer.
func HetznerAction(id int64, command, status string) string {
	return mustJSON(map[string]any{"action": action(id, command, status)})
}

// HetznerActions is a GET /actions?id= answer.
func HetznerActions(id int64, command, status string) string {
	return mustJSON(map[string]any{"actions": []any{action(id, command, status)}, "meta": pagination(1)})
}

func action(id int64, command, status string) map[string]any {
	a := map[string]any{"id": id, "command": command, "status": status, "progress": 0,
		"started": "2024-05-01T10:00:00+00:00", "resources": []any{}, "error": nil}
	if status == "error" {
		a["error"] = map[string]any{"code": "action_failed", "message": "Action failed"}
	}
	return a
}

// HetznerError is an error answer body.
func HetznerError(code, msg string) string {
	return mustJSON(map[string]any{"error": map[string]any{"code": code, "message": msg, "details": map[string]any{}}})
}

func pagination(n int) map[string]any {
	return map[string]any{"pagination": map[string]any{"page": 1, "per_page": 25, "previous_page": nil, "next_page": nil, "last_page": 1, "total_entries": n}}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

const ns = `xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"`

// AWSGroup is a target group for AWSTargetGroups.
type AWSGroup struct {
	ARN, Name  string
	Port       int
	TargetType string // default instance
}

// AWSTargetGroups is a DescribeTargetGroups answer.
func AWSTargetGroups(groups ...AWSGroup) string {
	var b strings.Builder
	for _, g := range groups {
		tt := g.TargetType
		if tt == "" {
			tt = "instance"
		}
		fmt.Fprintf(&b, `<member><TargetGroupArn>%s</TargetGroupArn><TargetGroupName>%s</TargetGroupName><Protocol>HTTP</Protocol><Port>%d</Port><TargetType>%s</TargetType><HealthCheckPort>traffic-port</HealthCheckPort></member>`,
			g.ARN, g.Name, g.Port, tt)
	}
	return fmt.Sprintf(`<DescribeTargetGroupsResponse %s><DescribeTargetGroupsResult><TargetGroups>%s</TargetGroups></DescribeTargetGroupsResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeTargetGroupsResponse>`, ns, b.String())
}

// AWSMember is a DescribeTargetHealth entry.
type AWSMember struct {
	ID                         string
	Port                       int
	State, Reason, Description string
}

// AWSTargetHealth is a DescribeTargetHealth answer.
func AWSTargetHealth(members ...AWSMember) string {
	var b strings.Builder
	for _, m := range members {
		fmt.Fprintf(&b, `<member><Target><Id>%s</Id><Port>%d</Port></Target><HealthCheckPort>%d</HealthCheckPort><TargetHealth><State>%s</State>`, m.ID, m.Port, m.Port, m.State)
		if m.Reason != "" {
			fmt.Fprintf(&b, `<Reason>%s</Reason>`, m.Reason)
		}
		if m.Description != "" {
			fmt.Fprintf(&b, `<Description>%s</Description>`, m.Description)
		}
		b.WriteString(`</TargetHealth></member>`)
	}
	return fmt.Sprintf(`<DescribeTargetHealthResponse %s><DescribeTargetHealthResult><TargetHealthDescriptions>%s</TargetHealthDescriptions></DescribeTargetHealthResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></DescribeTargetHealthResponse>`, ns, b.String())
}

// AWSAttributes is a DescribeTargetGroupAttributes answer.
func AWSAttributes(delay int) string {
	return fmt.Sprintf(`<DescribeTargetGroupAttributesResponse %s><DescribeTargetGroupAttributesResult><Attributes><member><Key>deregistration_delay.timeout_seconds</Key><Value>%d</Value></member><member><Key>stickiness.enabled</Key><Value>false</Value></member></Attributes></DescribeTargetGroupAttributesResult><ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata></DescribeTargetGroupAttributesResponse>`, ns, delay)
}

// AWSEmpty is the answer of RegisterTargets / DeregisterTargets.
func AWSEmpty(action string) string {
	return fmt.Sprintf(`<%sResponse %s><%sResult/><ResponseMetadata><RequestId>r4</RequestId></ResponseMetadata></%sResponse>`, action, ns, action, action)
}

// AWSError is an error answer body (status 400 unless said otherwise).
func AWSError(code, msg string) string {
	return fmt.Sprintf(`<ErrorResponse %s><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>e1</RequestId></ErrorResponse>`, ns, code, msg)
}
