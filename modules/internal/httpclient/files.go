package httpclient

import (
	"errors"
	"fmt"

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
	b, fi, err := ansible.ReadRegularFile(path, maxPEMFile, true)
	switch {
	case errors.Is(err, ansible.ErrNotRegular):
		return nil, fmt.Errorf("%s: %s is not a regular file but %s; give the path of a PEM file", option, path, ansible.FileKind(fi.Mode()))
	case errors.Is(err, ansible.ErrTooLarge):
		return nil, fmt.Errorf("%s: %s is larger than %d KiB, which no PEM file needs; give the path of a PEM file", option, path, maxPEMFile>>10)
	case err != nil:
		return nil, fmt.Errorf("%s: cannot read %s: %v", option, path, err)
	}
	return b, nil
}
