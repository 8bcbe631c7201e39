// Package size measures the collection's builds: each platform's multi-call
// build (bin/zdt_<os>_<arch>, what the collection ships) against one build
// per module, made here with the Makefile's flags from throwaway main
// packages (ansible.Dispatch of one module's Module). The main packages are
// never written into the repository: go build reads them through -overlay
// from a temporary directory.
//
// Sizes are on disk and gzip -6 (what SSH's zlib compression, Ansible's
// default -C, roughly sends). The last table is what one host receives per
// collection version under each layout, given which modules it runs in a
// zerodowntime.rolling.deploy rollout.
package size

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/bench/benchkit"
)

var (
	platforms = []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64"}
	// Module directories.
	modules = [][2]string{{"deploy_token"}, {"deploy_verify"}, {"haproxy_maint"}, {"lb_drain"}, {"lb_register"}}
	// Builds made here: one per module, and a two-build split (host-side
	// modules vs cloud API modules).
	splits = []struct {
		name string
		mods []string
	}{
		{"deploy_token", []string{"deploy_token"}},
		{"deploy_verify", []string{"deploy_verify"}},
		{"haproxy_maint", []string{"haproxy_maint"}},
		{"lb_drain", []string{"lb_drain"}},
		{"lb_register", []string{"lb_register"}},
		{"host", []string{"deploy_token", "deploy_verify", "haproxy_maint"}},
		{"cloud", []string{"lb_drain", "lb_register"}},
	}
)

type sizes struct{ raw, gz int64 }

func TestBenchSize(t *testing.T) {
	benchkit.Gate(t)
	root := ansibletest.RepoRoot()
	tmp := t.TempDir()

	// One throwaway main per module, overlaid at modules/zdt/sizebench_<name>
	// (inside modules/, so it may import modules/internal/ansible).
	overlay := map[string]string{}
	for _, b := range splits {
		var imports, entries []string
		for i, m := range b.mods {
			imports = append(imports, fmt.Sprintf("\tm%d \"github.com/zerodowntime/rolling/modules/%s\"", i, m))
			entries = append(entries, fmt.Sprintf("m%d.Module", i))
		}
		src := fmt.Sprintf("package main\n\nimport (\n\t\"os\"\n\n\t\"github.com/zerodowntime/rolling/modules/internal/ansible\"\n%s\n)\n\nfunc main() { os.Exit(ansible.Dispatch(%s)) }\n",
			strings.Join(imports, "\n"), strings.Join(entries, ", "))
		f := filepath.Join(tmp, b.name+".go")
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay[filepath.Join(root, "modules", "zdt", "sizebench_"+b.name, "main.go")] = f
	}
	ov, _ := json.Marshal(map[string]any{"Replace": overlay})
	ovPath := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
		t.Fatal(err)
	}

	shipped := map[string]sizes{}
	shippedHost := map[string]sizes{}
	multi := map[string]sizes{}
	per := map[string]map[string]sizes{}
	for _, p := range platforms {
		shipped[p] = sizes{-1, -1}
		if _, err := os.Stat(filepath.Join(root, "bin", "zdt_"+p)); err == nil {
			shipped[p] = measure(t, filepath.Join(root, "bin", "zdt_"+p))
		}
		shippedHost[p] = sizes{-1, -1}
		if _, err := os.Stat(filepath.Join(root, "bin", "zdt-host_"+p)); err == nil {
			shippedHost[p] = measure(t, filepath.Join(root, "bin", "zdt-host_"+p))
		}
		out := filepath.Join(tmp, "zdt_"+p)
		build(t, root, ovPath, p, out, "./modules/zdt")
		multi[p] = measure(t, out)
		per[p] = map[string]sizes{}
		for _, b := range splits {
			out := filepath.Join(tmp, b.name+"_"+p)
			build(t, root, ovPath, p, out, "./modules/zdt/sizebench_"+b.name)
			per[p][b.name] = measure(t, out)
		}
	}

	tb := &benchkit.Table{
		Title: "Build sizes per platform: one multi-call build vs one build per module (go build -trimpath -ldflags='-s -w -buildid=', CGO_ENABLED=0)",
		Head:  []string{"platform", "bin/zdt (shipped)", "bin/zdt-host", "multi-call", "gzip", "deploy_token", "deploy_verify", "haproxy_maint", "lb_drain", "lb_register", "sum of 5", "gzip", "sum/multi"},
	}
	for _, p := range platforms {
		var sum, sumGz int64
		cells := []string{p, benchkit.Bytes(shipped[p].raw), benchkit.Bytes(shippedHost[p].raw), benchkit.Bytes(multi[p].raw), benchkit.Bytes(multi[p].gz)}
		for _, m := range modules {
			s := per[p][m[0]]
			sum, sumGz = sum+s.raw, sumGz+s.gz
			cells = append(cells, benchkit.Bytes(s.raw))
		}
		cells = append(cells, benchkit.Bytes(sum), benchkit.Bytes(sumGz), fmt.Sprintf("%.2fx", float64(sum)/float64(multi[p].raw)))
		tb.Add(cells...)
	}
	tb.Notes = []string{"bin/zdt and bin/zdt-host (shipped) are the repository's bin/ as built by make collection; '-' if not built (zdt-host: Linux only)."}
	tb.Print()

	// What each kind of host receives once per version, linux/amd64, gzip.
	p := "linux_amd64"
	get := func(names ...string) int64 {
		var n int64
		for _, m := range names {
			n += per[p][m].gz
		}
		return n
	}
	hosts := &benchkit.Table{
		Title: "Sent once per host and collection version under each layout (linux/amd64, gzip -6 bytes) in a zerodowntime.rolling.deploy rollout",
		Head:  []string{"host (modules it runs)", "multi-call", "per module", "/multi", "2 builds (host | cloud)", "/multi", "shipped (zdt-host | zdt)", "/multi"},
	}
	for _, h := range []struct {
		name    string
		mods    []string
		split   []string
		shipped sizes // what the action plugins send: the smallest build holding the module, unless the host has one
	}{
		{"app host (deploy_token, deploy_verify)", []string{"deploy_token", "deploy_verify"}, []string{"host"}, shippedHost[p]},
		{"HAProxy host via delegate_to (haproxy_maint)", []string{"haproxy_maint"}, []string{"host"}, shippedHost[p]},
		{"cloud API delegate (lb_drain, lb_register)", []string{"lb_drain", "lb_register"}, []string{"cloud"}, shipped[p]},
		{"one host running all five, lb_drain first", []string{"deploy_token", "deploy_verify", "haproxy_maint", "lb_drain", "lb_register"}, []string{"host", "cloud"}, shipped[p]},
	} {
		n, sp := get(h.mods...), get(h.split...)
		hosts.Add(h.name, benchkit.Bytes(multi[p].gz), benchkit.Bytes(n), fmt.Sprintf("%.2fx", float64(n)/float64(multi[p].gz)),
			benchkit.Bytes(sp), fmt.Sprintf("%.2fx", float64(sp)/float64(multi[p].gz)),
			benchkit.Bytes(h.shipped.gz), fmt.Sprintf("%.2fx", float64(h.shipped.gz)/float64(multi[p].gz)))
	}
	hosts.Notes = []string{fmt.Sprintf("2 builds: host = deploy_token + deploy_verify + haproxy_maint (%s, gzip %s), cloud = lb_drain + lb_register (%s, gzip %s)",
		benchkit.Bytes(per[p]["host"].raw), benchkit.Bytes(per[p]["host"].gz), benchkit.Bytes(per[p]["cloud"].raw), benchkit.Bytes(per[p]["cloud"].gz))}
	hosts.Print()

	// How the builds ship: one xz archive per CPU in the tarball.
	packed := &benchkit.Table{
		Title: "Packing: the builds in the collection tarball (one xz -9 archive per CPU; Galaxy accepts < 20 MB)",
		Head:  []string{"file", "size", "holds (unpacked)", "each build gzip -6, summed"},
	}
	for _, arch := range []string{"amd64", "arm64"} {
		var raw, gz int64
		var names []string
		for _, pat := range []string{"zdt_*_" + arch, "zdt-host_*_" + arch} {
			m, _ := filepath.Glob(filepath.Join(root, "bin", pat))
			for _, f := range m {
				sz := measure(t, f)
				raw, gz = raw+sz.raw, gz+sz.gz
				names = append(names, filepath.Base(f))
			}
		}
		st, err := os.Stat(filepath.Join(root, "bin", "zdt_"+arch+".tar.xz"))
		if err != nil {
			packed.Add("bin/zdt_"+arch+".tar.xz", "not built", "", "")
			continue
		}
		packed.Add("bin/zdt_"+arch+".tar.xz", benchkit.Bytes(st.Size()), fmt.Sprintf("%s in %d builds", benchkit.Bytes(raw), len(names)), benchkit.Bytes(gz))
	}
	packed.Add("collection tarball", tarballSize(root), "", "")
	packed.Print()
}

func build(t *testing.T, root, overlay, platform, out, pkg string) {
	t.Helper()
	goos, goarch, _ := strings.Cut(platform, "_")
	cmd := exec.Command("go", "build", "-overlay", overlay, "-trimpath", "-ldflags=-s -w -buildid=", "-buildvcs=false", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s for %s: %v\n%s", pkg, platform, err, b)
	}
}

func measure(t *testing.T, path string) sizes {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, 6)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return sizes{raw: int64(len(b)), gz: int64(buf.Len())}
}

func tarballSize(root string) string {
	m, _ := filepath.Glob(filepath.Join(root, "collection", "zerodowntime-rolling-*.tar.gz"))
	if len(m) == 0 {
		return "not built"
	}
	st, err := os.Stat(m[len(m)-1])
	if err != nil {
		return "not built"
	}
	return fmt.Sprintf("%s %s", filepath.Base(m[len(m)-1]), benchkit.Bytes(st.Size()))
}
