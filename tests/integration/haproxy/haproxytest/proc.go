package haproxytest

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zerodowntime/rolling/tests/childproc"
	"github.com/zerodowntime/rolling/tests/syncbuf"
)

// startTimeout bounds how long HAProxy may take to answer on its socket.
const startTimeout = 10 * time.Second

// Proc is a running HAProxy process. It needs no testing.T, so that make
// demo (tests/rollout) starts HAProxy the same way the tests do.
type Proc struct {
	cmd      *exec.Cmd
	out      *syncbuf.Buffer
	done     chan struct{}
	stopOnce sync.Once
}

// Listener opens a listener on a free 127.0.0.1 port for a frontend to
// bind as fd@N, so the port is known before HAProxy starts and nothing can
// take it in between. The caller closes f once HAProxy has started.
func Listener() (addr string, f *os.File, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen for a frontend: %w", err)
	}
	defer l.Close()
	f, err = l.(*net.TCPListener).File()
	if err != nil {
		return "", nil, fmt.Errorf("listener file: %w", err)
	}
	return l.Addr().String(), f, nil
}

// Launch writes config to configPath and starts Binary in the foreground
// with args, then -f configPath -db; files become fd 3 onwards. It returns
// once ready succeeds, or an error with HAProxy's output when HAProxy
// exits first or does not get ready within 10s.
func Launch(ctx context.Context, configPath, config string, args []string, files []*os.File, ready func() error) (*Proc, error) {
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	p := &Proc{out: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(Binary, append(args, "-f", configPath, "-db")...)
	p.cmd.ExtraFiles = files
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	childproc.DieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", Binary, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	if err := childproc.WaitReady(ctx, "haproxy", startTimeout, p.done, ready); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%w\n%s\nconfig:\n%s", err, p.out.String(), config)
	}
	return p, nil
}

// Log is what HAProxy wrote to stdout and stderr so far.
func (p *Proc) Log() string { return p.out.String() }

// Pid is HAProxy's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stop stops HAProxy (SIGTERM, then SIGKILL after 3s) and waits for it.
func (p *Proc) Stop() {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// Command sends one command line to the unix socket at path and returns
// the answer.
func Command(path, line string) (string, error) {
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	return strings.TrimSpace(string(b)), err
}

// Answers is a check for Launch: the socket at path answers "show info".
func Answers(path string) func() error {
	return func() error {
		out, err := Command(path, "show info")
		if err == nil && !strings.Contains(out, "Version:") {
			err = fmt.Errorf("show info on %s: %q", path, out)
		}
		return err
	}
}
