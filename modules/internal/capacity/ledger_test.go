package capacity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)

func targets(rs []Reservation) string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.Target)
	}
	return strings.Join(ids, ",")
}

func TestLedgerExpiryAndRefresh(t *testing.T) {
	dir := t.TempDir()
	h, err := lockWithin(t, dir, time.Second, "test", web)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	for _, r := range []Reservation{
		{Target: "1", Holder: "pid 1", Expires: t0.Add(time.Minute)},
		{Target: "2", Holder: "pid 2", Expires: t0.Add(5 * time.Second)},
	} {
		if err := h.Reserve(web, r, t0); err != nil {
			t.Fatal(err)
		}
	}
	if rs, err := h.Reservations(web, t0); err != nil || targets(rs) != "1,2" {
		t.Fatalf("reservations = %v, %v; want 1,2", rs, err)
	}
	// Reserving again refreshes the entry, and drops the expired one.
	later := t0.Add(10 * time.Second)
	if err := h.Reserve(web, Reservation{Target: "1", Holder: "pid 3", Expires: later.Add(time.Minute)}, later); err != nil {
		t.Fatal(err)
	}
	rs, err := h.Reservations(web, later)
	if err != nil || len(rs) != 1 || rs[0].Holder != "pid 3" || !rs[0].Expires.Equal(later.Add(time.Minute)) {
		t.Fatalf("after the refresh: %+v, %v", rs, err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, web.ID+".ledger"))
	if strings.Contains(string(data), `"2"`) {
		t.Errorf("the expired entry was kept on write: %s", data)
	}
	// At its expiry an entry no longer counts, written or not.
	if rs, _ := h.Reservations(web, later.Add(time.Minute)); len(rs) != 0 {
		t.Errorf("live at its expiry: %+v", rs)
	}
	had, err := h.Unreserve(web, "1", later)
	if err != nil || !had {
		t.Fatalf("unreserve: %v, %v", had, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, web.ID+".ledger")); !os.IsNotExist(err) {
		t.Errorf("an empty ledger is left behind: %v", err)
	}
	if had, err := h.Unreserve(web, "1", later); err != nil || had {
		t.Errorf("unreserve again: %v, %v", had, err)
	}
}

func TestLedgerOnlyUnderItsLock(t *testing.T) {
	dir := t.TempDir()
	other := NewKey("load balancer api", "hetzner", "https://api.example/v1", "43")
	h, err := lockWithin(t, dir, time.Second, "test", web)
	if err != nil {
		t.Fatal(err)
	}
	err = h.Reserve(other, Reservation{Target: "1", Expires: t0.Add(time.Minute)}, t0)
	if err == nil || !strings.Contains(err.Error(), "ledger of load balancer api is read and written only under its lock") {
		t.Fatalf("reserve in a pool not locked: %v", err)
	}
	h.Release()
	if _, err := h.Reservations(web, t0); err == nil {
		t.Fatal("read after release")
	}
}

func TestLedgerRefusesUnsafeFiles(t *testing.T) {
	cases := map[string]struct {
		setup func(t *testing.T, path string)
		want  string
	}{
		"symlink": {func(t *testing.T, path string) {
			target := filepath.Join(t.TempDir(), "elsewhere")
			os.WriteFile(target, []byte(`{"reservations":[]}`), 0o600)
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, "is a symlink; remove it"},
		"writable by others": {func(t *testing.T, path string) {
			os.WriteFile(path, []byte(`{"reservations":[]}`), 0o600)
			os.Chmod(path, 0o666)
		}, "is writable by group or others"},
		"owned by another user": {func(t *testing.T, path string) {
			os.WriteFile(path, []byte(`{"reservations":[]}`), 0o600)
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Skipf("cannot give the ledger away (needs root): %v", err)
			}
		}, "is not owned by this user"},
		"not a regular file": {func(t *testing.T, path string) { os.Mkdir(path, 0o700) }, "is not a regular file"},
		"garbage":            {func(t *testing.T, path string) { os.WriteFile(path, []byte("{"), 0o600) }, "are not valid"},
		"too large": {func(t *testing.T, path string) {
			os.WriteFile(path, make([]byte, maxLedger+1), 0o600)
		}, "larger than"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, web.ID+".ledger")
			c.setup(t, path)
			h, err := lockWithin(t, dir, time.Second, "test", web)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Release()
			if _, err := h.Reservations(web, t0); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("read: %v, want %q", err, c.want)
			}
			if err := h.Reserve(web, Reservation{Target: "1", Expires: t0.Add(time.Minute)}, t0); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("write: %v, want %q", err, c.want)
			}
		})
	}
}

// A write replaces the ledger (a new file renamed over it), never writes
// through it, and leaves no temporary file.
func TestLedgerWriteReplacesTheFile(t *testing.T) {
	dir := t.TempDir()
	h, err := lockWithin(t, dir, time.Second, "test", web)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	path := filepath.Join(dir, web.ID+".ledger")
	if err := h.Reserve(web, Reservation{Target: "1", Expires: t0.Add(time.Minute)}, t0); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "hardlink")
	if err := os.Link(path, link); err != nil {
		t.Fatal(err)
	}
	if err := h.Reserve(web, Reservation{Target: "2", Expires: t0.Add(time.Minute)}, t0); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(link)
	if strings.Contains(string(old), `"2"`) {
		t.Errorf("the ledger was written in place: %s", old)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ledger mode %v, %v; want 0600", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".ledger-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}
