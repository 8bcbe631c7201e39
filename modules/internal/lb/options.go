package lb

import (
	"fmt"
	"maps"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// Provider names, the values of the provider option.
const (
	Hetzner = "hetzner"
	AWS     = "aws"
)

// Methods of taking a Hetzner target out of rotation.
const (
	MethodRemove = "remove"
	MethodHealth = "health"
)

// Auto is the target value that asks the metadata service for the host's
// own id.
const Auto = "auto"

// MetadataEnv overrides the metadata service address when metadata_url is
// not given.
const MetadataEnv = "ZDT_METADATA_URL"

// CommonOptions are the options both modules share, whatever the provider.
var CommonOptions = map[string]ansible.Option{
	"provider":       {Type: ansible.Str, Required: true, Choices: []string{Hetzner, AWS}},
	"target":         {Type: ansible.Str, Required: true},
	"target_type":    {Type: ansible.Str, Default: TypeServer, Choices: []string{TypeServer, TypeIP}},
	"target_port":    {Type: ansible.Int},
	"timeout":        {Type: ansible.Int},
	"interval":       {Type: ansible.Float},
	"metadata_url":   {Type: ansible.Str, EnvFallback: []string{MetadataEnv}},
	"validate_certs": {Type: ansible.Bool, Default: true},
	"method":         {Type: ansible.Str, Default: MethodRemove, Choices: []string{MethodRemove, MethodHealth}},
	"health_file":    {Type: ansible.Path},
}

// HetznerOptions are the options of provider hetzner (doc fragment
// zerodowntime.rolling.hetzner).
var HetznerOptions = map[string]ansible.Option{
	"api_token":     {Type: ansible.Str, NoLog: true, EnvFallback: []string{"HCLOUD_TOKEN"}},
	"endpoint":      {Type: ansible.Str, EnvFallback: []string{"HCLOUD_ENDPOINT"}},
	"load_balancer": {Type: ansible.List, Elements: ansible.Str},
}

// AWSOptions are the options of provider aws (doc fragment
// zerodowntime.rolling.aws).
var AWSOptions = map[string]ansible.Option{
	"region":  {Type: ansible.Str, Aliases: []string{"aws_region", "ec2_region"}},
	"profile": {Type: ansible.Str, Aliases: []string{"aws_profile"}},
	// The SDK reads the keys from the environment itself; they are as
	// secret there as in the options (the environment variables it reads).
	"access_key":         {Type: ansible.Str, NoLog: true, Aliases: []string{"aws_access_key_id", "aws_access_key"}, SecretEnv: []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"}},
	"secret_key":         {Type: ansible.Str, NoLog: true, Aliases: []string{"aws_secret_access_key", "aws_secret_key"}, SecretEnv: []string{"AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"}},
	"session_token":      {Type: ansible.Str, NoLog: true, Aliases: []string{"aws_session_token"}, SecretEnv: []string{"AWS_SESSION_TOKEN"}},
	"endpoint_url":       {Type: ansible.Str, Aliases: []string{"aws_endpoint_url"}},
	"target_group_arns":  {Type: ansible.List, Elements: ansible.Str},
	"target_group_names": {Type: ansible.List, Elements: ansible.Str},
}

// DrainOptions are lb_drain's own options.
var DrainOptions = map[string]ansible.Option{
	"min_healthy": {Type: ansible.Int, Default: 1},
	// Unset, the action plugin sets it from the play's strategy.
	"wait_for_capacity": {Type: ansible.Bool},
	"reserve":           {Type: ansible.Bool, Default: false},
}

// RegisterOptions are lb_register's own options.
var RegisterOptions = map[string]ansible.Option{
	"use_private_ip":    {Type: ansible.Bool, Default: false},
	"fail_after_checks": {Type: ansible.Int, Default: 3},
	"restore":           {Type: ansible.List, Elements: ansible.Dict},
}

// WatchOptions are deploy_watch's own options read by the cloud signals.
var WatchOptions = map[string]ansible.Option{
	"alarms": {Type: ansible.List, Elements: ansible.Str},
}

// NewSpec builds a module spec from the shared options and the module's own.
func NewSpec(name string, own map[string]ansible.Option) ansible.Spec {
	opts := map[string]ansible.Option{}
	for _, m := range []map[string]ansible.Option{CommonOptions, HetznerOptions, AWSOptions, own} {
		maps.Copy(opts, m)
	}
	return ansible.Spec{
		Name:              name,
		Options:           opts,
		MutuallyExclusive: [][]string{{"target_group_arns", "target_group_names"}},
		RequiredTogether:  [][]string{{"access_key", "secret_key"}},
		RequiredIf: []ansible.RequiredIf{
			{Key: "provider", Value: Hetzner, Need: []string{"api_token", "load_balancer"}},
			{Key: "provider", Value: AWS, Need: []string{"target_group_arns", "target_group_names"}, AnyOf: true},
		},
		SupportsCheckMode: true,
		TimeoutOption:     "timeout",
	}
}

// Args are the options of both modules, decoded.
type Args struct {
	Provider      string  `json:"provider"`
	Target        string  `json:"target"`
	TargetType    string  `json:"target_type"`
	TargetPort    int     `json:"target_port"`
	Timeout       int     `json:"timeout"`
	Interval      float64 `json:"interval"`
	MetadataURL   string  `json:"metadata_url"`
	ValidateCerts bool    `json:"validate_certs"`
	Method        string  `json:"method"`
	HealthFile    string  `json:"health_file"`
	MinHealthy    int     `json:"min_healthy"`
	UsePrivateIP  bool    `json:"use_private_ip"`
	// FailAfterChecks is lb_register's fail_after_checks.
	FailAfterChecks int `json:"fail_after_checks"`
	// WaitForCapacity lets a drain that would break min_healthy wait.
	WaitForCapacity bool `json:"wait_for_capacity"`
	// Reserve counts and reserves the target without taking it out.
	Reserve bool `json:"reserve"`
	// Restore is lb_register's restore option; restore its entries, checked.
	Restore []map[string]any `json:"restore"`
	restore []Registration
	// Alarms are deploy_watch's CloudWatch alarm names (provider aws).
	Alarms []string `json:"alarms"`

	APIToken      string   `json:"api_token"`
	Endpoint      string   `json:"endpoint"`
	LoadBalancers []string `json:"load_balancer"`

	Region           string   `json:"region"`
	Profile          string   `json:"profile"`
	AccessKey        string   `json:"access_key"`
	SecretKey        string   `json:"secret_key"`
	SessionToken     string   `json:"session_token"`
	EndpointURL      string   `json:"endpoint_url"`
	TargetGroupARNs  []string `json:"target_group_arns"`
	TargetGroupNames []string `json:"target_group_names"`
}

// OptionRules are a provider's own option checks: which options it ignores
// and what the spec cannot say about those it reads. They may also set
// fields of a (aws forces method: remove).
type OptionRules interface {
	CheckOptions(m *ansible.Module, a *Args, given Given) error
}

// Given tells whether an option is set by the user (or an environment
// fallback) to something other than its default.
type Given func(name string) bool

// WarnIgnored warns about each of names that is given, as ignored with the
// provider.
func (g Given) WarnIgnored(m *ansible.Module, provider string, names ...string) {
	for _, n := range names {
		if g(n) {
			m.Warn("option %s is ignored with provider %s", n, provider)
		}
	}
}

// optionRules holds each provider's rules by name. The providers package
// fills it when it is loaded, before any module runs.
var optionRules = map[string]OptionRules{}

// RegisterOptionRules makes r the option rules of provider name.
func RegisterOptionRules(name string, r OptionRules) { optionRules[name] = r }

// check validates what the spec cannot express, the provider's rules
// included, and warns about options the chosen provider ignores.
func (a *Args) check(m *ansible.Module) error {
	given := Given(func(name string) bool {
		v, ok := m.Params[name]
		if !ok {
			return false
		}
		o := optionByName(name)
		return o.Default == nil || fmt.Sprint(o.Default) != fmt.Sprint(v)
	})
	if given("timeout") {
		if err := ansible.CheckSeconds("timeout", float64(a.Timeout)); err != nil {
			return err
		}
	}
	if given("interval") {
		if err := ansible.CheckSeconds("interval", a.Interval); err != nil {
			return err
		}
	}
	if a.MinHealthy < 0 {
		return fmt.Errorf("min_healthy must be 0 or more, got %d", a.MinHealthy)
	}
	if a.FailAfterChecks < 0 {
		return fmt.Errorf("fail_after_checks must be 0 (never fail early) or more, got %d", a.FailAfterChecks)
	}
	if a.TargetPort < 0 || a.TargetPort > 65535 {
		return fmt.Errorf("target_port must be between 1 and 65535, got %d", a.TargetPort)
	}
	// Without its rules a provider would skip checks silently.
	r, ok := optionRules[a.Provider]
	if !ok {
		return fmt.Errorf("provider %q has no option rules: is the providers package linked in?", a.Provider)
	}
	if err := r.CheckOptions(m, a, given); err != nil {
		return err
	}
	if a.Restore != nil {
		regs, err := parseRestore(a.Restore)
		if err != nil {
			return err
		}
		a.restore = regs
		for _, n := range []string{"use_private_ip", "target_port"} {
			if given(n) {
				m.Warn("option %s is ignored with restore: each registration comes back as lb_drain found it", n)
			}
		}
		a.TargetPort = 0
	}
	if a.HealthFile != "" && a.Method != MethodHealth {
		return fmt.Errorf("health_file is only used with method: health (provider hetzner); remove it or set method: health")
	}
	return checkReserve(*a)
}

func optionByName(name string) ansible.Option {
	for _, m := range []map[string]ansible.Option{CommonOptions, HetznerOptions, AWSOptions, DrainOptions, RegisterOptions, WatchOptions} {
		if o, ok := m[name]; ok {
			return o
		}
	}
	return ansible.Option{}
}
