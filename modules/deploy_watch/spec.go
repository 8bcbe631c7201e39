// Package deploywatch is the zerodowntime.rolling.deploy_watch module: it
// watches a host for a window after it is back in rotation and fails as
// soon as a signal (HAProxy's counters, the cloud load balancer's target
// health and alarms, an HTTP probe of the host) crosses a threshold.
package deploywatch

import (
	"context"
	"maps"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/httpclient"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/watch"
)

// Providers besides lb's hetzner and aws.
const (
	providerHAProxy = "haproxy"
	providerNone    = "none"
)

// ownOptions are deploy_watch's options besides the load balancer ones.
var ownOptions = map[string]ansible.Option{
	"provider": {Type: ansible.Str, Required: true, Choices: []string{providerHAProxy, lb.Hetzner, lb.AWS, providerNone}},
	// The cloud providers need it (required_if); haproxy and none do not.
	"target": {Type: ansible.Str},
	"window": {Type: ansible.Int, Default: 30},
	// lb's interval, with the watch's default: the role's module_defaults
	// give it to every module of the group.
	"interval":          {Type: ansible.Float, Default: 1.0},
	"max_error_ratio":   {Type: ansible.Float, Default: 0.05},
	"max_latency_ratio": {Type: ansible.Float, Default: 3.0},
	"latency_floor":     {Type: ansible.Float, Default: 0.1},
	"min_requests":      {Type: ansible.Int, Default: 20},
	"max_check_flaps":   {Type: ansible.Int, Default: 0},
	"alarms":            {Type: ansible.List, Elements: ansible.Str},
	// provider haproxy, as haproxy_maint takes them.
	"socket":        {Type: ansible.Path, Default: "/run/haproxy/admin.sock"},
	"master_socket": {Type: ansible.Bool},
	"worker":        {Type: ansible.Str, Default: "1"},
	"backend":       {Type: ansible.Str},
	"server":        {Type: ansible.Str},
	// The probe, with deploy_verify's request options.
	"probe_url":      {Type: ansible.Str},
	"probe_interval": {Type: ansible.Float, Default: 0.2},
	"probe_baseline": {Type: ansible.Dict},
	"baseline":       {Type: ansible.Bool, Default: false},
	// Prefixed: validate_certs and the like are the cloud API's.
	"probe_headers":         {Type: ansible.Dict, SecretKeys: httpclient.CredentialHeader},
	"probe_url_username":    {Type: ansible.Str},
	"probe_url_password":    {Type: ansible.Str, NoLog: true},
	"probe_validate_certs":  {Type: ansible.Bool, Default: true},
	"probe_ca_path":         {Type: ansible.Path},
	"probe_client_cert":     {Type: ansible.Path},
	"probe_client_key":      {Type: ansible.Path},
	"probe_request_timeout": {Type: ansible.Float, Default: 5},
}

// spec takes the load balancer options as lb_register does, so that the
// role's module_defaults for group rolling reach it, plus its own.
var spec = func() ansible.Spec {
	s := lb.NewSpec("deploy_watch", nil)
	maps.Copy(s.Options, ownOptions)
	s.RequiredIf = append(s.RequiredIf,
		ansible.RequiredIf{Key: "provider", Value: lb.Hetzner, Need: []string{"target"}},
		ansible.RequiredIf{Key: "provider", Value: lb.AWS, Need: []string{"target"}},
		ansible.RequiredIf{Key: "provider", Value: providerHAProxy, Need: []string{"server"}},
		ansible.RequiredIf{Key: "provider", Value: providerNone, Need: []string{"probe_url"}},
	)
	s.RequiredTogether = append(s.RequiredTogether, []string{"probe_client_cert", "probe_client_key"})
	// The window bounds the run; the grace covers the last readings and
	// a probe's request_timeout at its end.
	s.TimeoutOption, s.TimeoutGrace = "window", 30*time.Second
	return s
}()

type args struct {
	lb.Args
	Window          int            `json:"window"`
	MaxErrorRatio   float64        `json:"max_error_ratio"`
	MaxLatencyRatio float64        `json:"max_latency_ratio"`
	LatencyFloor    float64        `json:"latency_floor"`
	MinRequests     int            `json:"min_requests"`
	MaxCheckFlaps   int            `json:"max_check_flaps"`
	Socket          string         `json:"socket"`
	MasterSocket    *bool          `json:"master_socket"`
	Worker          string         `json:"worker"`
	Backend         string         `json:"backend"`
	Server          string         `json:"server"`
	ProbeURL        string         `json:"probe_url"`
	ProbeInterval   float64        `json:"probe_interval"`
	ProbeBaseline   map[string]any `json:"probe_baseline"`
	Baseline        bool           `json:"baseline"`
	Headers         map[string]any `json:"probe_headers"`
	URLUsername     string         `json:"probe_url_username"`
	URLPassword     string         `json:"probe_url_password"`
	ProbeCerts      bool           `json:"probe_validate_certs"`
	CAPath          string         `json:"probe_ca_path"`
	ClientCert      string         `json:"probe_client_cert"`
	ClientKey       string         `json:"probe_client_key"`
	RequestTimeout  float64        `json:"probe_request_timeout"`
}

// CloudSignals makes the signals of provider hetzner or aws: the target's
// health in each pool, and aws alarms. modules/zdt sets it in the full
// build; in the host build, without the cloud SDKs, it is nil.
var CloudSignals func(ctx context.Context, m *ansible.Module, a lb.Args) ([]watch.Signal, error)

// Module is zerodowntime.rolling.deploy_watch.
var Module = ansible.NewModule(spec, run)
