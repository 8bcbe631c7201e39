package deploytoken

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// fileState is the token file as found, or as wanted. A uid or gid of -1
// means "not asked for" in a wanted state.
type fileState struct {
	exists  bool
	size    int64
	content []byte // nil when the file is too large to compare
	mode    uint32 // permission, setuid, setgid and sticky bits
	uid     int
	gid     int
}

// maxRead bounds what is read of an existing file: a token is far smaller,
// so a larger file differs whatever it holds.
const maxRead = 64 << 10

// readState returns what is at path now. A symbolic link there is refused:
// root writes the token in a directory the app's user may own, where a link
// could point anywhere, and neither writing through it nor silently
// replacing it is what the user asked for.
func readState(path string) (fileState, error) {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fileState{}, fmt.Errorf("path: the directory %s does not exist; create it first (ansible.builtin.file with state: directory) or correct path", dir)
		}
		return fileState{}, fmt.Errorf("path: cannot reach the directory %s: %v%s", dir, reason(err), becomeHint(err))
	} else if !st.IsDir() {
		return fileState{}, fmt.Errorf("path: %s is not a directory, so %s cannot be created in it; correct path", dir, filepath.Base(path))
	}
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{}, nil
	}
	if err != nil {
		return fileState{}, fmt.Errorf("path: cannot inspect %s: %v", path, reason(err))
	}
	s := fileState{exists: true, size: st.Size(), mode: unixMode(st.Mode()), uid: -1, gid: -1}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.uid, s.gid = int(sys.Uid), int(sys.Gid)
	}
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		dest, _ := os.Readlink(path)
		return fileState{}, fmt.Errorf("path: %s is a symbolic link (to %s), which is neither followed nor replaced; "+
			"delete the link, or give the path of the file itself", path, dest)
	case st.IsDir():
		return fileState{}, fmt.Errorf("path: %s is a directory; give the path of the token file in it, such as %s", path, filepath.Join(path, "DEPLOY_TOKEN"))
	case !st.Mode().IsRegular():
		return fileState{}, fmt.Errorf("path: %s is %s, not a regular file; give the path of a file to write", path, ansible.FileKind(st.Mode()))
	}
	if s.size > maxRead {
		return s, nil
	}
	if s.content, err = readFile(path, st); err != nil {
		return fileState{}, fmt.Errorf("path: cannot read %s to compare it: %v%s", path, reason(err), becomeHint(err))
	}
	s.size = int64(len(s.content))
	return s, nil
}

// readFile reads at most maxRead bytes of the regular file found as st,
// without following a link or blocking on a FIFO put there since.
func readFile(path string, st fs.FileInfo) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if now, err := f.Stat(); err != nil {
		return nil, err
	} else if !os.SameFile(st, now) {
		return nil, errors.New("it was replaced while being read; run the task again")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRead+1))
	if err == nil && len(b) > maxRead {
		return nil, errors.New("it grew while being read; run the task again")
	}
	return b, err
}

// matches tells whether the file as found is the file wanted. Ownership
// counts only where owner or group was given.
func (s fileState) matches(want fileState) bool {
	return s.exists && s.content != nil && bytes.Equal(s.content, want.content) &&
		s.mode == want.mode && (want.uid < 0 || s.uid == want.uid) && (want.gid < 0 || s.gid == want.gid)
}

// diffView is a state as the diff shows it.
func (s fileState) diffView(path string, want fileState) map[string]any {
	v := map[string]any{"path": path}
	switch {
	case !s.exists:
		v["state"] = "absent"
		return v
	}
	v["state"] = "file"
	v["mode"] = formatMode(s.mode)
	if s.content != nil && utf8.Valid(s.content) {
		v["content"] = string(s.content)
	} else {
		v["content"] = fmt.Sprintf("(%d bytes, not shown)", s.size)
	}
	if want.uid >= 0 {
		v["owner"] = s.uid
	}
	if want.gid >= 0 {
		v["group"] = s.gid
	}
	return v
}

func diff(path string, cur, want fileState) *ansible.Diff {
	after := want
	after.exists = true
	after.size = int64(len(want.content))
	return &ansible.Diff{Before: cur.diffView(path, want), After: after.diffView(path, want), BeforeHeader: path, AfterHeader: path}
}

// Test seams: where the write can fail after the temporary file exists.
var (
	syncFile = (*os.File).Sync
	chown    = (*os.File).Chown
)

// writeAtomic writes want to path through a temporary file in the same
// directory, with its mode and owner set before a byte is written, synced,
// then renamed over path: readers see the old file or the new one, never a
// part. On any failure the temporary file is removed and path is untouched.
//
// Without owner or group, the new file keeps the owner and group of the file
// it replaces where this user may give it away, as Ansible's atomic_move
// does; where not, it says so in a warning.
func writeAtomic(m *ansible.Module, path string, cur, want fileState) (err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("path: cannot create a file in %s: %v%s", filepath.Clean(dir), reason(err), becomeHint(err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if want.uid >= 0 || want.gid >= 0 {
		if err := chown(f, want.uid, want.gid); err != nil {
			return fmt.Errorf("%s: cannot give %s to %s: %v%s", ownerOptions(want), path, ownerText(want.uid, want.gid), reason(err), becomeHint(err))
		}
	}
	if keep := preserved(f, cur, want); keep.uid >= 0 || keep.gid >= 0 {
		if err := chown(f, keep.uid, keep.gid); err != nil {
			if !errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("path: cannot keep the owner of %s (%s): %v", path, ownerText(keep.uid, keep.gid), reason(err))
			}
			m.Warn("path: %s belonged to %s; this user may not give files away, so the new file belongs to this user: "+
				"set owner and group, or run the task with become: true", path, ownerText(keep.uid, keep.gid))
		}
	}
	// Chmod after chown, which may clear mode bits; fchmod ignores the umask.
	if err := f.Chmod(fs.FileMode(want.mode)); err != nil {
		return fmt.Errorf("mode: cannot set %s on a new file in %s: %v", formatMode(want.mode), filepath.Clean(dir), reason(err))
	}
	if _, err := f.Write(want.content); err != nil {
		return fmt.Errorf("path: cannot write a new file in %s: %v", filepath.Clean(dir), reason(err))
	}
	if err := syncFile(f); err != nil {
		return fmt.Errorf("path: cannot sync a new file in %s to disk: %v", filepath.Clean(dir), reason(err))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("path: cannot write a new file in %s: %v", filepath.Clean(dir), reason(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("path: cannot replace %s: %v%s", path, reason(err), becomeHint(err))
	}
	// The rename itself lasts once the directory is synced. Some file
	// systems refuse to sync a directory; the file is in place regardless.
	if d, err := os.Open(filepath.Clean(dir)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// preserved is the ownership of the replaced file that want does not set
// and the new file f does not have already.
func preserved(f *os.File, cur, want fileState) fileState {
	keep := fileState{uid: -1, gid: -1}
	if !cur.exists || cur.uid < 0 {
		return keep
	}
	uid, gid := os.Geteuid(), os.Getegid()
	if st, err := f.Stat(); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(sys.Uid), int(sys.Gid) // gid differs in a setgid directory
		}
	}
	if want.uid < 0 && cur.uid != uid {
		keep.uid = cur.uid
	}
	if want.gid < 0 && cur.gid != gid {
		keep.gid = cur.gid
	}
	return keep
}

func ownerOptions(want fileState) string {
	switch {
	case want.uid >= 0 && want.gid >= 0:
		return "owner/group"
	case want.uid >= 0:
		return "owner"
	}
	return "group"
}

func ownerText(uid, gid int) string {
	var parts []string
	if uid >= 0 {
		parts = append(parts, "uid "+strconv.Itoa(uid))
	}
	if gid >= 0 {
		parts = append(parts, "gid "+strconv.Itoa(gid))
	}
	return strings.Join(parts, ", ")
}

// lookupOwner resolves owner, a user name or a numeric uid.
func lookupOwner(name string) (int, error) {
	return lookupID("owner", "user", "uid", "passwd", name, func(n string) (string, error) {
		u, err := user.Lookup(n)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	})
}

// lookupGroup resolves group, a group name or a numeric gid.
func lookupGroup(name string) (int, error) {
	return lookupID("group", "group", "gid", "group", name, func(n string) (string, error) {
		g, err := user.LookupGroup(n)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	})
}

// lookupID reads the user or group database through os/user and then, for
// names it does not know, through getent: a static build reads only
// /etc/passwd and /etc/group, while service accounts may come from LDAP or
// sssd.
func lookupID(option, what, idName, db, name string, lookup func(string) (string, error)) (int, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return -1, fmt.Errorf("%s: the value is empty; give a %s name or a numeric %s, or omit %s", option, what, idName, option)
	}
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		if id == 1<<32-1 {
			return -1, fmt.Errorf("%s: %d is not a valid %s", option, id, idName)
		}
		return int(id), nil
	}
	id, err := lookup(name)
	if err != nil {
		id, err = getent(db, name)
		if errors.Is(err, errGetentSlow) {
			return -1, fmt.Errorf("%s: %v; give a numeric %s, or fix the host's name service", option, err, idName)
		}
	}
	if err != nil || id == "" {
		return -1, fmt.Errorf("%s: no %s named %q on this host; give an existing %s name or a numeric %s", option, what, name, what, idName)
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return -1, fmt.Errorf("%s: the %s database gives %q the %s %q, which is not a number", option, what, name, idName, id)
	}
	return n, nil
}

// getentTimeout bounds a getent call: a name service that does not answer
// (LDAP, sssd) must not hold the task for ever.
var getentTimeout = 5 * time.Second

// maxEntry bounds what is read of getent's answer, one database entry.
const maxEntry = 64 << 10

var errGetentSlow = errors.New("getent did not answer")

// getent returns the ID of name in a name service database, or "". Only
// the first line of the answer is kept; getent is ended once it is in.
func getent(db, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), getentTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "getent", db, name)
	cmd.WaitDelay = time.Second // a child of getent may hold its output open
	out := &firstLine{done: cancel}
	cmd.Stdout = out
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !out.full {
		return "", fmt.Errorf("%w: looking up %q in the %s database took more than %s", errGetentSlow, name, db, getentTimeout)
	}
	line, _, complete := strings.Cut(string(out.b), "\n")
	if !complete && err != nil {
		return "", err
	}
	fields := strings.Split(line, ":")
	if len(fields) < 3 || fields[0] != name {
		return "", nil
	}
	return fields[2], nil
}

// firstLine keeps what is written up to the first newline, at most
// maxEntry bytes, and calls done when it has it; the rest is discarded.
type firstLine struct {
	b    []byte
	full bool
	done func()
}

func (w *firstLine) Write(p []byte) (int, error) {
	if w.full {
		return len(p), nil
	}
	keep := p[:min(len(p), maxEntry-len(w.b))]
	if i := bytes.IndexByte(keep, '\n'); i >= 0 {
		keep = keep[:i+1]
	}
	w.b = append(w.b, keep...)
	if bytes.HasSuffix(w.b, []byte("\n")) || len(w.b) == maxEntry {
		w.full = true
		w.done()
	}
	return len(p), nil
}

// unixMode turns Go's file mode bits into the Unix ones.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// reason is the system's reason without the operation and path that
// *PathError repeats, since the messages name the path themselves.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

func becomeHint(err error) string {
	if errors.Is(err, fs.ErrPermission) {
		return "; run the task with become: true, or as a user allowed to"
	}
	return ""
}
