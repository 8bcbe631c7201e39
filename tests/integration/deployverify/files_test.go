package deployverify

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// TestCAPathNotARegularFile: a FIFO or /dev/zero as ca_path fails the task
// at once with an error naming the option. The FIFO used to block the
// module past its timeout until Ansible was killed; /dev/zero grew it to
// gigabytes.
func TestCAPathNotARegularFile(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	fifo := filepath.Join(t.TempDir(), "ca.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Releases a module stuck opening the FIFO (the bug) when the test ends.
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	for _, tc := range []struct{ name, path, want string }{
		{"fifo", fifo, "ca_path: " + fifo + " is not a regular file but a named pipe"},
		{"dev zero", "/dev/zero", "ca_path: /dev/zero is not a regular file but a character device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// timeout 1: the module must end long before Ansible's
			// own limit, which only stops a hung run.
			run, res := coll.AdHoc(t, "zerodowntime.rolling.deploy_verify",
				"url=https://127.0.0.1:1/ timeout=1 ca_path="+tc.path, ansibletest.Timeout(2*time.Minute))
			if run.ExitCode == 0 || res["failed"] != true {
				t.Fatalf("want failure, got exit %d, result %v", run.ExitCode, res)
			}
			if msg, _ := res["msg"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("msg %q lacks %q", msg, tc.want)
			}
			if _, polled := res["attempts"]; polled {
				t.Errorf("the module polled before checking ca_path: %v", res)
			}
		})
	}
}
