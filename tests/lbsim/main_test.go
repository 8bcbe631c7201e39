package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

// TestMain lets TestSIGTERM run the real main in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("LBSIM_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"lbsim"}, os.Args[len(os.Args)-2:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testConfig uses hosts no other test here uses, ephemeral ports only.
const testConfig = `
hetzner:
  token: tok
  servers: [{id: 1, name: a, address: 127.2.0.1}]
  load_balancers:
    - id: 1
      name: lb
      services: [{listen_port: 0, destination_port: 9, health_check: {interval: 1s}}]
      targets: [{type: server, server: {id: 1}}]
`

func writeConfig(t *testing.T) string {
	p := t.TempDir() + "/lbsim.yml"
	if err := os.WriteFile(p, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"config file", []string{"-config", ""}, ""},
		{"missing file", []string{"-config", "/nonexistent.yml"}, "no such file"},
		{"bad flag", []string{"-bogus"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.args) == 2 && tc.args[1] == "" {
				tc.args[1] = writeConfig(t)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() { done <- run(ctx, tc.args, pw, io.Discard); pw.Close() }()
			if tc.wantErr != "" {
				err := <-done
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.wantErr)) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			line, err := bufio.NewReader(pr).ReadBytes('\n')
			if err != nil {
				t.Fatal(err)
			}
			var ep sim.Endpoints
			if err := json.Unmarshal(line, &ep); err != nil {
				t.Fatalf("startup line %q: %v", line, err)
			}
			if ep.HetznerToken != "tok" || ep.Services[0].LoadBalancer != "lb" || ep.Metadata["a"] == "" {
				t.Errorf("endpoints = %+v", ep)
			}
			resp, err := http.Get(ep.Admin + "/healthz")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("admin healthz: %v", err)
			}
			resp.Body.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run after cancel: %v", err)
			}
		})
	}
}

func TestDefaultConfigParses(t *testing.T) {
	if _, err := sim.Parse(defaultConfig); err != nil {
		t.Fatal(err)
	}
}

// TestSIGTERM runs the real main in a child process: one JSON line on
// stdout, then exit 0 on SIGTERM.
func TestSIGTERM(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-config", writeConfig(t))
	cmd.Env = append(os.Environ(), "LBSIM_TEST_RUN_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no startup line: %v; stderr: %s", err, stderr.String())
	}
	var ep sim.Endpoints
	if err := json.Unmarshal(line, &ep); err != nil || ep.HetznerAPI == "" {
		t.Fatalf("startup line %q: %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("lbsim did not exit within 5s of SIGTERM")
	}
}
