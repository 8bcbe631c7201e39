package sshd

import (
	"os/exec"
	"strings"
	"testing"
)

func TestLoginThroughCountingProxy(t *testing.T) {
	if why := Available(); why != "" {
		t.Skip(why)
	}
	home := t.TempDir()
	s := Start(t, Options{Home: home, Count: true})
	out, err := exec.Command("ssh", append(s.SSHArgs(), "root@127.0.0.1", "head -c 100000 /dev/zero | wc -c; echo $HOME")...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	if f := strings.Fields(string(out)); len(f) != 2 || f[0] != "100000" || f[1] != home {
		t.Fatalf("output %q", out)
	}
	cmd := exec.Command("ssh", append(s.SSHArgs(), "root@127.0.0.1", "cat > /dev/null")...)
	cmd.Stdin = strings.NewReader(strings.Repeat("x", 1<<20))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	if sent := s.Proxy.Sent.Load(); sent < 1<<20 || sent > 1<<20+64<<10 {
		t.Errorf("proxy counted %d bytes sent for 1 MiB of stdin", sent)
	}
	if rcv := s.Proxy.Received.Load(); rcv == 0 {
		t.Errorf("proxy counted no bytes received")
	}
}
