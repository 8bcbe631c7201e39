package deploytoken

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible/ansibletest"
)

// call runs the module through the Ansible protocol and returns the decoded
// result.
func call(t *testing.T, args map[string]any) map[string]any {
	t.Helper()
	res, _ := ansibletest.Call(t, context.Background(), spec, args, run)
	return res
}

func with(base map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func wantFields(t *testing.T, res map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if fmt.Sprint(res[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v\nresult: %v", k, res[k], v, res)
		}
	}
}

// fileInfo is what a test checks of a file.
type fileInfo struct {
	content  string
	mode     uint32
	uid, gid int
	ino      uint64
}

// statFile returns what is in the regular file at path, or false when
// nothing is there.
func statFile(t *testing.T, path string) (fileInfo, bool) {
	t.Helper()
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileInfo{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if !st.Mode().IsRegular() {
		t.Fatalf("%s is %v, not a regular file", path, st.Mode())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	return fileInfo{string(b), unixMode(st.Mode()), int(sys.Uid), int(sys.Gid), uint64(sys.Ino)}, true
}

func writeFile(t *testing.T, path, content string, mode uint32) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, fs.FileMode(mode)); err != nil {
		t.Fatal(err)
	}
}

// leftovers lists what is in dir besides the names given.
func leftovers(t *testing.T, dir string, expected ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range entries {
		found := false
		for _, x := range expected {
			found = found || e.Name() == x
		}
		if !found {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9]+$`)

func TestGeneratedToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		length any
		want   int
	}{
		{name: "default length", length: nil, want: 32},
		{name: "shortest", length: 16, want: 16},
		{name: "longest", length: 256, want: 256},
		{name: "length as a string, as k=v arguments send it", length: "100", want: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "DEPLOY_TOKEN")
			args := map[string]any{"path": path}
			if tt.length != nil {
				args["length"] = tt.length
			}
			res := call(t, args)
			wantFields(t, res, map[string]any{"failed": false, "changed": true, "path": path, "mode": "0640",
				"msg": fmt.Sprintf("wrote a new %d-character token to %s, mode 0640", tt.want, path)})
			token, _ := res["token"].(string)
			if len(token) != tt.want || !tokenRE.MatchString(token) {
				t.Errorf("token %q: want %d characters from [A-Za-z0-9]", token, tt.want)
			}
			got, ok := statFile(t, path)
			if !ok || got.content != token || got.mode != 0o640 {
				t.Errorf("file holds %q mode %04o (exists %v), want %q mode 0640", got.content, got.mode, ok, token)
			}
			// A fresh token changes the file every time.
			again := call(t, args)
			if again["changed"] != true || again["token"] == token {
				t.Errorf("second run: changed %v, token %v; want changed and a new token", again["changed"], again["token"])
			}
		})
	}
}

func TestNewTokenCharsetAndUniqueness(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	counts := map[rune]int{}
	const n, length = 4000, 50
	for range n {
		tok := newToken(length)
		if len(tok) != length || !tokenRE.MatchString(tok) {
			t.Fatalf("token %q: want %d characters from [A-Za-z0-9]", tok, length)
		}
		if seen[tok] {
			t.Fatalf("token %q generated twice", tok)
		}
		seen[tok] = true
		for _, c := range tok {
			counts[c]++
		}
	}
	// 200,000 characters: each of the 62 is expected 3226 times (standard
	// deviation about 56). A biased draw, such as bytes taken modulo 62,
	// puts the first eight letters about 25% above the rest.
	if len(counts) != len(alphabet) {
		t.Errorf("%d distinct characters, want %d", len(counts), len(alphabet))
	}
	expected := float64(n*length) / float64(len(alphabet))
	for c, k := range counts {
		if d := float64(k)/expected - 1; d > 0.1 || d < -0.1 {
			t.Errorf("%q drawn %d times, expected about %.0f", c, k, expected)
		}
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, "x", 0o640)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ok := filepath.Join(dir, "DEPLOY_TOKEN")
	tests := []struct {
		name string
		args map[string]any
		msg  string
	}{
		{name: "path missing", args: map[string]any{"token": "t"}, msg: "missing required arguments: path"},
		{name: "unknown option", args: map[string]any{"path": ok, "dest": ok}, msg: "Unsupported parameters for (deploy_token) module: dest. Supported parameters include: group, length, mode, owner, path, token."},
		{name: "length too short", args: map[string]any{"path": ok, "length": 15}, msg: "length: 15 is out of range; give a number of characters from 16 to 256 (default 32)"},
		{name: "length too long", args: map[string]any{"path": ok, "length": 257}, msg: "length: 257 is out of range; give a number of characters from 16 to 256 (default 32)"},
		{name: "length zero", args: map[string]any{"path": ok, "length": 0}, msg: "length: 0 is out of range"},
		{name: "length checked with a token too", args: map[string]any{"path": ok, "token": "t", "length": -1}, msg: "length: -1 is out of range"},
		{name: "length not a number", args: map[string]any{"path": ok, "length": "long"}, msg: `argument 'length' is of type str and we were unable to convert to int: "long" is not a whole number`},
		{name: "token empty", args: map[string]any{"path": ok, "token": ""}, msg: "token: the value is empty; omit token to have a random one generated, or give a non-empty value"},
		{name: "mode symbolic", args: map[string]any{"path": ok, "mode": "u=rw,g=r"}, msg: `mode: symbolic modes such as "u=rw,g=r" are not supported; give an octal mode such as '0640'`},
		{name: "mode ls style", args: map[string]any{"path": ok, "mode": "rw-r-----"}, msg: `mode: symbolic modes such as "rw-r-----" are not supported; give an octal mode such as '0640'`},
		{name: "mode not octal", args: map[string]any{"path": ok, "mode": "0680"}, msg: `mode: "0680" is not an octal mode; give one such as '0640'`},
		{name: "mode too many digits", args: map[string]any{"path": ok, "mode": "106400"}, msg: `mode: "106400" is not a file mode (at most 4 octal digits); give one such as '0640'`},
		{name: "mode setuid", args: map[string]any{"path": ok, "mode": "4750"}, msg: "mode: 4750 sets the setuid, setgid or sticky bit, which a token file has no use for; give permission bits only, such as '0640'"},
		{name: "mode empty", args: map[string]any{"path": ok, "mode": ""}, msg: "mode: the value is empty; give an octal mode such as '0640'"},
		{name: "mode unquoted 640 in YAML", args: map[string]any{"path": ok, "mode": 640}, msg: "mode: the number 640 is octal 1200, which sets the sticky bit: YAML reads a mode without a leading 0 as a decimal number; quote it, such as mode: '0640'"},
		{name: "mode number with special bits", args: map[string]any{"path": ok, "mode": 0o2750}, msg: "mode: 2750 sets the setuid, setgid or sticky bit"},
		{name: "mode negative", args: map[string]any{"path": ok, "mode": -1}, msg: "mode: -1 is not a file mode; give an octal string such as '0640'"},
		{name: "mode fraction", args: map[string]any{"path": ok, "mode": 1.5}, msg: "mode: 1.5 is not a file mode"},
		{name: "mode bool", args: map[string]any{"path": ok, "mode": true}, msg: "mode: the boolean true is not a file mode; give an octal string such as '0640'"},
		{name: "mode list", args: map[string]any{"path": ok, "mode": []any{"0640"}}, msg: "mode: a list is not a file mode"},
		{name: "owner unknown", args: map[string]any{"path": ok, "owner": "no-such-user-zdt"}, msg: `owner: no user named "no-such-user-zdt" on this host; give an existing user name or a numeric uid`},
		{name: "group unknown", args: map[string]any{"path": ok, "group": "no-such-group-zdt"}, msg: `group: no group named "no-such-group-zdt" on this host; give an existing group name or a numeric gid`},
		{name: "owner empty", args: map[string]any{"path": ok, "owner": ""}, msg: "owner: the value is empty; give a user name or a numeric uid, or omit owner"},
		{name: "owner -1", args: map[string]any{"path": ok, "owner": "4294967295"}, msg: "owner: 4294967295 is not a valid uid"},
		{name: "relative path", args: map[string]any{"path": "current/DEPLOY_TOKEN"}, msg: `path: "current/DEPLOY_TOKEN" is relative; give an absolute path, such as /srv/app/current/DEPLOY_TOKEN`},
		{name: "path ends with /", args: map[string]any{"path": dir + "/"}, msg: `path: "` + dir + `/" ends with /; give the path of the token file itself, such as ` + dir + `/DEPLOY_TOKEN`},
		{name: "directory missing", args: map[string]any{"path": dir + "/missing/DEPLOY_TOKEN"}, msg: "path: the directory " + dir + "/missing does not exist; create it first (ansible.builtin.file with state: directory) or correct path"},
		{name: "directory missing, check mode too", args: map[string]any{"path": dir + "/missing/DEPLOY_TOKEN", "_ansible_check_mode": true}, msg: "path: the directory " + dir + "/missing does not exist"},
		{name: "parent is a file", args: map[string]any{"path": file + "/DEPLOY_TOKEN"}, msg: "path: " + file + " is not a directory, so DEPLOY_TOKEN cannot be created in it; correct path"},
		{name: "path is a directory", args: map[string]any{"path": dir}, msg: "path: " + dir + " is a directory; give the path of the token file in it, such as " + dir + "/DEPLOY_TOKEN"},
		{name: "path is a fifo", args: map[string]any{"path": fifo}, msg: "path: " + fifo + " is a named pipe, not a regular file; give the path of a file to write"},
		{name: "first error in a fixed order", args: map[string]any{"path": "rel", "length": 1, "mode": "x", "owner": "no-such-user-zdt"}, msg: "length: 1 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := call(t, tt.args)
			msg, _ := res["msg"].(string)
			if res["failed"] != true || !strings.HasPrefix(msg, tt.msg) {
				t.Errorf("msg = %q\nwant prefix %q", msg, tt.msg)
			}
			if res["changed"] != false {
				t.Errorf("changed = %v on failure", res["changed"])
			}
			if strings.Contains(msg, "goroutine") || strings.Contains(msg, ".go:") {
				t.Errorf("msg carries a stack: %s", msg)
			}
		})
	}
	if _, err := os.Stat(ok); err == nil {
		t.Errorf("%s was written by a failing run", ok)
	}
}
