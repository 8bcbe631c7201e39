// Package deploytoken is the zerodowntime.rolling.deploy_token module: it
// writes a fresh random token to a file on the app host before a deploy, so
// that deploy_verify can prove the new code is what answers.
package deploytoken

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

var spec = ansible.Spec{
	Name: "deploy_token",
	Options: map[string]ansible.Option{
		"path": {Type: ansible.Path, Required: true},
		// Not a secret: the app serves it to anyone who asks, and the role
		// needs it back in the result for deploy_verify.
		"token":  {Type: ansible.Str},
		"length": {Type: ansible.Int, Default: defaultLength},
		"mode":   {Type: ansible.Raw, Default: "0640"},
		"owner":  {Type: ansible.Str},
		"group":  {Type: ansible.Str},
	},
	SupportsCheckMode: true,
}

type args struct {
	Path   string  `json:"path"`
	Token  *string `json:"token"`
	Length int     `json:"length"`
	Mode   any     `json:"mode"`
	Owner  *string `json:"owner"`
	Group  *string `json:"group"`
}

const (
	defaultLength = 32
	minLength     = 16
	maxLength     = 256
)

// alphabet is what generated tokens are made of: safe in a URL, a header, a
// shell and a file name, so the app can serve it any way it likes.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func run(_ context.Context, m *ansible.Module, a args) (ansible.Result, error) {
	if a.Length < minLength || a.Length > maxLength {
		return ansible.Result{}, fmt.Errorf("length: %d is out of range; give a number of characters from %d to %d (default %d)",
			a.Length, minLength, maxLength, defaultLength)
	}
	if a.Token != nil && *a.Token == "" {
		return ansible.Result{}, fmt.Errorf("token: the value is empty; omit token to have a random one generated, or give a non-empty value")
	}
	mode, err := parseMode(a.Mode)
	if err != nil {
		return ansible.Result{}, err
	}
	want := fileState{mode: mode, uid: -1, gid: -1}
	if a.Owner != nil {
		if want.uid, err = lookupOwner(*a.Owner); err != nil {
			return ansible.Result{}, err
		}
	}
	if a.Group != nil {
		if want.gid, err = lookupGroup(*a.Group); err != nil {
			return ansible.Result{}, err
		}
	}
	if err := ansible.CheckFilePath("path", a.Path, "the token file", "/srv/app/current/DEPLOY_TOKEN"); err != nil {
		return ansible.Result{}, err
	}
	cur, err := readState(a.Path)
	if err != nil {
		return ansible.Result{}, err
	}

	generated := a.Token == nil
	if generated {
		want.content = []byte(newToken(a.Length))
	} else {
		want.content = []byte(*a.Token)
	}
	token := string(want.content)
	modeStr := formatMode(mode)
	changed := !cur.matches(want)
	res := ansible.Result{
		Changed: changed,
		Diff:    diff(a.Path, cur, want),
		Data:    map[string]any{"path": a.Path, "token": token, "mode": modeStr},
	}
	if want.uid >= 0 {
		res.Data["uid"] = want.uid
	}
	if want.gid >= 0 {
		res.Data["gid"] = want.gid
	}
	if want.uid >= 0 || want.gid >= 0 {
		modeStr += " (" + ownerText(want.uid, want.gid) + ")"
	}
	switch {
	case !changed:
		res.Msg = fmt.Sprintf("%s already holds the token, mode %s", a.Path, modeStr)
		return res, nil
	case m.CheckMode:
		res.Msg = fmt.Sprintf("would write the token to %s, mode %s (check mode: nothing written)", a.Path, modeStr)
		return res, nil
	}
	if err := writeAtomic(m, a.Path, cur, want); err != nil {
		return ansible.Result{}, err
	}
	what := "the given token"
	if generated {
		what = fmt.Sprintf("a new %d-character token", a.Length)
	}
	res.Msg = fmt.Sprintf("wrote %s to %s, mode %s", what, a.Path, modeStr)
	return res, nil
}

// newToken returns n characters drawn uniformly from alphabet with
// crypto/rand. Bytes from 248 up are dropped, since 248 is the largest
// multiple of 62 that fits a byte: taking them modulo 62 would favour the
// first letters.
func newToken(n int) string {
	const limit = 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/8+8)
	for len(out) < n {
		rand.Read(buf) // never fails: crypto/rand crashes the process rather than return weak bytes
		for _, b := range buf {
			if int(b) < limit {
				out = append(out, alphabet[int(b)%len(alphabet)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// modeExample is the mode error messages suggest.
const modeExample = "'0640'"

// parseMode reads mode as Ansible's file modules do: a string of octal
// digits ("0640", "640", "0o640") or a number, which is the mode itself
// (YAML reads an unquoted 0640 as octal, 416). Symbolic modes and the
// setuid, setgid and sticky bits are refused.
func parseMode(v any) (uint32, error) {
	var mode uint64
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		digits := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
		switch {
		case s == "":
			return 0, fmt.Errorf("mode: the value is empty; give an octal mode such as %s", modeExample)
		case strings.Trim(digits, "01234567") == "" && digits != "":
			n, err := strconv.ParseUint(digits, 8, 32)
			if err != nil || n > 0o7777 {
				return 0, fmt.Errorf("mode: %q is not a file mode (at most 4 octal digits); give one such as %s", x, modeExample)
			}
			mode = n
		case strings.Trim(s, "ugoa+-=rwxXst, ") == "" || strings.Trim(s, "-rwxsStT") == "":
			return 0, fmt.Errorf("mode: symbolic modes such as %q are not supported; give an octal mode such as %s", x, modeExample)
		default:
			return 0, fmt.Errorf("mode: %q is not an octal mode; give one such as %s", x, modeExample)
		}
	case float64: // every JSON number, after the options are decoded
		if x != float64(int64(x)) || x < 0 || x > 0o7777 {
			return 0, fmt.Errorf("mode: %v is not a file mode; give an octal string such as %s", x, modeExample)
		}
		mode = uint64(x)
		if dec := strconv.FormatUint(mode, 10); mode > 0o777 && len(dec) <= 3 && strings.Trim(dec, "01234567") == "" {
			// The classic slip: mode: 640, unquoted, which YAML reads as
			// the decimal 640 (octal 1200).
			return 0, fmt.Errorf("mode: the number %d is octal %04o, which sets the sticky bit: YAML reads a mode without "+
				"a leading 0 as a decimal number; quote it, such as mode: '0%d'", mode, mode, mode)
		}
	default:
		return 0, fmt.Errorf("mode: %s is not a file mode; give an octal string such as %s", describe(v), modeExample)
	}
	if mode > 0o777 {
		return 0, fmt.Errorf("mode: %s sets the setuid, setgid or sticky bit, which a token file has no use for; give permission bits only, such as %s",
			formatMode(uint32(mode)), modeExample)
	}
	return uint32(mode), nil
}

func formatMode(mode uint32) string { return fmt.Sprintf("%04o", mode) }

func describe(v any) string {
	switch v.(type) {
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case []any:
		return "a list"
	case map[string]any:
		return "a dict"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", v)
}

// Module is zerodowntime.rolling.deploy_token.
var Module = ansible.NewModule(spec, run)
