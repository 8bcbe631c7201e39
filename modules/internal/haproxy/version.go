package haproxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Version is HAProxy's version from "show info".
type Version struct {
	Major, Minor, Patch int
	Raw                 string
}

func (v Version) String() string { return v.Raw }

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// ParseVersion parses "2.6.12-1+deb12u4", "1.5.18", "3.0-dev4".
func ParseVersion(s string) (Version, error) {
	v := Version{Raw: s}
	core := s
	if i := strings.IndexAny(core, "-+ ~"); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(core, ".")
	nums := []*int{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if i >= len(nums) {
			break
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, fmt.Errorf("cannot parse the HAProxy version %q", s)
		}
		*nums[i] = n
	}
	if len(parts) < 2 {
		return v, fmt.Errorf("cannot parse the HAProxy version %q", s)
	}
	return v, nil
}

// Info is what the module needs from "show info".
type Info struct {
	Version Version
	Pid     int
}

// Info reads "show info".
func (c *Client) Info(ctx context.Context) (Info, error) {
	out, err := c.Exec(ctx, "show info")
	if err != nil {
		return Info{}, err
	}
	return parseInfo(out)
}

func parseInfo(out string) (Info, error) {
	var info Info
	found := false
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Version":
			ver, err := ParseVersion(v)
			if err != nil {
				return info, err
			}
			info.Version, found = ver, true
		case "Pid":
			info.Pid, _ = strconv.Atoi(v)
		}
	}
	if !found {
		return info, fmt.Errorf("unexpected answer to `show info` (no Version line): %.200q", out)
	}
	return info, nil
}

// Version is the version read when the client connected.
func (c *Client) Version() Version {
	if c.info == nil {
		return Version{}
	}
	return c.info.Version
}

// Require fails with a *VersionError when HAProxy is older than major.minor.
func (c *Client) Require(major, minor int, feature string) error {
	if c.info == nil || c.info.Version.AtLeast(major, minor) {
		return nil
	}
	return &VersionError{Have: c.info.Version, Need: Version{Major: major, Minor: minor}, Feature: feature}
}
