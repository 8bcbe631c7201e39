// Package sshd starts Debian's OpenSSH server on 127.0.0.1 for benchmarks
// that need a real SSH connection: a config, a host key and a throwaway
// client key in a temporary directory, root login by key only, stopped at
// the test's end. Nothing outside the temporary directory is changed except
// /run/sshd (sshd's privilege separation directory), created if missing.
//
// Each Server can give its sessions their own HOME (SetEnv HOME=...), so
// several Servers on one machine look like different hosts to the
// collection's remote cache (~/.ansible/zerodowntime_rolling), and each can
// sit behind a Proxy that counts the bytes the controller sends it.
//
//	srv := sshd.Start(t, sshd.Options{Home: t.TempDir()})
//	inv := "app-1 " + srv.HostVars()
package sshd

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/childproc"
	"github.com/zerodowntime/rolling/tests/syncbuf"
)

// Binary is Debian's sshd.
const Binary = "/usr/sbin/sshd"

// Options configures one server.
type Options struct {
	// Home, if set, is the HOME of every session (it is created).
	Home string
	// Count puts a byte-counting proxy in front of sshd; HostVars then
	// points Ansible at the proxy.
	Count bool
	// Path, if set, is the PATH of every session: a host that lacks some
	// tools.
	Path string
}

// Server is a running sshd.
type Server struct {
	// Port is the port clients connect to: the proxy's with Options.Count,
	// else sshd's own.
	Port int
	// SSHDPort is sshd's own port.
	SSHDPort int
	// Key is the client's private key file; User is always root.
	Key  string
	Home string
	// Proxy counts the bytes through it (nil without Options.Count).
	Proxy *Proxy
	Dir   string

	cmd  *exec.Cmd
	done chan struct{}
	log  *syncbuf.Buffer
}

// Available reports why sshd cannot run here, or "".
func Available() string {
	if _, err := os.Stat(Binary); err != nil {
		return Binary + " not found (apt-get install openssh-server)"
	}
	if os.Geteuid() != 0 {
		return "the SSH benchmarks log in as root and need to run as root"
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		return "ssh-keygen not found"
	}
	return ""
}

// Keys holds a host key and a client key pair shared by several servers.
type Keys struct {
	Dir, HostKey, ClientKey, AuthorizedKeys string
}

// NewKeys generates a host key and a client key into a temporary directory.
func NewKeys(t testing.TB) *Keys {
	t.Helper()
	dir := t.TempDir()
	k := &Keys{Dir: dir, HostKey: filepath.Join(dir, "host_key"), ClientKey: filepath.Join(dir, "client_key"),
		AuthorizedKeys: filepath.Join(dir, "authorized_keys")}
	for _, f := range []string{k.HostKey, k.ClientKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "zdt-bench", "-f", f).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(k.ClientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.AuthorizedKeys, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// Start starts sshd with fresh keys; see StartWith.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if why := Available(); why != "" {
		t.Skip(why)
	}
	return StartWith(t, NewKeys(t), opts)
}

// StartWith starts sshd on an ephemeral port of 127.0.0.1 with the given
// keys, waits until it accepts a login, and stops it when the test ends.
func StartWith(t testing.TB, k *Keys, opts Options) *Server {
	t.Helper()
	if why := Available(); why != "" {
		t.Skip(why)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("sshd needs /run/sshd: %v", err)
	}
	dir := t.TempDir()
	s := &Server{Key: k.ClientKey, Home: opts.Home, Dir: dir, done: make(chan struct{}), log: &syncbuf.Buffer{}}
	if s.Home != "" {
		if err := os.MkdirAll(s.Home, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "ListenAddress 127.0.0.1\nHostKey %s\nPidFile none\nAuthorizedKeysFile %s\n", k.HostKey, k.AuthorizedKeys)
	cfg.WriteString("PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n" +
		"KbdInteractiveAuthentication no\nUsePAM no\n" +
		// The keys live in a temporary directory whose modes sshd's
		// StrictModes would reject.
		"StrictModes no\nMaxSessions 50\nMaxStartups 100\nSubsystem sftp internal-sftp\nLogLevel INFO\n")
	// One SetEnv line: sshd keeps the first of a keyword it reads twice.
	var env []string
	if s.Home != "" {
		env = append(env, "HOME="+s.Home)
	}
	if opts.Path != "" {
		env = append(env, "PATH="+opts.Path)
	}
	if len(env) > 0 {
		fmt.Fprintf(&cfg, "SetEnv %s\n", strings.Join(env, " "))
	}
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(Binary, "-f", cfgPath, "-D", "-e", "-p", fmt.Sprint(port))
		cmd.Stdout, cmd.Stderr = s.log, s.log
		// A session's sshd inherits the log pipe and lives as long as its
		// client, such as Ansible's ControlPersist master (60 s): stop
		// must not wait for the pipe once sshd itself has exited.
		cmd.WaitDelay = time.Second
		childproc.DieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", Binary, err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if lastErr = childproc.WaitReady(context.Background(), "sshd on "+addr, 5*time.Second, done, childproc.Listening(addr)); lastErr == nil {
			s.cmd, s.done, s.SSHDPort, s.Port = cmd, done, port, port
			break
		}
		_ = cmd.Process.Kill()
		<-done
	}
	if s.cmd == nil {
		t.Fatalf("sshd did not start: %v\n%s", lastErr, s.log.String())
	}
	t.Cleanup(s.stop)
	if opts.Count {
		p, err := NewProxy(fmt.Sprintf("127.0.0.1:%d", s.SSHDPort))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		s.Proxy, s.Port = p, p.Port()
	}
	// One login proves the key and config before Ansible uses them.
	out, err := exec.Command("ssh", append(s.SSHArgs(), "root@127.0.0.1", "echo ~")...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh to the benchmark sshd: %v\n%s\nsshd log:\n%s", err, out, s.log.String())
	}
	if s.Home != "" && strings.TrimSpace(string(out)) != s.Home {
		t.Fatalf("sshd session HOME is %q, want %q", strings.TrimSpace(string(out)), s.Home)
	}
	if s.Proxy != nil {
		s.Proxy.Reset()
	}
	return s
}

// SSHArgs are ssh(1) options for a login to this server.
func (s *Server) SSHArgs() []string {
	return []string{"-p", fmt.Sprint(s.Port), "-i", s.Key, "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}
}

// HostVars are the inventory variables for an Ansible host reached over
// SSH through this server (INI style, one line).
func (s *Server) HostVars() string {
	return fmt.Sprintf("ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=%d ansible_user=root "+
		"ansible_ssh_private_key_file=%s ansible_python_interpreter=/usr/bin/python3 "+
		"ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'", s.Port, s.Key)
}

// Vars are the same variables as a map, for YAML inventories.
func (s *Server) Vars() map[string]any {
	return map[string]any{
		"ansible_connection":           "ssh",
		"ansible_host":                 "127.0.0.1",
		"ansible_port":                 s.Port,
		"ansible_user":                 "root",
		"ansible_ssh_private_key_file": s.Key,
		"ansible_python_interpreter":   "/usr/bin/python3",
		"ansible_ssh_common_args":      "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
	}
}

// Log is sshd's output so far.
func (s *Server) Log() string { return s.log.String() }

func (s *Server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Proxy is a TCP proxy to one address that counts the bytes each way.
type Proxy struct {
	// Sent counts client -> server bytes (what the controller sent the
	// host), Received server -> client.
	Sent, Received atomic.Int64
	// Conns counts accepted connections.
	Conns atomic.Int64

	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	open   map[net.Conn]struct{}
}

// NewProxy listens on an ephemeral port of 127.0.0.1 and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, open: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Port is the proxy's port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Reset zeroes the counters.
func (p *Proxy) Reset() { p.Sent.Store(0); p.Received.Store(0); p.Conns.Store(0) }

// Close stops accepting and cuts open connections.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.open {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.Conns.Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.pipe(c)
		}()
	}
}

func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.open[c] = struct{}{}
	} else {
		delete(p.open, c)
	}
}

func (p *Proxy) pipe(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	p.track(c, true)
	p.track(s, true)
	defer p.track(c, false)
	defer p.track(s, false)
	done := make(chan struct{}, 2)
	go func() { copyCount(s, c, &p.Sent); s.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { copyCount(c, s, &p.Received); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

func copyCount(dst io.Writer, src io.Reader, n *atomic.Int64) {
	buf := make([]byte, 64<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			n.Add(int64(k))
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
