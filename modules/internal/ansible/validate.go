package ansible

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
)

// Params are validated module options keyed by canonical name. Options that
// were neither given nor defaulted are absent.
type Params map[string]any

// validate checks raw user options against the spec and returns the
// canonical, converted parameters. The checks run in a fixed order so the
// same bad input always yields the same first error.
func (s Spec) validate(raw map[string]any) (Params, []string, error) {
	var warnings []string

	// 1. Unsupported options, reported as AnsibleModule does.
	var unsupported []string
	for k := range raw {
		if _, _, ok := s.option(k); !ok {
			unsupported = append(unsupported, k)
		}
	}
	if len(unsupported) > 0 {
		sort.Strings(unsupported)
		//lint:ignore ST1005 AnsibleModule's own wording, which users and tools match on
		return nil, nil, fmt.Errorf("Unsupported parameters for (%s) module: %s. Supported parameters include: %s.",
			s.Name, strings.Join(unsupported, ", "), s.supported())
	}

	// 2. Aliases: fold onto canonical names. As in AnsibleModule
	// (_handle_aliases), an alias overrides the canonical name, later aliases
	// in the spec override earlier ones, and setting an option twice warns.
	p := Params{}
	for k, v := range raw {
		if _, ok := s.Options[k]; ok && v != nil {
			p[k] = v
		}
	}
	for _, canon := range slices.Sorted(maps.Keys(s.Options)) {
		for _, alias := range s.Options[canon].Aliases {
			v, given := raw[alias]
			if !given {
				continue
			}
			if _, both := p[canon]; both {
				warnings = append(warnings, fmt.Sprintf("Both option %s and its alias %s are set.", canon, alias))
			}
			// A null value stands for "not given", as omit would.
			if v != nil {
				p[canon] = v
			}
		}
	}

	// 3. Environment fallback for options not given.
	for _, name := range slices.Sorted(maps.Keys(s.Options)) {
		if _, ok := p[name]; ok {
			continue
		}
		for _, env := range s.Options[name].EnvFallback {
			if v, ok := os.LookupEnv(env); ok {
				p[name] = v
				break
			}
		}
	}

	// 4. Mutually exclusive groups, on what the user gave; every violated
	// group is named, as check_mutually_exclusive does.
	var exclusive []string
	for _, group := range s.MutuallyExclusive {
		if given := p.given(group); len(given) > 1 {
			exclusive = append(exclusive, strings.Join(group, "|"))
		}
	}
	if len(exclusive) > 0 {
		return nil, warnings, fmt.Errorf("parameters are mutually exclusive: %s", strings.Join(exclusive, ", "))
	}

	// 5. Required options.
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(s.Options)) {
		if _, ok := p[name]; !ok && s.Options[name].Required {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, warnings, fmt.Errorf("missing required arguments: %s", strings.Join(missing, ", "))
	}

	// 6. Types, then choices.
	for _, name := range slices.Sorted(maps.Keys(p)) {
		o := s.Options[name]
		v, err := convert(p[name], o.Type, o.Elements)
		if err != nil {
			if o.NoLog || o.SecretKeys != nil {
				// The reason quotes the value; a secret's stays out.
				return nil, warnings, fmt.Errorf("argument '%s' is of type %s and we were unable to convert to %s",
					name, typeName(p[name]), o.typeLabel())
			}
			return nil, warnings, fmt.Errorf("argument '%s' is of type %s and we were unable to convert to %s: %v",
				name, typeName(p[name]), o.typeLabel(), err)
		}
		if len(o.Choices) > 0 {
			v = boolChoice(v, o.Choices)
		}
		if o.Type == Str && !isString(p[name]) && !(isBool(p[name]) && contains(o.Choices, v)) {
			from, to := fmt.Sprint(p[name]), fmt.Sprintf("%q", v)
			if o.NoLog {
				from, to = NoLogValue, NoLogValue
			}
			warnings = append(warnings, fmt.Sprintf("The value %s (type %s) in a string field was converted to %s (type string). If this does not look like what you expect, quote the entire value to ensure it does not change.",
				from, typeName(p[name]), to))
		}
		p[name] = v
		if len(o.Choices) > 0 {
			if err := checkChoices(name, v, o.Choices); err != nil {
				return nil, warnings, err
			}
		}
	}

	// 7. Defaults.
	for _, name := range slices.Sorted(maps.Keys(s.Options)) {
		o := s.Options[name]
		if _, ok := p[name]; ok || o.Default == nil {
			continue
		}
		v, err := convert(o.Default, o.Type, o.Elements)
		if err != nil {
			// A programming error in the spec; report it rather than crash.
			return nil, warnings, fmt.Errorf("internal error: the default of %s in the %s module's spec does not convert to %s: %v",
				name, s.Name, o.typeLabel(), err)
		}
		p[name] = v
	}

	// 8. Dependencies between options.
	for _, group := range s.RequiredTogether {
		if given := p.given(group); len(given) > 0 && len(given) < len(group) {
			return nil, warnings, fmt.Errorf("parameters are required together: %s", strings.Join(group, ", "))
		}
	}
	for _, group := range s.RequiredOneOf {
		if len(p.given(group)) == 0 {
			return nil, warnings, fmt.Errorf("one of the following is required: %s", strings.Join(group, ", "))
		}
	}
	for _, r := range s.RequiredIf {
		v, ok := p[r.Key]
		if !ok || fmt.Sprint(v) != fmt.Sprint(r.Value) {
			continue
		}
		var absent []string
		for _, n := range r.Need {
			if _, ok := p[n]; !ok {
				absent = append(absent, n)
			}
		}
		if (r.AnyOf && len(absent) == len(r.Need)) || (!r.AnyOf && len(absent) > 0) {
			quant := "all"
			if r.AnyOf {
				quant = "any"
			}
			return nil, warnings, fmt.Errorf("%s is %v but %s of the following are missing: %s",
				r.Key, r.Value, quant, strings.Join(absent, ", "))
		}
	}
	return p, warnings, nil
}

// supported lists option names, then aliases in parentheses, as Ansible does.
func (s Spec) supported() string {
	var names, aliases []string
	for n, o := range s.Options {
		names = append(names, n)
		aliases = append(aliases, o.Aliases...)
	}
	sort.Strings(names)
	sort.Strings(aliases)
	out := strings.Join(names, ", ")
	if len(aliases) > 0 {
		out += " (" + strings.Join(aliases, ", ") + ")"
	}
	return out
}

func (p Params) given(names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := p[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

func (o Option) typeLabel() string {
	if o.Type == List && o.Elements != "" && o.Elements != Raw {
		return "list of " + string(o.Elements)
	}
	return string(o.Type)
}

// boolChoice undoes YAML's reading of an unquoted yes/no as a boolean for a
// string option with choices, as _validate_argument_values does: "True" or
// "False" becomes the one boolean-looking choice, when there is exactly one.
func boolChoice(v any, choices []string) any {
	s, ok := v.(string)
	if !ok || contains(choices, s) {
		return v
	}
	var set map[string]bool
	switch s {
	case "True":
		set = truthy
	case "False":
		set = falsy
	default:
		return v
	}
	var overlap []string
	for _, c := range choices {
		if set[c] {
			overlap = append(overlap, c)
		}
	}
	if len(overlap) == 1 {
		return overlap[0]
	}
	return v
}

func contains(list []string, v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, c := range list {
		if c == s {
			return true
		}
	}
	return false
}

func checkChoices(name string, v any, choices []string) error {
	if l, ok := v.([]any); ok {
		var bad []string
		for _, x := range l {
			if s := fmt.Sprint(x); !contains(choices, s) {
				bad = append(bad, s)
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("value of %s must be one or more of: %s. Got no match for: %s",
				name, strings.Join(choices, ", "), strings.Join(bad, ", "))
		}
		return nil
	}
	if s := fmt.Sprint(v); !contains(choices, s) {
		return fmt.Errorf("value of %s must be one of: %s, got: %s", name, strings.Join(choices, ", "), s)
	}
	return nil
}
