package deploytoken

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

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
