package plugin

import (
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/sshd"
)

// swapPlaybook runs deploy_verify, then replaces the cached build it ran
// with a script that leaves a marker, then runs deploy_verify again with
// become: the second task must not run the script.
const swapPlaybook = `
- hosts: target
  gather_facts: false
  tasks:
    - name: verify 1
      zerodowntime.rolling.deploy_verify:
        url: "{{ url }}"
        expect_body: v2
    - name: swap
      ansible.builtin.copy:
        dest: "{{ swap_path }}"
        content: "#!/bin/sh\ntouch '{{ marker }}'\necho '{\"changed\": false, \"swapped\": true}'\n"
        owner: "{{ swap_owner }}"
        mode: "0755"
    - name: verify 2
      zerodowntime.rolling.deploy_verify:
        url: "{{ url }}"
        expect_body: v2
      become: true
      become_method: su
`

// TestSwappedBuildIsNotRun: a cached build replaced between two tasks is
// not run by the second one (with become), whether the replacement belongs
// to the user that runs it (checked in place) or to another user (checked
// in a private copy); the task sends the build again and runs it.
func TestSwappedBuildIsNotRun(t *testing.T) {
	coll := ansibletest.Install(t)
	hostBuild := manifest(t, coll)["zdt-host_linux_amd64"]
	for _, owner := range []string{"root", "nobody"} {
		t.Run("owned by "+owner, func(t *testing.T) {
			home := t.TempDir()
			vars := hostVars(t, sshd.Options{Home: home})
			marker := filepath.Join(t.TempDir(), "swapped build ran")
			vars["marker"] = marker
			vars["swap_owner"] = owner
			vars["swap_path"] = filepath.Join(home, ansibletest.RemoteCacheDir, hostBuild)

			r := coll.Playbook(t, swapPlaybook, ansibletest.Verbose(3), ansibletest.Inventory("target\n"), ansibletest.Vars(vars))

			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the swapped build ran (marker %s exists)", marker)
			}
			res := r.Task("verify 2")["target"]
			if res["failed"] == true || res["status"] != float64(200) || res["swapped"] != nil {
				t.Errorf("verify 2 after the swap: %v, want status 200 from the real build", res)
			}
			var sent []string
			for _, m := range sendRE.FindAllStringSubmatch(r.Stdout, -1) {
				sent = append(sent, m[1])
			}
			if want := []string{hostBuild[:16], hostBuild[:16]}; !slices.Equal(sent, want) {
				t.Errorf("builds sent %v, want the host build by verify 1 and again by verify 2 %v", sent, want)
			}
			if sum, err := ansibletest.FileSHA256(vars["swap_path"].(string)); err != nil || sum != hostBuild {
				t.Errorf("cached build after verify 2: sha256 %s, %v; want %s", sum, err, hostBuild)
			}
		})
	}
}

// TestUntrustedCacheDir: as root, a cache directory, or the .ansible
// above it, that another user owns or that others can write is neither
// used nor changed: the modules run through Ansible's temporary directory
// and the first task says why.
func TestUntrustedCacheDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the cache directory to another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	coll := ansibletest.Install(t)
	hostBuild := manifest(t, coll)["zdt-host_linux_amd64"]
	cases := []struct {
		name string
		bad  string // the directory made untrusted, under the home
		uid  int
		mode os.FileMode
	}{
		{"cache owned by nobody mode 0777", ansibletest.RemoteCacheDir, uid, 0o777},
		{"cache owned by nobody mode 0700", ansibletest.RemoteCacheDir, uid, 0o700},
		{".ansible writable by others", ".ansible", 0, 0o777},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			cache := filepath.Join(home, ansibletest.RemoteCacheDir)
			if err := os.MkdirAll(cache, 0o700); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(t.TempDir(), "planted build ran")
			planted := fmt.Sprintf("#!/bin/sh\ntouch '%s'\necho '{\"changed\": false, \"status\": 200}'\n", marker)
			if err := os.WriteFile(filepath.Join(cache, hostBuild), []byte(planted), 0o777); err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(home, c.bad)
			for _, p := range []string{bad, filepath.Join(cache, hostBuild)} {
				if err := os.Chown(p, c.uid, -1); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(bad, c.mode); err != nil {
				t.Fatal(err)
			}
			vars := hostVars(t, sshd.Options{Home: home})

			r := runPlaybook(t, coll, c.name, ansibletest.Inventory("target\n"), ansibletest.Vars(vars))

			checkFallback(t, r, "cache path "+bad+" on the host is not a directory that only the remote user")
			if _, err := os.Stat(marker); err == nil {
				t.Error("the build planted in the untrusted cache ran")
			}
			st, err := os.Stat(bad)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != c.mode || int(st.Sys().(*syscall.Stat_t).Uid) != c.uid {
				t.Errorf("%s changed to mode %v, owner %d; want %v, %d", bad, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, c.mode, c.uid)
			}
			if b, _ := os.ReadFile(filepath.Join(cache, hostBuild)); !bytes.Equal(b, []byte(planted)) {
				t.Errorf("the planted file in the untrusted cache was replaced")
			}
		})
	}
}

// TestHomeWithSpaceAndDollar: a remote home whose path holds a space and a
// "$" gets its cache there, and nothing is written at the path cut at the
// space (local connection with its own HOME: sshd's SetEnv splits at
// spaces).
func TestHomeWithSpaceAndDollar(t *testing.T) {
	coll := ansibletest.Install(t)
	builds := manifest(t, coll)
	parent := t.TempDir()
	// "$1": Ansible itself expands $NAME of a set variable in its paths.
	home := filepath.Join(parent, "zdt home$1")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	inv := "target ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
	for _, run := range []string{"cold", "warm"} {
		r := runPlaybook(t, coll, run, ansibletest.Inventory(inv), ansibletest.Vars(map[string]any{"url": v2App(t)}),
			ansibletest.Env("HOME="+home))
		if w := r.Task("verify 1")["target"]["warnings"]; w != nil {
			t.Errorf("%s run: warnings %v, want the cache used without one", run, w)
		}
	}
	for _, d := range []string{builds["zdt-host_linux_amd64"], builds["zdt_linux_amd64"]} {
		if sum, err := ansibletest.FileSHA256(filepath.Join(home, ansibletest.RemoteCacheDir, d)); err != nil || sum != d {
			t.Errorf("cached build %s: sha256 %s, %v", d, sum, err)
		}
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != filepath.Base(home) {
		t.Errorf("%s holds %q, want only the home %q (anything else is a write at a truncated path)",
			parent, names, filepath.Base(home))
	}
}

// TestControllerCacheChecked: a build in the controller's cache, or its
// gzip copy, changed without changing its size is made again from the
// collection's archive before it is sent; a *.tmp file a killed writer left
// there an hour ago is removed.
func TestControllerCacheChecked(t *testing.T) {
	coll := ansibletest.Install(t)
	builds := manifest(t, coll)
	xdg := t.TempDir()
	home := t.TempDir()
	vars := hostVars(t, sshd.Options{Home: home})
	run := func(name string) {
		t.Helper()
		// A fresh remote cache: every build is sent.
		if err := os.RemoveAll(filepath.Join(home, ".ansible")); err != nil {
			t.Fatal(err)
		}
		runPlaybook(t, coll, name, ansibletest.Inventory("target\n"), ansibletest.Vars(vars),
			ansibletest.Env("XDG_CACHE_HOME="+xdg))
	}
	cache := filepath.Join(xdg, "zerodowntime_rolling")
	digests := []string{builds["zdt-host_linux_amd64"], builds["zdt_linux_amd64"]}
	corrupt := func(name string) {
		t.Helper()
		path := filepath.Join(cache, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(path, b, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string) {
		t.Helper()
		for _, d := range digests {
			if sum, err := ansibletest.FileSHA256(filepath.Join(cache, d)); err != nil || sum != d {
				t.Errorf("%s: unpacked build %s: sha256 %s, %v", step, d, sum, err)
			}
		}
	}

	run("fill")
	check("fill")
	for _, d := range digests {
		corrupt(d)
		corrupt(d + ".gz")
	}
	old := filepath.Join(cache, digests[0]+".4242.tmp")
	recent := filepath.Join(cache, digests[1]+".4343.tmp")
	for path, age := range map[string]time.Duration{old: 2 * time.Hour, recent: time.Minute} {
		if err := os.WriteFile(path, []byte("cut"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, time.Now().Add(-age), time.Now().Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	run("builds and gzip copies corrupted")
	check("builds and gzip copies corrupted")
	if _, err := os.Lstat(old); !os.IsNotExist(err) {
		t.Errorf("%s, left 2 hours ago, is still there (%v)", old, err)
	}
	if _, err := os.Lstat(recent); err != nil {
		t.Errorf("%s, written a minute ago, was removed: %v", recent, err)
	}

	// Without gzip copies, the builds themselves are compressed: they too
	// must be checked.
	for _, d := range digests {
		corrupt(d)
		if err := os.Remove(filepath.Join(cache, d+".gz")); err != nil {
			t.Fatal(err)
		}
	}
	run("builds corrupted")
	check("builds corrupted")
}
