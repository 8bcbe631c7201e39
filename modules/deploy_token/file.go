package deploytoken

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
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
	b, now, err := ansible.ReadRegularFile(path, maxRead, false)
	switch {
	case now != nil && !os.SameFile(st, now):
		return nil, errors.New("it was replaced while being read; run the task again")
	case errors.Is(err, ansible.ErrTooLarge):
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
