package hetzner_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
)

// TestHealthFileSymlinkRefused: a symbolic link at health_file, dangling or
// to an existing file, is refused with an error naming health_file, before
// anything changes: a drain must not create the file the link names (root
// writing /etc/nologin through a link the app's user planted), and a
// register must remove neither the link's target nor, silently, the link.
func TestHealthFileSymlinkRefused(t *testing.T) {
	tests := []struct {
		name     string
		module   string
		dangling bool
		targets  []lbtest.HTarget
	}{
		{name: "drain, dangling link", module: "lb_drain", dangling: true, targets: []lbtest.HTarget{lbtest.H42, lbtest.H43}},
		{name: "drain, link to a file", module: "lb_drain", targets: []lbtest.HTarget{lbtest.H42, lbtest.H43}},
		{name: "register, link to a file", module: "lb_register", targets: []lbtest.HTarget{lbtest.H42Unhealthy, lbtest.H43}},
		{name: "register, dangling link", module: "lb_register", dangling: true, targets: []lbtest.HTarget{lbtest.H42Unhealthy, lbtest.H43}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(dir, "nologin")
			if !tt.dangling {
				if err := os.WriteFile(victim, []byte("keep\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			healthFile := filepath.Join(dir, "maintenance")
			if err := os.Symlink(victim, healthFile); err != nil {
				t.Fatal(err)
			}
			// Only the lookups: nothing is changed at the load balancer.
			srv := lbtest.New(t, lbtest.HetznerLookups(tt.targets...)...)
			r := lbtest.RunModule(t, tt.module, lbtest.HetznerArgs(srv, map[string]any{"method": "health", "health_file": healthFile}))
			lbtest.CheckRun(t, r, true, false, []string{"health_file: " + healthFile + " is a symbolic link (to " + victim + ")"}, "")
			if r.Out["changed"] != false {
				t.Errorf("changed = %v, want false", r.Out["changed"])
			}
			b, err := os.ReadFile(victim)
			switch {
			case tt.dangling && err == nil:
				t.Errorf("the link's target was created through the link: %q", b)
			case !tt.dangling && string(b) != "keep\n":
				t.Errorf("the link's target now holds %q (%v), want it untouched", b, err)
			}
			if dest, err := os.Readlink(healthFile); err != nil || dest != victim {
				t.Errorf("the link is now %q (%v), want it left as it was", dest, err)
			}
		})
	}
}
