package rollout

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Two batches of a serial: 1 play as the json callback writes them: host
// app-1 went through, app-2 failed its verify (and the rescue's drain, for
// a failed register, was skipped: it must not stretch the drain).
const callbackFixture = `[WARNING]: something ansible says first
{
    "plays": [
        {"play": {"name": "deploy"}, "tasks": [
            {"task": {"name": "zerodowntime.rolling.deploy : drain", "duration": {"start": "2026-01-02T03:04:05.000000Z", "end": "2026-01-02T03:04:06.500000Z"}},
             "hosts": {"app-1": {"changed": true}}},
            {"task": {"name": "stop the running version", "duration": {"start": "2026-01-02T03:04:06.600000Z", "end": "2026-01-02T03:04:07.000000Z"}},
             "hosts": {"app-1": {"changed": true}}},
            {"task": {"name": "zerodowntime.rolling.deploy : verify", "duration": {"start": "2026-01-02T03:04:07.750000Z", "end": "2026-01-02T03:04:08Z"}},
             "hosts": {"app-1": {"changed": false}}},
            {"task": {"name": "zerodowntime.rolling.deploy : register", "duration": {"start": "2026-01-02T03:04:08.100000Z", "end": "2026-01-02T03:04:10.100000Z"}},
             "hosts": {"app-1": {"changed": true}}}
        ]},
        {"play": {"name": "deploy"}, "tasks": [
            {"task": {"name": "zerodowntime.rolling.deploy : drain", "duration": {"start": "2026-01-02T03:04:11Z", "end": "2026-01-02T03:04:12Z"}},
             "hosts": {"app-2": {"changed": true}}},
            {"task": {"name": "verify", "duration": {"start": "2026-01-02T03:04:13Z", "end": "2026-01-02T03:04:28Z"}},
             "hosts": {"app-2": {"failed": true, "msg": "token: got \"stale\""}}},
            {"task": {"name": "zerodowntime.rolling.deploy : drain", "duration": {"start": "2026-01-02T03:04:28Z", "end": "2026-01-02T03:04:28Z"}},
             "hosts": {"app-2": {"skipped": true}}},
            {"task": {"name": "zerodowntime.rolling.deploy : rollout failed", "duration": {"start": "2026-01-02T03:04:28Z", "end": "2026-01-02T03:04:28.1Z"}},
             "hosts": {"app-2": {"failed": true, "msg": "app-2: verify failed: served token \"stale\""}}}
        ]}
    ],
    "stats": {"app-1": {"ok": 4}, "app-2": {"failures": 1}}
}
`

func TestCallbackDocAndTable(t *testing.T) {
	doc, rest, err := parseCallback(callbackFixture + summaryFixture)
	if err != nil {
		t.Fatal(err)
	}
	if got := summaryTable(rest); got != strings.TrimSpace(summaryFixture) {
		t.Errorf("table after the document = %q, want %q", got, summaryFixture)
	}
	host, msg := doc.failure()
	if host != "app-2" || !strings.Contains(msg, "stale") {
		t.Errorf("failure = %s %q, want app-2 and the rollout failed msg", host, msg)
	}
	if d := doc.results("drain"); len(d) != 2 || d["app-3"] != nil {
		t.Errorf("drain results for %v, want app-1 and app-2", d)
	}
}

// summaryFixture is what the rollout callback prints after the json
// callback's document.
const summaryFixture = `ROLLOUT SUMMARY, 23.0 s
host   drain  deploy  verify  register  watch  before  after  load balancers   result
app-1   1.5s    1.3s    0.3s      2.0s      -  -       v2     haproxy app@lb1  ok
`

func TestCallbackFailureFallsBackToFailedTask(t *testing.T) {
	doc, _, err := parseCallback(`{"plays": [{"tasks": [
		{"task": {"name": "drain"}, "hosts": {"app-1": {"failed": true, "msg": "socket not found"}}}]}], "stats": {}}`)
	if err != nil {
		t.Fatal(err)
	}
	host, msg := doc.failure()
	if host != "app-1" || msg != `task "drain": socket not found` {
		t.Errorf("failure = %s %q", host, msg)
	}
}

func TestCallbackNotJSON(t *testing.T) {
	if _, _, err := parseCallback("ERROR! the playbook could not be found\n"); err == nil {
		t.Fatal("want an error for output that is not the json document")
	}
}

func TestTaskIs(t *testing.T) {
	for _, c := range []struct {
		full, name string
		want       bool
	}{
		{"drain", "drain", true},
		{"zerodowntime.rolling.deploy : drain", "drain", true},
		{"deploy : drain", "drain", true},
		{"drain the host", "drain", false},
		{"zerodowntime.rolling.deploy : rollback verify", "verify", false},
	} {
		if got := taskIs(c.full, c.name); got != c.want {
			t.Errorf("taskIs(%q, %q) = %v", c.full, c.name, got)
		}
	}
}

func TestInventoryAndVars(t *testing.T) {
	s := &Scenario{
		Opts:  Options{LB: "aws", NewVersion: "v2", Broken: map[string]string{"app-2": "nostart"}, Vars: map[string]any{"deploy_serial": 2}},
		Hosts: []Host{{Name: "app-1", Addr: "127.0.5.11:8081", Dir: "/d/app-1", InstanceID: "i-1"}, {Name: "app-2", Addr: "127.0.5.12:8081", Dir: "/d/app-2", InstanceID: "i-2"}},
		bin:   "/d/demoapp",
	}
	var inv struct {
		All struct {
			Vars     map[string]any `yaml:"vars"`
			Children map[string]struct {
				Hosts map[string]map[string]any `yaml:"hosts"`
			} `yaml:"children"`
		} `yaml:"all"`
	}
	if err := yaml.Unmarshal([]byte(s.Inventory()), &inv); err != nil {
		t.Fatal(err)
	}
	app2 := inv.All.Children["app"].Hosts["app-2"]
	for k, want := range map[string]any{
		"app_addr": "127.0.5.12:8081", "app_broken": "nostart", "deploy_lb_target": "i-2",
		"deploy_token_file": "/d/app-2/token", "deploy_verify_token_url": "http://127.0.5.12:8081/token",
	} {
		if app2[k] != want {
			t.Errorf("app-2 %s = %v, want %v", k, app2[k], want)
		}
	}
	if _, ok := inv.All.Children["haproxy"].Hosts["lb1"]; !ok || inv.All.Vars["ansible_connection"] != "local" {
		t.Errorf("inventory: haproxy group %v, vars %v", inv.All.Children["haproxy"], inv.All.Vars)
	}
	s.Sim = nil // Vars reads endpoints only for hetzner/aws with a sim; check the plain keys
	s.Opts.LB = "none-for-test"
	v := s.Vars("/d/deploy.yml", "")
	if v["deploy_tasks_file"] != "/d/deploy.yml" || v["deploy_serial"] != 2 || v["demoapp_bin"] != "/d/demoapp" {
		t.Errorf("vars = %v", v)
	}
	if _, ok := v["deploy_rollback_tasks_file"]; ok {
		t.Errorf("rollback tasks file set without Rollback")
	}
	if v["demoapp_daemon_wait"] != "true" {
		t.Errorf("demoapp_daemon_wait = %v by default, want true (the start waits for the boot)", v["demoapp_daemon_wait"])
	}
	s.Opts.StartNoWait = true
	if v := s.Vars("/d/deploy.yml", ""); v["demoapp_daemon_wait"] != "false" {
		t.Errorf("demoapp_daemon_wait = %v with StartNoWait, want false", v["demoapp_daemon_wait"])
	}
}
