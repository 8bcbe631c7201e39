package lb_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb"
)

// infoPool is a fakePool with a kind and an id, as the providers' pools.
type infoPool struct {
	*fakePool
	kind, id string
}

func (p *infoPool) Kind() string { return p.kind }
func (p *infoPool) ID() string   { return p.id }

// restoreWorld is a Hetzner-like load balancer holding target 1 by its
// private IP, and a target-group-like pool holding it on two ports in an
// availability zone; each with another healthy target.
func restoreWorld(states ...[]lb.Member) (hz, tg *infoPool) {
	private := member("1", lb.StateHealthy)
	private.Opts.UsePrivateIP = true
	hz = &infoPool{fakePool: &fakePool{name: "web-lb", states: [][]lb.Member{{private, member("2", lb.StateHealthy)}}}, kind: "load_balancer", id: "4711"}
	tg = &infoPool{fakePool: &fakePool{name: "web-tg", states: [][]lb.Member{{portMember("1", 8080, "eu-central-1b"), portMember("1", 8081, "eu-central-1b"), portMember("2", 8080, "")}}},
		kind: "target_group", id: "arn:tg/web-tg"}
	return hz, tg
}

func portMember(id string, port int, az string) lb.Member {
	return lb.Member{Target: lb.Target{Type: lb.TypeIP, ID: id, Port: port}, Opts: lb.RegisterOpts{AvailabilityZone: az},
		Health: []lb.PortHealth{{Port: port, State: lb.StateHealthy}}}
}

// wantRestore is the restore result for restoreWorld's target 1.
const wantRestore = `[` +
	`{"availability_zone":null,"kind":"load_balancer","method":"remove","pool":"web-lb","pool_id":"4711","port":null,"target":"1","target_type":"server","use_private_ip":true},` +
	`{"availability_zone":"eu-central-1b","kind":"target_group","method":"remove","pool":"web-tg","pool_id":"arn:tg/web-tg","port":8080,"target":"1","target_type":"ip","use_private_ip":null},` +
	`{"availability_zone":"eu-central-1b","kind":"target_group","method":"remove","pool":"web-tg","pool_id":"arn:tg/web-tg","port":8081,"target":"1","target_type":"ip","use_private_ip":null}]`

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lb_drain returns every registration of the target it takes away, the
// same in check mode, where nothing is called.
func TestDrainReturnsRestore(t *testing.T) {
	for _, check := range []bool{false, true} {
		t.Run(fmt.Sprintf("check_mode=%v", check), func(t *testing.T) {
			hz, tg := restoreWorld()
			hz.states = append(hz.states, []lb.Member{member("2", lb.StateHealthy)})
			tg.states = append(tg.states, []lb.Member{portMember("2", 8080, "")})
			res := runFake(t, true, map[string]any{"_ansible_check_mode": check}, hz, tg)
			if res["failed"] != false || res["changed"] != true {
				t.Fatalf("failed=%v changed=%v: %v", res["failed"], res["changed"], res)
			}
			if got := jsonOf(t, res["restore"]); got != wantRestore {
				t.Errorf("restore =\n%s\nwant\n%s", got, wantRestore)
			}
			if check {
				wantCalls(t, hz.fakePool)
				wantCalls(t, tg.fakePool)
			} else {
				wantCalls(t, hz.fakePool, "deregister 1")
				wantCalls(t, tg.fakePool, "deregister 1", "deregister 1")
			}
		})
	}
}

// An already drained target has nothing to restore.
func TestDrainRestoreEmptyWhenGone(t *testing.T) {
	p := &fakePool{name: "web-lb", states: [][]lb.Member{{member("2", lb.StateHealthy)}}}
	res := runFake(t, true, nil, p)
	if got := jsonOf(t, res["restore"]); got != "[]" {
		t.Errorf("restore = %s, want []", got)
	}
}

func restoreArg(t *testing.T) []any {
	t.Helper()
	var l []any
	if err := json.Unmarshal([]byte(wantRestore), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// lb_register with restore registers exactly the drained registrations:
// the private IP, both ports, the availability zone; a pool without an
// entry is left alone.
func TestRegisterRestores(t *testing.T) {
	hz, tg := restoreWorld()
	private := member("1", lb.StateHealthy)
	private.Opts.UsePrivateIP = true
	hz.states = [][]lb.Member{{member("2", lb.StateHealthy)}, {private, member("2", lb.StateHealthy)}}
	tg.states = [][]lb.Member{{portMember("2", 8080, "")}, {portMember("1", 8080, "eu-central-1b"), portMember("1", 8081, "eu-central-1b"), portMember("2", 8080, "")}}
	other := &infoPool{fakePool: &fakePool{name: "other-lb", states: [][]lb.Member{{member("2", lb.StateHealthy)}}}, kind: "load_balancer", id: "99"}

	res := runFake(t, false, map[string]any{"restore": restoreArg(t)}, hz, tg, other)
	if res["failed"] != false || res["changed"] != true {
		t.Fatalf("failed=%v changed=%v: %v", res["failed"], res["changed"], res)
	}
	want := map[*infoPool]string{
		hz:    "[{{server 1  0} {true }}]",
		tg:    "[{{ip 1  8080} {false eu-central-1b}} {{ip 1  8081} {false eu-central-1b}}]",
		other: "[]",
	}
	for p, w := range want {
		if got := fmt.Sprint(p.registered); got != w {
			t.Errorf("%s: registered %s, want %s", p.name, got, w)
		}
	}
	if got := jsonOf(t, res["restored"]); got != wantRestore {
		t.Errorf("restored =\n%s\nwant\n%s", got, wantRestore)
	}
	if other.reads != 1 {
		t.Errorf("other-lb read %d times, want only at the lookup", other.reads)
	}
	if h := afterState(t, res, 1)["health"]; jsonOf(t, h) != `{"8080":"healthy","8081":"healthy"}` {
		t.Errorf("web-tg after health %v", h)
	}
}

// Idempotent: registrations already there are not made again.
func TestRegisterRestoreAlreadyThere(t *testing.T) {
	hz, tg := restoreWorld()
	res := runFake(t, false, map[string]any{"restore": restoreArg(t)}, hz, tg)
	if res["failed"] != false || res["changed"] != false || jsonOf(t, res["restored"]) != "[]" {
		t.Fatalf("failed=%v changed=%v restored=%v", res["failed"], res["changed"], res["restored"])
	}
	wantCalls(t, hz.fakePool)
	wantCalls(t, tg.fakePool)
}

// One port still there, one gone: only the missing one is registered.
func TestRegisterRestoresMissingPort(t *testing.T) {
	_, tg := restoreWorld()
	tg.states = [][]lb.Member{{portMember("1", 8080, "eu-central-1b"), portMember("2", 8080, "")}, tg.states[0]}
	res := runFake(t, false, map[string]any{"restore": restoreArg(t)[1:]}, tg)
	if res["failed"] != false || res["changed"] != true {
		t.Fatalf("failed=%v changed=%v: %v", res["failed"], res["changed"], res)
	}
	if got := fmt.Sprint(tg.registered); got != "[{{ip 1  8081} {false eu-central-1b}}]" {
		t.Errorf("registered %s", got)
	}
}

// Check mode calls nothing and shows what would be restored.
func TestRegisterRestoreCheckMode(t *testing.T) {
	hz, tg := restoreWorld()
	hz.states = [][]lb.Member{{member("2", lb.StateHealthy)}}
	tg.states = [][]lb.Member{{portMember("2", 8080, "")}}
	other := &infoPool{fakePool: &fakePool{name: "other-lb", states: [][]lb.Member{{member("2", lb.StateHealthy)}}}, kind: "load_balancer", id: "99"}
	res := runFake(t, false, map[string]any{"restore": restoreArg(t), "_ansible_check_mode": true, "_ansible_diff": true}, hz, tg, other)
	if msg, _ := res["msg"].(string); !strings.Contains(msg, "would register server 1 in load balancer web-lb, target group web-tg") ||
		!strings.HasSuffix(msg, "restore has no entry for load balancer other-lb: left as it is there") {
		t.Errorf("msg = %q", msg)
	}
	if res["failed"] != false || res["changed"] != true || jsonOf(t, res["restored"]) != wantRestore {
		t.Fatalf("failed=%v changed=%v restored=%s", res["failed"], res["changed"], jsonOf(t, res["restored"]))
	}
	wantCalls(t, hz.fakePool)
	wantCalls(t, tg.fakePool)
	if h := afterState(t, res, 1)["health"]; jsonOf(t, h) != `{"8080":"healthy","8081":"healthy"}` {
		t.Errorf("predicted web-tg health %v", h)
	}
	diff, _ := res["diff"].(map[string]any)
	if after, _ := diff["after"].(map[string]any); after["web-lb"] == nil || !strings.HasSuffix(diff["after_header"].(string), "(predicted)") {
		t.Errorf("diff = %v", diff)
	}
}

func TestRegisterRestoreRefusesBadEntries(t *testing.T) {
	entry := func(edit func(map[string]any)) []any {
		e := restoreArg(t)[0].(map[string]any)
		edit(e)
		return []any{e}
	}
	cases := []struct {
		name    string
		restore any
		msg     string
	}{
		{"unknown key", entry(func(e map[string]any) { e["weight"] = 3 }), `restore[0] has an unknown key "weight"`},
		{"pool not given", entry(func(e map[string]any) { e["pool_id"] = "12"; e["pool"] = "api-lb" }),
			"restore[0] is for load balancer api-lb (12), which is not one of the pools this task works on: load balancer web-lb (4711)"},
		{"kind differs", entry(func(e map[string]any) { e["kind"] = "target_group" }), "restore[0] is for target group web-lb (4711), which is not one of the pools"},
		{"other target", entry(func(e map[string]any) { e["target"] = "7" }), "restore[0] is for target 7, but target is 1"},
		{"port out of range", entry(func(e map[string]any) { e["port"] = 70000 }), "restore[0].port must be between 1 and 65535, got 70000"},
		{"port not a number", entry(func(e map[string]any) { e["port"] = "http" }), "restore[0].port must be a number or null"},
		{"no pool_id", entry(func(e map[string]any) { delete(e, "pool_id") }), "restore[0] needs pool_id"},
		{"bad method", entry(func(e map[string]any) { e["method"] = "drop" }), `restore[0].method must be one of remove, health, got "drop"`},
		{"use_private_ip not bool", entry(func(e map[string]any) { e["use_private_ip"] = "yes" }), "restore[0].use_private_ip must be true, false or null"},
		{"not a list of dicts", []any{"4711"}, "restore"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hz, _ := restoreWorld()
			hz.states = [][]lb.Member{{member("2", lb.StateHealthy)}}
			res := runFake(t, false, map[string]any{"restore": c.restore}, hz)
			if msg, _ := res["msg"].(string); res["failed"] != true || !strings.Contains(msg, c.msg) {
				t.Errorf("msg = %q, want it to contain %q", msg, c.msg)
			}
			wantCalls(t, hz.fakePool)
		})
	}
}

// An empty restore registers nothing: every pool is left as it is.
func TestRegisterRestoreEmpty(t *testing.T) {
	hz, _ := restoreWorld()
	hz.states = [][]lb.Member{{member("2", lb.StateHealthy)}}
	res := runFake(t, false, map[string]any{"restore": []any{}}, hz)
	if res["failed"] != false || res["changed"] != false {
		t.Fatalf("failed=%v changed=%v: %v", res["failed"], res["changed"], res)
	}
	wantCalls(t, hz.fakePool)
}

// An entry without target_type takes the run's target's type: an IP
// target is registered as one.
func TestRegisterRestoreTypesEntry(t *testing.T) {
	ip := lb.Member{Target: lb.Target{Type: lb.TypeIP, ID: "127.0.0.5"}, Health: []lb.PortHealth{{Port: 80, State: lb.StateHealthy}}}
	p := &infoPool{fakePool: &fakePool{name: "web-lb", states: [][]lb.Member{{member("2", lb.StateHealthy)}, {ip, member("2", lb.StateHealthy)}}}, kind: "load_balancer", id: "4711"}
	res := runFake(t, false, map[string]any{"target": "127.0.0.5", "target_type": "ip",
		"restore": []any{map[string]any{"pool_id": "4711", "target": "127.0.0.5"}}}, p)
	if res["failed"] != false || fmt.Sprint(p.registered) != "[{{ip 127.0.0.5  0} {false }}]" {
		t.Errorf("failed=%v msg=%v registered %v", res["failed"], res["msg"], p.registered)
	}
}
