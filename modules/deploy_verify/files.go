package deployverify

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// maxPEMFile bounds ca_path, client_cert and client_key. A full CA bundle
// (Debian's ca-certificates.crt) is about 220 KiB.
const maxPEMFile = 1 << 20

// readPEMFile reads the file an option names. It must be a regular file of
// at most maxPEMFile bytes; a symlink to one is fine, as /etc/ssl has many.
// O_NONBLOCK keeps the open of a FIFO from waiting for a writer, so that
// the type check below can refuse it.
func readPEMFile(option, path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %v", option, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %v", option, path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s is not a regular file but %s; give the path of a PEM file", option, path, ansible.FileKind(fi.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %v", option, path, err)
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("%s: %s is larger than %d KiB, which no PEM file needs; give the path of a PEM file", option, path, maxPEMFile>>10)
	}
	return b, nil
}
