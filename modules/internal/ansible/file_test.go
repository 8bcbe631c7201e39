package ansible

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReadRegularFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	link := filepath.Join(dir, "l")
	fifo := filepath.Join(dir, "p")
	if err := os.WriteFile(file, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		max    int64
		follow bool
		want   string
		err    error
	}{
		{path: file, max: 5, want: "12345"},
		{path: file, max: 4, err: ErrTooLarge},
		{path: link, max: 5, follow: true, want: "12345"},
		{path: link, max: 5, err: syscall.ELOOP},
		// A FIFO with no writer: refused at once, not waited on.
		{path: fifo, max: 5, follow: true, err: ErrNotRegular},
		{path: dir, max: 5, err: ErrNotRegular},
		{path: filepath.Join(dir, "missing"), max: 5, err: os.ErrNotExist},
	} {
		data, _, err := ReadRegularFile(c.path, c.max, c.follow)
		if c.err != nil {
			if !errors.Is(err, c.err) || data != nil {
				t.Errorf("ReadRegularFile(%s, %d, %v) = %q, %v; want error %v", c.path, c.max, c.follow, data, err, c.err)
			}
			continue
		}
		if err != nil || string(data) != c.want {
			t.Errorf("ReadRegularFile(%s, %d, %v) = %q, %v; want %q", c.path, c.max, c.follow, data, err, c.want)
		}
	}
}
