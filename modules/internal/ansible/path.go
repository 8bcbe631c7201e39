package ansible

import (
	"os"
	"os/user"
	"regexp"
	"strings"
)

// varRef is what os.path.expandvars replaces: $name or ${anything}.
var varRef = regexp.MustCompile(`\$([\p{L}\p{N}_]+|\{[^}]*\})`)

// expandPath expands environment variables and a leading ~ or ~user, like
// os.path.expanduser(os.path.expandvars(p)): unknown variables stay as
// written and the path is not cleaned.
func expandPath(p string) string {
	p = varRef.ReplaceAllStringFunc(p, func(ref string) string {
		name := strings.TrimSuffix(strings.TrimPrefix(ref[1:], "{"), "}")
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return ref
	})
	if !strings.HasPrefix(p, "~") {
		return p
	}
	i := strings.IndexByte(p, '/')
	if i < 0 {
		i = len(p)
	}
	var home string
	if name := p[1:i]; name == "" {
		home, _ = os.UserHomeDir()
	} else if u, err := user.Lookup(name); err == nil {
		home = u.HomeDir
	}
	if home == "" {
		return p
	}
	out := strings.TrimRight(home, "/") + p[i:]
	if out == "" {
		return "/"
	}
	return out
}
