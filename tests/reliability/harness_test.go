package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zerodowntime/rolling/tests/childproc"
	"github.com/zerodowntime/rolling/tests/rollout"
)

// apiRecorder is a reverse proxy in front of one lbsim API that counts the
// answers the modules got, by status. lbsim counts requests per operation
// but not per answer; the 429s and 5xx the modules rode out are only
// visible on the wire.
type apiRecorder struct {
	srv  *http.Server
	ln   net.Listener
	base string // http://127.0.0.1:port

	mu       sync.Mutex
	byStatus map[int]int64
	throttle int64 // Hetzner 429, AWS 400 Throttling
}

func startRecorder(target string) (*apiRecorder, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	u.Path = ""
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &apiRecorder{ln: ln, base: "http://" + ln.Addr().String(), byStatus: map[int]int64{}}
	// The Host header stays the proxy's: AWS SigV4 signs it, and lbsim
	// checks the signature against the Host it receives.
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 32}
	p.ModifyResponse = func(resp *http.Response) error {
		throttled := resp.StatusCode == http.StatusTooManyRequests
		if resp.StatusCode == http.StatusBadRequest {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			throttled = bytes.Contains(b, []byte("<Code>Throttling</Code>"))
		}
		r.mu.Lock()
		r.byStatus[resp.StatusCode]++
		if throttled {
			r.throttle++
		}
		r.mu.Unlock()
		return nil
	}
	r.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// apiCounts is what a recorder saw.
type apiCounts struct {
	Requests int64         `json:"requests"`
	Throttle int64         `json:"throttled"` // 429 / Throttling
	Errors5x int64         `json:"5xx"`
	ByStatus map[int]int64 `json:"by_status"`
}

func (r *apiRecorder) counts() apiCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := apiCounts{Throttle: r.throttle, ByStatus: map[int]int64{}}
	for k, v := range r.byStatus {
		c.ByStatus[k] = v
		c.Requests += v
		if k >= 500 {
			c.Errors5x += v
		}
	}
	return c
}

func (r *apiRecorder) close() { _ = r.srv.Close() }

// monitor polls the load balancer's view of every host while a rollout runs
// and keeps the fewest hosts in rotation at once.
type monitor struct {
	stop chan struct{}
	done chan struct{}

	mu          sync.Mutex
	polls       int
	minIn       int
	minInAt     map[string]rollout.TargetState
	everOut     map[string]bool
	outTogether int // most hosts out of rotation at once
	onPoll      []func(map[string]rollout.TargetState)
}

func startMonitor(s *rollout.Scenario, every time.Duration) *monitor {
	m := &monitor{stop: make(chan struct{}), done: make(chan struct{}), minIn: len(s.Hosts) + 1, everOut: map[string]bool{}}
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			st, err := s.LBStates()
			if err == nil {
				m.observe(st)
			}
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *monitor) observe(st map[string]rollout.TargetState) {
	m.mu.Lock()
	in, out := 0, 0
	for h, ts := range st {
		if ts.InRotation {
			in++
		} else {
			out++
			m.everOut[h] = true
		}
	}
	m.polls++
	if in < m.minIn {
		m.minIn, m.minInAt = in, st
	}
	m.outTogether = max(m.outTogether, out)
	hooks := append(([]func(map[string]rollout.TargetState))(nil), m.onPoll...)
	m.mu.Unlock()
	for _, f := range hooks {
		f(st)
	}
}

// wasOut reports whether host has been out of rotation at some poll.
func (m *monitor) wasOut(host string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.everOut[host]
}

// then calls f on every poll from now on.
func (m *monitor) then(f func(map[string]rollout.TargetState)) {
	m.mu.Lock()
	m.onPoll = append(m.onPoll, f)
	m.mu.Unlock()
}

func (m *monitor) close() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

type monitorStats struct {
	Polls       int
	MinIn       int
	MinInAt     map[string]rollout.TargetState
	OutTogether int
}

func (m *monitor) stats() monitorStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return monitorStats{Polls: m.polls, MinIn: m.minIn, MinInAt: m.minInAt, OutTogether: m.outTogether}
}

// kill says how to interrupt the first ansible-playbook run: when When
// holds (polled every 25 ms), send Signal to the playbook alone or, with
// Group, to its whole process group (the forks and the module processes
// too, as a terminal's Ctrl-C or a CI job cancel does).
type kill struct {
	Name   string // "mid-drain of app-2"
	When   func() bool
	Signal syscall.Signal
	Group  bool
}

// killed is what happened to an interrupted run.
type killed struct {
	After    time.Duration // from the start of the run
	ExitCode int
	Signaled string
	Stderr   string
}

// runner runs ansible-playbook with the installed collection's environment
// in its own process group, so that a kill can reach every process of the
// run and nothing else.
type runner struct {
	env    []string
	dir    string
	n      int
	groups []int
	// playbook is the playbook to run: the collection's by default.
	playbook string
}

// close kills whatever is left in the runs' process groups. The apps run
// in their own sessions and are not touched.
func (r *runner) close() {
	for _, g := range r.groups {
		_ = syscall.Kill(-g, syscall.SIGKILL)
	}
}

func (r *runner) run(ctx context.Context, inventory string, vars map[string]any, k *kill) (rollout.PlaybookRun, *killed, error) {
	r.n++
	inv := filepath.Join(r.dir, fmt.Sprintf("inventory-%d.yml", r.n))
	if err := os.WriteFile(inv, []byte(inventory), 0o644); err != nil {
		return rollout.PlaybookRun{}, nil, err
	}
	ev, err := json.Marshal(vars)
	if err != nil {
		return rollout.PlaybookRun{}, nil, err
	}
	pb := r.playbook
	if pb == "" {
		pb = rollout.DeployPlaybook
	}
	cmd := exec.Command("ansible-playbook", "-i", inv, "-e", string(ev), pb)
	cmd.Dir = r.dir
	cmd.Env = r.env
	// Its own group, so a kill can take the forks and modules too; and it
	// dies with the test binary, so a crashed test leaves no rollout going.
	childproc.DieWithParent(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return rollout.PlaybookRun{}, nil, err
	}
	pid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var kd *killed
	var fired chan struct{}
	if k != nil {
		fired = make(chan struct{})
		go func() {
			t := time.NewTicker(25 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if !k.When() {
					continue
				}
				kd = &killed{After: time.Since(start), Signaled: k.Signal.String()}
				if k.Group {
					_ = syscall.Kill(-pid, k.Signal)
					kd.Signaled += " to the process group"
				} else {
					_ = syscall.Kill(pid, k.Signal)
				}
				close(fired)
				return
			}
		}()
	}
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		werr = <-done
	}
	// Forks and modules that outlive a killed ansible-playbook keep
	// running, as they would on a real controller; close ends them.
	r.groups = append(r.groups, pid)
	run := rollout.PlaybookRun{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee):
		run.ExitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			run.ExitCode = 128 + int(ws.Signal())
		}
	case werr != nil:
		return run, nil, werr
	}
	if k != nil {
		select {
		case <-fired:
			kd.ExitCode, kd.Stderr = run.ExitCode, lastLines(run.Stderr, 5)
		default:
			return run, nil, fmt.Errorf("the kill moment (%s) never came: the run ended first (exit %d)\nstderr: %s",
				k.Name, run.ExitCode, lastLines(run.Stderr, 20))
		}
	}
	return run, kd, ctx.Err()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
