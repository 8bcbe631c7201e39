package deploytoken

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// call runs the module through the Ansible protocol and returns the decoded
// result.
func call(t *testing.T, args map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	code := ansible.RunArgs(context.Background(), spec, data, &buf, run)
	out := buf.Bytes()
	if bytes.Count(out, []byte("\n")) != 1 || !bytes.HasSuffix(out, []byte("}\n")) {
		t.Fatalf("not one JSON object and a newline: %q", out)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if failed, _ := res["failed"].(bool); (code == 1) != failed {
		t.Errorf("exit code %d with failed=%v", code, failed)
	}
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

func TestApply(t *testing.T) {
	t.Parallel()
	type initial struct {
		content string
		mode    uint32
	}
	tests := []struct {
		name    string
		initial *initial
		args    map[string]any // besides path
		check   bool
		changed bool
		want    *fileInfo // the file afterwards; nil: absent
		mode    string    // mode returned
		msg     string
	}{
		{name: "new file", args: map[string]any{"token": "tok-1"}, changed: true,
			want: &fileInfo{content: "tok-1", mode: 0o640}, mode: "0640", msg: "wrote the given token to PATH, mode 0640"},
		{name: "same token and mode: idempotent", initial: &initial{content: "tok-1", mode: 0o640}, args: map[string]any{"token": "tok-1"},
			want: &fileInfo{content: "tok-1", mode: 0o640}, mode: "0640", msg: "PATH already holds the token, mode 0640"},
		{name: "same token, other mode", initial: &initial{content: "tok-1", mode: 0o644}, args: map[string]any{"token": "tok-1"}, changed: true,
			want: &fileInfo{content: "tok-1", mode: 0o640}, mode: "0640"},
		{name: "other token", initial: &initial{content: "tok-0", mode: 0o640}, args: map[string]any{"token": "tok-1"}, changed: true,
			want: &fileInfo{content: "tok-1", mode: 0o640}, mode: "0640"},
		{name: "a trailing newline is content", initial: &initial{content: "tok-1\n", mode: 0o640}, args: map[string]any{"token": "tok-1"}, changed: true,
			want: &fileInfo{content: "tok-1", mode: 0o640}, mode: "0640"},
		{name: "empty file", initial: &initial{content: "", mode: 0o640}, args: map[string]any{"token": "tok-1"}, changed: true,
			want: &fileInfo{content: "tok-1", mode: 0o640}, mode: "0640"},
		{name: "mode without leading 0", args: map[string]any{"token": "t", "mode": "600"}, changed: true,
			want: &fileInfo{content: "t", mode: 0o600}, mode: "0600"},
		{name: "mode 0o prefix", args: map[string]any{"token": "t", "mode": "0o444"}, changed: true,
			want: &fileInfo{content: "t", mode: 0o444}, mode: "0444"},
		{name: "mode as the number YAML makes of 0644", args: map[string]any{"token": "t", "mode": 0o644}, changed: true,
			want: &fileInfo{content: "t", mode: 0o644}, mode: "0644"},
		{name: "mode as the number, already so", initial: &initial{content: "t", mode: 0o644}, args: map[string]any{"token": "t", "mode": 420},
			want: &fileInfo{content: "t", mode: 0o644}, mode: "0644"},
		{name: "mode with spaces", args: map[string]any{"token": "t", "mode": " 0640 "}, changed: true,
			want: &fileInfo{content: "t", mode: 0o640}, mode: "0640"},
		{name: "large file replaced", initial: &initial{content: strings.Repeat("x", maxRead+1), mode: 0o640}, args: map[string]any{"token": "tok-1"}, changed: true,
			want: &fileInfo{content: "tok-1", mode: 0o640}, mode: "0640"},

		{name: "check mode: new file", args: map[string]any{"token": "tok-1"}, check: true, changed: true, mode: "0640",
			msg: "would write the token to PATH, mode 0640 (check mode: nothing written)"},
		{name: "check mode: generated", check: true, changed: true, mode: "0640"},
		{name: "check mode: other token", initial: &initial{content: "tok-0", mode: 0o600}, args: map[string]any{"token": "tok-1"}, check: true, changed: true,
			want: &fileInfo{content: "tok-0", mode: 0o600}, mode: "0640"},
		{name: "check mode: other mode", initial: &initial{content: "tok-1", mode: 0o600}, args: map[string]any{"token": "tok-1"}, check: true, changed: true,
			want: &fileInfo{content: "tok-1", mode: 0o600}, mode: "0640"},
		{name: "check mode: same", initial: &initial{content: "tok-1", mode: 0o600}, args: map[string]any{"token": "tok-1", "mode": "0600"}, check: true,
			want: &fileInfo{content: "tok-1", mode: 0o600}, mode: "0600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "DEPLOY_TOKEN")
			var before fileInfo
			if in := tt.initial; in != nil {
				writeFile(t, path, in.content, in.mode)
				before, _ = statFile(t, path)
			}
			res := call(t, with(tt.args, "path", path, "_ansible_check_mode", tt.check))
			wantFields(t, res, map[string]any{"failed": false, "changed": tt.changed, "path": path, "mode": tt.mode})
			if tt.msg != "" {
				wantFields(t, res, map[string]any{"msg": strings.ReplaceAll(tt.msg, "PATH", path)})
			}
			token, _ := res["token"].(string)
			if tok, ok := tt.args["token"]; ok && token != tok {
				t.Errorf("token %q, want the given %q", token, tok)
			} else if !ok && (len(token) != 32 || !tokenRE.MatchString(token)) {
				t.Errorf("token %q, want 32 characters from [A-Za-z0-9]", token)
			}
			got, exists := statFile(t, path)
			switch {
			case tt.want == nil && exists:
				t.Errorf("%s exists, holding %q; want nothing written", path, got.content)
			case tt.want != nil && (!exists || got.content != tt.want.content || got.mode != tt.want.mode):
				t.Errorf("file holds %.20q mode %04o (exists %v), want %.20q mode %04o", got.content, got.mode, exists, tt.want.content, tt.want.mode)
			}
			if tt.initial != nil && !tt.changed && got.ino != before.ino {
				t.Errorf("unchanged, yet the file was rewritten (inode %d, was %d)", got.ino, before.ino)
			}
			if extra := leftovers(t, dir, "DEPLOY_TOKEN"); len(extra) > 0 {
				t.Errorf("left in the directory: %v", extra)
			}
			if _, ok := res["diff"]; ok {
				t.Errorf("diff returned though Ansible did not ask for one: %v", res["diff"])
			}
		})
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "DEPLOY_TOKEN")
	big := filepath.Join(dir, "BIG")
	writeFile(t, big, strings.Repeat("x", maxRead+1), 0o600)
	binary := filepath.Join(dir, "BINARY")
	writeFile(t, binary, "\xff\xfe", 0o640)
	owned := filepath.Join(dir, "OWNED")
	writeFile(t, owned, "old", 0o640)
	uid, gid := os.Getuid(), os.Getgid()
	tests := []struct {
		name          string
		args          map[string]any
		before, after string // JSON
	}{
		{name: "absent", args: map[string]any{"path": path, "token": "new"},
			before: `{"path":"P","state":"absent"}`, after: `{"content":"new","mode":"0640","path":"P","state":"file"}`},
		{name: "content and mode", args: map[string]any{"path": path, "token": "new", "mode": "0600", "_ansible_check_mode": true},
			before: `{"content":"old","mode":"0644","path":"P","state":"file"}`, after: `{"content":"new","mode":"0600","path":"P","state":"file"}`},
		{name: "unchanged", args: map[string]any{"path": path, "token": "old", "mode": "0644"},
			before: `{"content":"old","mode":"0644","path":"P","state":"file"}`, after: `{"content":"old","mode":"0644","path":"P","state":"file"}`},
		{name: "too large to show", args: map[string]any{"path": big, "token": "new", "_ansible_check_mode": true},
			before: `{"content":"(65537 bytes, not shown)","mode":"0600","path":"P","state":"file"}`, after: `{"content":"new","mode":"0640","path":"P","state":"file"}`},
		{name: "not text", args: map[string]any{"path": binary, "token": "new", "_ansible_check_mode": true},
			before: `{"content":"(2 bytes, not shown)","mode":"0640","path":"P","state":"file"}`, after: `{"content":"new","mode":"0640","path":"P","state":"file"}`},
		{name: "owner and group given", args: map[string]any{"path": owned, "token": "old", "owner": strconv.Itoa(uid), "group": strconv.Itoa(gid)},
			before: fmt.Sprintf(`{"content":"old","group":%d,"mode":"0640","owner":%d,"path":"P","state":"file"}`, gid, uid),
			after:  fmt.Sprintf(`{"content":"old","group":%d,"mode":"0640","owner":%d,"path":"P","state":"file"}`, gid, uid)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.args["path"] == path {
				os.Remove(path)
				if tt.name != "absent" {
					writeFile(t, path, "old", 0o644)
				}
			}
			res := call(t, with(tt.args, "_ansible_diff", true))
			if res["failed"] != false {
				t.Fatalf("failed: %v", res["msg"])
			}
			d, _ := res["diff"].(map[string]any)
			p := tt.args["path"].(string)
			wantFields(t, d, map[string]any{"before_header": p, "after_header": p})
			for _, side := range []struct{ key, want string }{{"before", tt.before}, {"after", tt.after}} {
				got, _ := json.Marshal(d[side.key])
				if want := strings.ReplaceAll(side.want, `"P"`, strconv.Quote(p)); string(got) != want {
					t.Errorf("diff %s = %s\nwant          %s", side.key, got, want)
				}
			}
		})
	}
}

// TestIdempotentWithGivenToken runs the same task twice, as a second play
// would.
func TestIdempotentWithGivenToken(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "DEPLOY_TOKEN")
	args := map[string]any{"path": path, "token": "release-2024-06-01", "mode": "0644", "owner": strconv.Itoa(os.Getuid())}
	first := call(t, args)
	second := call(t, args)
	wantFields(t, first, map[string]any{"changed": true, "token": "release-2024-06-01", "mode": "0644"})
	wantFields(t, second, map[string]any{"changed": false, "token": "release-2024-06-01", "mode": "0644"})
	third := call(t, with(args, "mode", "0640"))
	wantFields(t, third, map[string]any{"changed": true})
}

// TestAtomicReplace shows that the file is replaced by a rename, never
// written in place, and that a failure before the rename leaves the old file
// and no temporary file behind.
func TestAtomicReplace(t *testing.T) {
	// Not parallel: it swaps the package's test seams.
	dir := t.TempDir()
	path := filepath.Join(dir, "DEPLOY_TOKEN")
	writeFile(t, path, "old-token", 0o640)
	// A second name for the old file: an in-place write would show through it.
	held := filepath.Join(dir, "held")
	if err := os.Link(path, held); err != nil {
		t.Fatal(err)
	}
	before, _ := statFile(t, path)

	res := call(t, map[string]any{"path": path, "token": "new-token"})
	wantFields(t, res, map[string]any{"failed": false, "changed": true})
	after, _ := statFile(t, path)
	if after.content != "new-token" || after.ino == before.ino {
		t.Errorf("after: %q inode %d (was %d); want new content in a new inode", after.content, after.ino, before.ino)
	}
	if b, _ := os.ReadFile(held); string(b) != "old-token" {
		t.Errorf("the old file now holds %q: it was written in place", b)
	}
	if extra := leftovers(t, dir, "DEPLOY_TOKEN", "held"); len(extra) > 0 {
		t.Errorf("left in the directory: %v", extra)
	}

	failures := []struct {
		name string
		set  func() func()
		args map[string]any
		msg  string
	}{
		{name: "sync fails", set: func() func() {
			old := syncFile
			syncFile = func(*os.File) error { return &fs.PathError{Op: "sync", Path: "x", Err: syscall.EIO} }
			return func() { syncFile = old }
		}, msg: "path: cannot sync a new file in " + dir + " to disk: input/output error"},
		{name: "chown not permitted", set: func() func() {
			old := chown
			chown = func(*os.File, int, int) error { return &fs.PathError{Op: "fchown", Path: "x", Err: syscall.EPERM} }
			return func() { chown = old }
		}, args: map[string]any{"owner": "4242"},
			msg: "owner: cannot give " + path + " to uid 4242: operation not permitted; run the task with become: true, or as a user allowed to"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			restore := f.set()
			defer restore()
			res := call(t, with(f.args, "path", path, "token", "newer-token"))
			wantFields(t, res, map[string]any{"failed": true, "changed": false, "msg": f.msg})
			if got, _ := statFile(t, path); got.content != "new-token" || got.ino != after.ino {
				t.Errorf("after the failure the file holds %q (inode %d); want it untouched", got.content, got.ino)
			}
			if extra := leftovers(t, dir, "DEPLOY_TOKEN", "held"); len(extra) > 0 {
				t.Errorf("left in the directory: %v", extra)
			}
		})
	}
}

func TestOwnerAndGroup(t *testing.T) {
	t.Parallel()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	t.Run("names and numbers of this user", func(t *testing.T) {
		t.Parallel()
		for _, owner := range [][2]string{{me.Username, grp.Name}, {me.Uid, grp.Gid}} {
			path := filepath.Join(t.TempDir(), "DEPLOY_TOKEN")
			res := call(t, map[string]any{"path": path, "token": "t", "owner": owner[0], "group": owner[1]})
			wantFields(t, res, map[string]any{"failed": false, "changed": true})
			if got, _ := statFile(t, path); got.uid != uid || got.gid != gid {
				t.Errorf("%v: file belongs to %d:%d, want %d:%d", owner, got.uid, got.gid, uid, gid)
			}
			wantFields(t, call(t, map[string]any{"path": path, "token": "t", "owner": owner[0], "group": owner[1]}), map[string]any{"changed": false})
		}
	})
	if uid != 0 {
		t.Run("another user, not permitted", func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "DEPLOY_TOKEN")
			res := call(t, map[string]any{"path": path, "token": "t", "owner": "0"})
			wantFields(t, res, map[string]any{"failed": true,
				"msg": "owner: cannot give " + path + " to uid 0: operation not permitted; run the task with become: true, or as a user allowed to"})
			if _, exists := statFile(t, path); exists {
				t.Error("the file was written")
			}
		})
		return
	}
	// As root: give the file away, and keep the owner of a replaced file.
	t.Run("give away", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "DEPLOY_TOKEN")
		res := call(t, map[string]any{"path": path, "token": "t", "owner": "4242", "group": "4343"})
		wantFields(t, res, map[string]any{"failed": false, "changed": true})
		if got, _ := statFile(t, path); got.uid != 4242 || got.gid != 4343 {
			t.Errorf("file belongs to %d:%d, want 4242:4343", got.uid, got.gid)
		}
		wantFields(t, call(t, map[string]any{"path": path, "token": "t", "owner": "4242", "group": "4343"}), map[string]any{"changed": false})
		// Another owner is a change; the group, not given, is kept.
		wantFields(t, call(t, map[string]any{"path": path, "token": "t", "owner": "4244"}), map[string]any{"changed": true})
		if got, _ := statFile(t, path); got.uid != 4244 || got.gid != 4343 {
			t.Errorf("file belongs to %d:%d, want 4244:4343", got.uid, got.gid)
		}
	})
	t.Run("replaced file keeps its owner", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "DEPLOY_TOKEN")
		writeFile(t, path, "old", 0o640)
		if err := os.Chown(path, 4242, 4343); err != nil {
			t.Fatal(err)
		}
		res := call(t, map[string]any{"path": path})
		wantFields(t, res, map[string]any{"failed": false, "changed": true})
		if got, _ := statFile(t, path); got.uid != 4242 || got.gid != 4343 || got.content != res["token"] {
			t.Errorf("file belongs to %d:%d holding %q, want 4242:4343 holding %v", got.uid, got.gid, got.content, res["token"])
		}
		if res["warnings"] != nil {
			t.Errorf("warnings: %v", res["warnings"])
		}
	})
}

// TestKeepOwnerNotPermitted: a user who may not give files away replaces a
// file of another user; the file is written and a warning says whose it is.
func TestKeepOwnerNotPermitted(t *testing.T) {
	// Not parallel: it swaps the chown seam.
	old := chown
	chown = func(*os.File, int, int) error { return &fs.PathError{Op: "fchown", Path: "x", Err: syscall.EPERM} }
	defer func() { chown = old }()
	path := filepath.Join(t.TempDir(), "DEPLOY_TOKEN")
	writeFile(t, path, "old", 0o640)
	cur, _ := readState(path)
	cur.uid = os.Geteuid() + 1 // as if it belonged to someone else
	m := &ansible.Module{Name: "deploy_token"}
	if err := writeAtomic(m, path, cur, fileState{content: []byte("new"), mode: 0o640, uid: -1, gid: -1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := statFile(t, path); got.content != "new" {
		t.Errorf("file holds %q, want new", got.content)
	}
	// Through the protocol, where the warning shows; only root can make a
	// file of another user to replace.
	writeFile(t, path, "old", 0o640)
	if os.Geteuid() == 0 {
		if err := os.Chown(path, 4242, -1); err != nil {
			t.Fatal(err)
		}
		res := call(t, map[string]any{"path": path, "token": "new"})
		wantFields(t, res, map[string]any{"failed": false, "changed": true,
			"warnings": []any{"path: " + path + " belonged to uid 4242; this user may not give files away, so the new file belongs to this user: set owner and group, or run the task with become: true"}})
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

func TestUnwritableDirectory(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root writes to any directory")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	path := filepath.Join(dir, "DEPLOY_TOKEN")
	res := call(t, map[string]any{"path": path})
	wantFields(t, res, map[string]any{"failed": true,
		"msg": "path: cannot create a file in " + dir + ": permission denied; run the task with become: true, or as a user allowed to"})
}
