package ansible

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// What ReadRegularFile refuses.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("larger than allowed")
)

// ReadRegularFile reads the file at path, at most max bytes of it. Its
// open does not wait for a FIFO's writer and, unless follow, does not
// follow a symbolic link (the error is then syscall.ELOOP). What the open
// found must be a regular file (else ErrNotRegular) of at most max bytes
// (else ErrTooLarge). fi describes the opened file whenever the open
// succeeded, for messages and for callers that compare it with a stat.
func ReadRegularFile(path string, max int64, follow bool) (data []byte, fi fs.FileInfo, err error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fi, ErrNotRegular
	}
	data, err = io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(data)) > max {
		return nil, fi, ErrTooLarge
	}
	return data, fi, err
}

// FileKind names the kind of file m describes, with its article ("a named
// pipe"), for messages about a path where a regular file is wanted.
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

// CheckFilePath refuses a path option that cannot name a file: empty,
// relative (a module's working directory on the host is nothing to rely
// on) or ending with a slash. what names the file ("the token file") and
// example is a path such as the option takes, for the messages.
func CheckFilePath(option, p, what, example string) error {
	dir, base := filepath.Split(example)
	switch {
	case p == "":
		return fmt.Errorf("%s: the value is empty; give the absolute path of %s, such as %s", option, what, example)
	case !filepath.IsAbs(p):
		return fmt.Errorf("%s: %q is relative; give an absolute path, such as %s%s", option, p, dir, filepath.Base(p))
	case strings.HasSuffix(p, "/"):
		return fmt.Errorf("%s: %q ends with /; give the path of %s itself, such as %s%s", option, p, what, p, base)
	}
	return nil
}
