package simtest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestWorldStart: a started world has load balancer LBName and target
// group TGARN with every host in rotation under the names AddTargets
// gives, and its listener reaches the backends.
func TestWorldStart(t *testing.T) {
	hosts := Hosts(2)
	w := World{
		HetznerToken: "simtest-token", AWSKeyID: "AKIASIMTEST000000001", AWSSecret: "simtestSecret",
		CheckInterval: 100 * time.Millisecond, CheckTimeout: 500 * time.Millisecond, Retries: 1,
		ActionDelay: 50 * time.Millisecond, DeregistrationDelay: time.Second,
	}.Start(t, hosts)
	if len(w.Backends) != len(hosts) || w.Port == 0 {
		t.Fatalf("backends %v on port %d, want %d", w.Backends, w.Port, len(hosts))
	}
	st := w.Sim.State()
	if len(st.Hetzner.LoadBalancers) != 1 || st.Hetzner.LoadBalancers[0].Name != LBName {
		t.Fatalf("load balancers %+v, want one named %s", st.Hetzner.LoadBalancers, LBName)
	}
	members := st.Hetzner.LoadBalancers[0].Services[0].Members
	for i, h := range hosts {
		if len(members) != len(hosts) || members[i].ServerID != ServerID(i) || members[i].Host != h || !members[i].InRotation {
			t.Errorf("Hetzner members %+v, want %d as server %d in rotation", members, i, ServerID(i))
		}
	}
	if len(st.AWS.TargetGroups) != 1 || st.AWS.TargetGroups[0].ARN != TGARN || st.AWS.TargetGroups[0].Name != TGName {
		t.Fatalf("target groups %+v, want one %s (%s)", st.AWS.TargetGroups, TGName, TGARN)
	}
	targets := st.AWS.TargetGroups[0].Targets
	for i := range hosts {
		if len(targets) != len(hosts) || targets[i].ID != InstanceID(i) || !targets[i].InRotation {
			t.Errorf("AWS targets %+v, want %s in rotation", targets, InstanceID(i))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, body, err := Get(ctx, w.Endpoints.Listeners[0].URL+"/")
	if err != nil || code != http.StatusOK || !strings.HasPrefix(body, "127.") {
		t.Errorf("GET through the listener: %d %q %v, want a backend's name", code, body, err)
	}
}
