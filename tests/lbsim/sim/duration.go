package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration that reads either a number of seconds
// (5, 0.5) or a Go duration string ("5s", "250ms") from YAML and JSON, and
// writes the Go duration string. Whole seconds are what the clouds accept;
// fractions exist so that tests and rehearsals can run faster than real time.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns the Go duration string, e.g. "1.5s".
func (d Duration) String() string { return time.Duration(d).String() }

// seconds returns d in whole seconds, rounded up, at least min.
func (d Duration) seconds(min int) int {
	s := int((time.Duration(d) + time.Second - 1) / time.Second)
	if s < min {
		return min
	}
	return s
}

func parseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		switch ns := f * float64(time.Second); {
		case math.IsNaN(f):
			return 0, fmt.Errorf("duration %q is not a number of seconds", s)
		case f < 0:
			return 0, fmt.Errorf("duration %q is negative", s)
		case ns >= math.MaxInt64:
			return 0, fmt.Errorf("duration %q is too long: at most %s", s, time.Duration(math.MaxInt64))
		default:
			return Duration(ns), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: use seconds (5, 0.5) or a Go duration (\"5s\", \"250ms\")", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return Duration(d), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: duration must be a number of seconds or a string like \"5s\"", n.Line)
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var f json.Number
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("duration must be a number of seconds or a string like \"5s\", got %s", b)
		}
		s = f.String()
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }
