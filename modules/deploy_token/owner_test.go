package deploytoken

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

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
	// By name, as the role's deploy_token_owner/_group are usually given:
	// the file is theirs, and check mode and diff say so beforehand.
	t.Run("give away by name", func(t *testing.T) {
		t.Parallel()
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Skip("no user nobody on this host")
		}
		nogroup, err := user.LookupGroup("nogroup")
		if err != nil {
			t.Skip("no group nogroup on this host")
		}
		path := filepath.Join(t.TempDir(), "DEPLOY_TOKEN")
		args := map[string]any{"path": path, "token": "t", "owner": "nobody", "group": "nogroup", "_ansible_check_mode": true, "_ansible_diff": true}
		res := call(t, args)
		wantFields(t, res, map[string]any{"failed": false, "changed": true})
		uid, _ := strconv.Atoi(nobody.Uid)
		gid, _ := strconv.Atoi(nogroup.Gid)
		if after, _ := res["diff"].(map[string]any)["after"].(map[string]any); after["owner"] != float64(uid) || after["group"] != float64(gid) {
			t.Errorf("check mode diff after = %v, want owner %d group %d", after, uid, gid)
		}
		if want := fmt.Sprintf("mode 0640 (uid %d, gid %d) (check mode: nothing written)", uid, gid); !strings.Contains(fmt.Sprint(res["msg"]), want) {
			t.Errorf("check mode msg = %v, want the mode, uid and gid", res["msg"])
		}
		if res["uid"] != float64(uid) || res["gid"] != float64(gid) {
			t.Errorf("result uid, gid = %v, %v; want %d, %d", res["uid"], res["gid"], uid, gid)
		}
		if _, exists := statFile(t, path); exists {
			t.Fatal("check mode wrote the file")
		}
		delete(args, "_ansible_check_mode")
		wantFields(t, call(t, args), map[string]any{"changed": true})
		if got, _ := statFile(t, path); got.uid != uid || got.gid != gid || got.mode != 0o640 {
			t.Errorf("file is %d:%d mode %04o, want %d:%d 0640", got.uid, got.gid, got.mode, uid, gid)
		}
		wantFields(t, call(t, args), map[string]any{"changed": false})
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
