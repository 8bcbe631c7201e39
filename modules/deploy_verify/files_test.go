package deployverify

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestPEMFilesBounded: ca_path, client_cert and client_key must be regular
// files of at most 1 MiB. A FIFO used to block the module past its timeout,
// and /dev/zero used to fill the memory; both now fail at once, naming the
// option.
func TestPEMFilesBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ca.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A module stuck in open (the bug) is released when the test ends.
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 2<<20); err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{name: "ca_path FIFO", args: map[string]any{"ca_path": fifo}, want: "ca_path: " + fifo + " is not a regular file but a named pipe"},
		{name: "ca_path /dev/zero", args: map[string]any{"ca_path": "/dev/zero"}, want: "ca_path: /dev/zero is not a regular file but a character device"},
		{name: "ca_path directory", args: map[string]any{"ca_path": dir}, want: "ca_path: " + dir + " is not a regular file but a directory"},
		{name: "ca_path too large", args: map[string]any{"ca_path": big}, want: "ca_path: " + big + " is larger than 1024 KiB"},
		{name: "client_cert FIFO", args: map[string]any{"client_cert": fifo, "client_key": cert}, want: "client_cert: " + fifo + " is not a regular file but a named pipe"},
		{name: "client_key /dev/zero", args: map[string]any{"client_cert": cert, "client_key": "/dev/zero"}, want: "client_key: /dev/zero is not a regular file but a character device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.args["url"] = "https://127.0.0.1:1/"
			// The module fails before its first request; the context only
			// bounds the test when it does not (interrupted after 3 s).
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, _ := verify(t, ctx, tt.args)
			wantFields(t, res, map[string]any{"failed": true, "attempts": nil})
			wantMsg(t, res, tt.want)
		})
	}
}

// TestRequestTimeoutBoundedByTimeout: a request_timeout above timeout does
// not keep the module waiting on a server that never answers until the
// run's hard deadline (timeout plus 10 s).
func TestRequestTimeoutBoundedByTimeout(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, func(_ int, _ http.ResponseWriter, r *http.Request) { pause(r, time.Minute) })
	start := time.Now()
	res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "timeout": 1, "request_timeout": 30})
	elapsed := time.Since(start)
	wantFields(t, res, map[string]any{"failed": true})
	wantMsg(t, res, "did not answer as expected within 1s", "no response within request_timeout")
	// At most timeout for the waits plus timeout for the last request;
	// the hard deadline would be 11 s.
	if elapsed > 6*time.Second {
		t.Errorf("took %s with timeout 1 s: the request outlived the timeout", elapsed.Round(time.Millisecond))
	}
}
