// Package ansible implements Ansible's binary-module protocol: it reads the
// arguments file, validates the options against a declarative spec the way
// AnsibleModule does, runs the module with a context, and prints exactly one
// JSON result with secrets masked.
package ansible

import (
	"time"
)

// Type is the type of a module option, named as in Ansible's argument_spec.
type Type string

// Option types, with the conversions AnsibleModule applies to each.
const (
	Str   Type = "str"
	Int   Type = "int"
	Float Type = "float"
	Bool  Type = "bool"
	List  Type = "list"
	Dict  Type = "dict"
	Path  Type = "path"
	Raw   Type = "raw"
)

// Option describes one module option.
type Option struct {
	Type     Type
	Elements Type // element type of a List; Raw when empty
	Required bool
	Default  any
	Choices  []string
	Aliases  []string
	// EnvFallback names environment variables read, in order, when the
	// option is not given.
	EnvFallback []string
	// NoLog marks a secret: its value is masked in invocation and scrubbed
	// from every string of the result.
	NoLog bool
	// SecretKeys tells, for a Dict, which keys hold secrets (credential
	// headers): their values are scrubbed from the result, and a value the
	// option cannot convert is not quoted in the error.
	SecretKeys func(key string) bool
	// SecretEnv names environment variables that another reader (an SDK)
	// takes the same secret from: their values are scrubbed too.
	SecretEnv []string
}

// RequiredIf requires the options in Need when option Key equals Value
// (compared as strings). With AnyOf, one of Need is enough.
type RequiredIf struct {
	Key   string
	Value any
	Need  []string
	AnyOf bool
}

// Spec is a module's declarative argument spec.
type Spec struct {
	// Name is the module's short name, used in messages ("deploy_verify").
	Name    string
	Options map[string]Option

	MutuallyExclusive [][]string
	RequiredTogether  [][]string
	RequiredOneOf     [][]string
	RequiredIf        []RequiredIf

	SupportsCheckMode bool

	// TimeoutOption names the integer option holding the module's own
	// timeout in seconds. The run context then gets a hard deadline of that
	// timeout plus TimeoutGrace, so a module's waits report their own
	// descriptive timeout first and the context only guarantees an end.
	TimeoutOption string
	TimeoutGrace  time.Duration
}

// option looks up an option by its name or one of its aliases and returns the
// canonical name.
func (s Spec) option(name string) (string, Option, bool) {
	if o, ok := s.Options[name]; ok {
		return name, o, true
	}
	for canon, o := range s.Options {
		for _, a := range o.Aliases {
			if a == name {
				return canon, o, true
			}
		}
	}
	return "", Option{}, false
}
