package sim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// mdHost is one simulated host with its metadata server: the Hetzner
// metadata service if a server has this address, IMDSv2 if an instance
// does, or both.
type mdHost struct {
	addr     string
	server   *Server
	instance *Instance
	region   string

	mu     sync.Mutex
	tokens map[string]time.Time // IMDSv2 token → expiry
}

// startMetadata starts one metadata server per distinct host address.
func (s *Sim) startMetadata() error {
	hosts := map[string]*mdHost{}
	var order []string // config order: servers, then instances
	get := func(addr string) *mdHost {
		if hosts[addr] == nil {
			hosts[addr] = &mdHost{addr: addr, region: s.cfg.AWS.Region, tokens: map[string]time.Time{}}
			order = append(order, addr)
		}
		return hosts[addr]
	}
	for i := range s.cfg.Hetzner.Servers {
		sv := &s.cfg.Hetzner.Servers[i]
		get(sv.Address).server = sv
	}
	for i := range s.cfg.AWS.Instances {
		in := &s.cfg.AWS.Instances[i]
		get(in.Address).instance = in
	}
	s.endpoints.Metadata = map[string]string{}
	for _, addr := range order {
		h := hosts[addr]
		base, err := s.serve(net.JoinHostPort(addr, strconv.Itoa(s.cfg.MetadataPort)), s.metadataHandler(h), "")
		if err != nil {
			return fmt.Errorf("metadata server for host %s: %w", addr, err)
		}
		he := HostEndpoint{Address: addr, MetadataURL: base}
		s.endpoints.Metadata[addr] = base
		if h.server != nil {
			he.HetznerMetadata = base + "/hetzner/v1/metadata"
			he.ServerID, he.ServerName = h.server.ID, h.server.Name
			s.endpoints.Metadata[h.server.Name] = base
			s.endpoints.Metadata[itoa64(h.server.ID)] = base
		}
		if h.instance != nil {
			he.InstanceID = h.instance.ID
			s.endpoints.Metadata[h.instance.ID] = base
		}
		s.endpoints.Hosts = append(s.endpoints.Hosts, he)
	}
	return nil
}

func (s *Sim) metadataHandler(h *mdHost) http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, f http.HandlerFunc) {
		mux.Handle(pattern, s.mdMiddleware("metadata "+pattern, f))
	}
	route("GET /hetzner/v1/metadata", h.hetznerAll)
	route("GET /hetzner/v1/metadata/{key}", h.hetznerKey)
	route("PUT /latest/api/token", h.imdsToken)
	route("GET /latest/meta-data/{path...}", h.imdsGet)
	route("GET /latest/dynamic/instance-identity/document", h.imdsIdentity)
	route("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Not Found", http.StatusNotFound)
	})
	return mux
}

// mdMiddleware counts and injects metadata faults.
func (s *Sim) mdMiddleware(op string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.countAPI(op)
		in, down := s.inject("metadata", op)
		if down {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		switch {
		case in.throttle:
			http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
		case in.failCode != "" || in.status == http.StatusInternalServerError:
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		case in.status != 0:
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		default:
			h(w, r)
		}
	})
}

func (h *mdHost) hetznerValues() (map[string]any, bool) {
	sv := h.server
	if sv == nil {
		return nil, false
	}
	loc := hzLocationOf(sv.Location)
	nets := []map[string]any{}
	if sv.PrivateIP != "" {
		nets = append(nets, map[string]any{
			"ip": sv.PrivateIP, "alias_ips": []string{}, "interface_num": 1,
			"mac_address": fmt.Sprintf("86:00:00:%02x:%02x:%02x", (sv.ID>>16)&0xff, (sv.ID>>8)&0xff, sv.ID&0xff),
			"network_id":  1, "network_name": "lbsim", "network": "10.0.0.0/16", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1",
		})
	}
	return map[string]any{
		"hostname":          sv.Name,
		"instance-id":       sv.ID,
		"public-ipv4":       sv.Address,
		"region":            loc.NetworkZone,
		"availability-zone": loc.Name + "-dc14",
		"private-networks":  nets,
		"public-keys":       []string{},
		"vendor_data":       "",
	}, true
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, s)
}

func (h *mdHost) hetznerAll(w http.ResponseWriter, r *http.Request) {
	v, ok := h.hetznerValues()
	if !ok {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	b, _ := yaml.Marshal(v)
	writeText(w, string(b))
}

func (h *mdHost) hetznerKey(w http.ResponseWriter, r *http.Request) {
	v, ok := h.hetznerValues()
	key := r.PathValue("key")
	val, found := v[key]
	if !ok || !found || key == "vendor_data" {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	switch x := val.(type) {
	case string:
		writeText(w, x)
	case int64:
		writeText(w, strconv.FormatInt(x, 10))
	default:
		b, _ := yaml.Marshal(x)
		writeText(w, string(b))
	}
}

func (h *mdHost) imdsToken(w http.ResponseWriter, r *http.Request) {
	if h.instance == nil {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
	if err != nil || ttl < 1 || ttl > 21600 {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	h.mu.Lock()
	h.tokens[tok] = time.Now().Add(time.Duration(ttl) * time.Second)
	h.mu.Unlock()
	w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", strconv.Itoa(ttl))
	writeText(w, tok)
}

// imdsAuthorized enforces IMDSv2 (HttpTokens=required): 401 without a
// valid token.
func (h *mdHost) imdsAuthorized(w http.ResponseWriter, r *http.Request) bool {
	if h.instance == nil {
		http.Error(w, "Not Found", http.StatusNotFound)
		return false
	}
	tok := r.Header.Get("X-Aws-Ec2-Metadata-Token")
	h.mu.Lock()
	exp, ok := h.tokens[tok]
	h.mu.Unlock()
	if tok == "" || !ok || time.Now().After(exp) {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return false
	}
	return true
}

func (h *mdHost) imdsValues() map[string]string {
	in := h.instance
	hostname := "ip-" + strings.ReplaceAll(in.Address, ".", "-") + "." + h.region + ".compute.internal"
	return map[string]string{
		"ami-id":                         "ami-0lbsim000000000",
		"hostname":                       hostname,
		"instance-id":                    in.ID,
		"instance-type":                  "t3.micro",
		"local-hostname":                 hostname,
		"local-ipv4":                     in.Address,
		"mac":                            "02:00:00:00:00:01",
		"placement/availability-zone":    in.AvailabilityZone,
		"placement/region":               h.region,
		"placement/availability-zone-id": "euc1-az1",
	}
}

func (h *mdHost) imdsGet(w http.ResponseWriter, r *http.Request) {
	if !h.imdsAuthorized(w, r) {
		return
	}
	vals := h.imdsValues()
	p := strings.TrimSuffix(r.PathValue("path"), "/")
	if v, ok := vals[p]; ok {
		writeText(w, v)
		return
	}
	// A directory: list its children, as IMDS does.
	prefix := p
	if prefix != "" {
		prefix += "/"
	}
	seen := map[string]bool{}
	for k := range vals {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			if dir, _, isDir := strings.Cut(rest, "/"); isDir {
				seen[dir+"/"] = true
			} else {
				seen[rest] = true
			}
		}
	}
	if len(seen) == 0 {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	keys := sortedKeys(seen)
	sort.Strings(keys)
	writeText(w, strings.Join(keys, "\n"))
}

func (h *mdHost) imdsIdentity(w http.ResponseWriter, r *http.Request) {
	if !h.imdsAuthorized(w, r) {
		return
	}
	in := h.instance
	b, _ := json.MarshalIndent(map[string]any{
		"accountId": "123456789012", "architecture": "x86_64", "availabilityZone": in.AvailabilityZone,
		"imageId": "ami-0lbsim000000000", "instanceId": in.ID, "instanceType": "t3.micro",
		"pendingTime": "2024-05-01T10:00:00Z", "privateIp": in.Address, "region": h.region, "version": "2017-09-30",
	}, "", "  ")
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(b)
}
