// Package deploywatch runs zerodowntime.rolling.deploy_watch through real
// ansible-playbook and its action plugin against a real HAProxy carrying
// traffic: a bad server fails the watch early, a good one passes, check
// mode waits for nothing, and the probe takes a baseline.
package deploywatch

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/integration/haproxy/haproxytest"
)

// app answers 500 to every nth request (0: never) on 127.0.53.x, part A's
// loopback net for issue 33.
func app(t *testing.T, ip string, every int64) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := n.Add(1); every > 0 && c%every == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

const playbook = `
- hosts: localhost
  gather_facts: false
  module_defaults:
    zerodowntime.rolling.deploy_watch:
      provider: haproxy
      socket: "{{ sock }}"
      backend: www
      interval: 0.2
  tasks:
    - name: missing server
      zerodowntime.rolling.deploy_watch:
      ignore_errors: true

    - name: good
      zerodowntime.rolling.deploy_watch:
        server: web1
        window: 2
      register: good

    - name: bad
      zerodowntime.rolling.deploy_watch:
        server: web2
        window: 30
      ignore_errors: true

    - name: aws
      zerodowntime.rolling.deploy_watch:
        provider: aws
        target: i-0123456789abcdef0
        target_group_names: [web]
        region: us-east-1
        endpoint_url: http://127.0.0.1:9
        window: 1
      environment:
        AWS_ACCESS_KEY_ID: AKIDEXAMPLE
        AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
      ignore_errors: true

    - name: baseline
      zerodowntime.rolling.deploy_watch:
        provider: none
        probe_url: "http://{{ web1 }}/"
        probe_interval: 0.05
        baseline: true
        window: 1
      register: before

    - name: probe
      zerodowntime.rolling.deploy_watch:
        provider: none
        probe_url: "http://{{ web1 }}/"
        probe_interval: 0.05
        probe_baseline: "{{ before.baseline | default(omit) }}"
        window: 2
`

func TestWatch(t *testing.T) {
	coll := ansibletest.Install(t)
	web1, web2 := app(t, "127.0.53.1", 0), app(t, "127.0.53.2", 5) // web2: 20 % 500s
	h := haproxytest.Start(t, haproxytest.Config{Backends: []haproxytest.Backend{{Name: "www", Servers: []haproxytest.Server{
		{Name: "web1", Addr: web1}, {Name: "web2", Addr: web2},
	}}}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for range 2 {
		go func() {
			c := &http.Client{Timeout: 2 * time.Second}
			for ctx.Err() == nil {
				if resp, err := c.Get("http://" + h.Addr("www") + "/"); err == nil {
					resp.Body.Close()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	vars := ansibletest.Vars(map[string]any{"sock": h.Socket, "web1": web1})

	t.Run("apply", func(t *testing.T) {
		run := coll.Playbook(t, playbook, vars)
		if res := run.Localhost(t, "missing server"); res["failed"] != true ||
			!strings.Contains(res["msg"].(string), "provider is haproxy but all of the following are missing: server") {
			t.Errorf("missing server: %v", res)
		}
		good := run.Localhost(t, "good")
		w, _ := good["watch"].(map[string]any)
		if good["failed"] == true || good["changed"] != false || w["passed"] != true {
			t.Errorf("good: %v", good)
		}
		bad := run.Localhost(t, "bad")
		msg, _ := bad["msg"].(string)
		if bad["failed"] != true || !strings.HasPrefix(msg, "the watch of haproxy backend www, server web2 failed after ") ||
			!strings.Contains(msg, " 5xx, 0 response errors, 0 connection errors), above max_error_ratio 0.05") {
			t.Errorf("bad: %v", bad)
		}
		if w, _ := bad["watch"].(map[string]any); w["passed"] != false || w["elapsed"].(float64) > 10 {
			t.Errorf("bad watch: %v", w)
		}
		t.Logf("bad: %s", msg)
		// The action plugin sends the build with the cloud SDKs for aws:
		// the host build would say it cannot watch a cloud provider.
		if aws := run.Localhost(t, "aws"); aws["failed"] != true || strings.Contains(fmt.Sprint(aws["msg"]), "needs the collection's full module build") {
			t.Errorf("aws: %v", aws["msg"])
		}
		base, _ := run.Localhost(t, "baseline")["baseline"].(map[string]any)
		if base == nil || base["requests"].(float64) < 5 || base["errors"].(float64) != 0 {
			t.Errorf("baseline: %v", run.Localhost(t, "baseline"))
		}
		if res := run.Localhost(t, "probe"); res["failed"] == true {
			t.Errorf("probe: %v", res)
		}
	})

	t.Run("check mode", func(t *testing.T) {
		start := time.Now()
		run := coll.Playbook(t, playbook, vars, ansibletest.Check())
		bad := run.Localhost(t, "bad")
		if bad["failed"] == true || bad["msg"] != "check mode: would watch haproxy backend www, server web2 for 30s, reading every 0.2s; nothing was watched" {
			t.Errorf("bad in check mode: %v", bad)
		}
		if !strings.HasPrefix(run.Localhost(t, "baseline")["msg"].(string), "check mode: would probe http://"+web1+"/ every 0.05s for 1s") {
			t.Errorf("baseline in check mode: %v", run.Localhost(t, "baseline"))
		}
		// The whole play without the windows (2 + 30 + 1 + 2 s).
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("check mode took %s: it waited", d)
		}
	})
}
