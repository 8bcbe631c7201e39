package haproxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// checkApp answers HAProxy's health checks on /health: 500 to the first
// failFirst of them, then 200 (failFirst < 0: 500 forever).
func checkApp(t *testing.T, failFirst int64) (addr string, checks *atomic.Int64) {
	checks = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := checks.Add(1)
		if failFirst < 0 || n <= failFirst {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), checks
}

// TestReadyFailsFast registers two servers leaving maintenance through
// real HAProxy: one that answers 500 to every check fails after the first
// pass of checks and fail_after_checks more, naming L7STS/500, long before
// the timeout; one that fails its first two checks and then passes (a slow
// boot) comes UP.
func TestReadyFailsFast(t *testing.T) {
	const (
		inter      = time.Second // the servers' "inter 1000"
		failAfter  = 3
		timeoutSec = 60
	)
	coll := ansibletest.Install(t)
	broken, _ := checkApp(t, -1)
	slow, slowChecks := checkApp(t, 2)
	params := "check inter 1000 rise 2 fall 2"
	h := haproxytest.Start(t, haproxytest.Config{Backends: []haproxytest.Backend{{
		Name:  "www",
		Lines: []string{"option httpchk GET /health"},
		Servers: []haproxytest.Server{
			{Name: "web1", Addr: broken, Params: params},
			{Name: "web2", Addr: slow, Params: params},
		},
	}}})
	h.Command(t, "set server www/web1 state maint")
	h.Command(t, "set server www/web2 state maint")
	slowChecks.Store(0) // checks before maintenance do not count: in maint HAProxy checks nothing

	run := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - name: never healthy
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        backend: www
        server: web1
        state: ready
        timeout: "{{ task_timeout }}"
        check_interval: "{{ inter }}"
        fail_after_checks: "{{ fail_after }}"
      ignore_errors: true
    - name: slow boot
      zerodowntime.rolling.haproxy_maint:
        socket: "{{ sock }}"
        backend: www
        server: web2
        state: ready
        timeout: "{{ task_timeout }}"
        check_interval: "{{ inter }}"
        fail_after_checks: "{{ fail_after }}"
`, ansibletest.Vars(map[string]any{"sock": h.Socket, "task_timeout": timeoutSec, "inter": inter.Seconds(), "fail_after": failAfter}))

	res := run.Localhost(t, "never healthy")
	msg, _ := res["msg"].(string)
	if res["failed"] != true || !strings.Contains(msg, "L7STS/500") || !strings.Contains(msg, "server web1 in backend www") {
		t.Fatalf("never healthy: want a failure naming web1 and L7STS/500, got %v", res)
	}
	// The first pass of checks (one interval) is not counted, then
	// fail_after_checks intervals of failed checks; one more interval covers
	// the polling and HAProxy's spread of its checks.
	waited := time.Duration(res["waited"].(float64) * float64(time.Second))
	lo, hi := inter*(1+failAfter), inter*(1+failAfter+1)
	if waited < lo || waited > hi {
		t.Errorf("never healthy failed after %s, want between %s and %s (timeout %ds); msg: %s", waited, lo, hi, timeoutSec, msg)
	}
	t.Logf("never healthy failed after %s: %s", waited, msg)
	if st := h.ServerStat(t, "www", "web1")["status"]; !strings.HasPrefix(st, "DOWN") {
		t.Errorf("web1 is %s after the failure, want DOWN (out of traffic)", st)
	}

	res = run.Localhost(t, "slow boot")
	if res["failed"] == true {
		t.Fatalf("slow boot failed: %v", res["msg"])
	}
	if st := h.ServerStat(t, "www", "web2")["status"]; st != "UP" {
		t.Errorf("slow boot: web2 is %s, want UP", st)
	}
	if n := slowChecks.Load(); n < 3 {
		t.Errorf("slow boot: web2 saw %d checks, want its 2 failed ones and a pass", n)
	}
}
