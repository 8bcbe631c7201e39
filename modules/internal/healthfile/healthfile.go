// Package healthfile creates and removes the file whose presence makes an
// application fail its health check: lb_drain and lb_register's health_file
// on the host they run on, and the health_file module on the app host.
//
// The file is created and removed by root in a directory the app's user may
// own, so a symbolic link there is refused, never followed: a dangling link
// would make the module create the file it names (say /etc/nologin), and
// reading through a link would judge the wrong file. Errors name the path
// but not the option; callers prefix it.
package healthfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// Exists tells whether path is there as a regular file.
func Exists(path string) (bool, error) {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return false, nil // ENOTDIR: a file where a directory should be; nothing can be there
	case err != nil:
		return false, fmt.Errorf("cannot inspect %s: %v", path, err)
	case st.Mode()&fs.ModeSymlink != 0:
		dest, _ := os.Readlink(path)
		return false, fmt.Errorf("%s is a symbolic link (to %s), which is neither followed nor removed: "+
			"delete the link, or give the path of the file the application's health check looks for", path, dest)
	case !st.Mode().IsRegular():
		return false, fmt.Errorf("%s is %s, not a regular file; give the path of the file the application's health check looks for",
			path, ansible.FileKind(st.Mode()))
	}
	return true, nil
}

// Create creates path holding content where nothing is; made is false when
// a regular file appeared there meanwhile.
func Create(path, content string) (made bool, err error) {
	// O_EXCL fails on any existing name, a dangling link included, and
	// O_NOFOLLOW says so for a link however the kernel reads O_EXCL.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ELOOP) {
		_, err := Exists(path)
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("cannot create %s: %v", path, err)
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // ours, just made: no half-written file stays
		return false, fmt.Errorf("cannot write %s: %v", path, err)
	}
	return true, nil
}

// Remove removes path if it is a regular file. Should a link replace it
// between the check and the removal, unlink removes the link itself, never
// the file it names.
func Remove(path string) (gone bool, err error) {
	exists, err := Exists(path)
	if err != nil || !exists {
		return false, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("cannot remove %s: %v", path, err)
	}
	return true, nil
}
