// Package collection checks the built collection as a user meets it: what
// the tarball holds, and what ansible-doc shows.
package collection

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

var modules = []string{"deploy_token", "deploy_verify", "deploy_watch", "haproxy_maint", "health_file", "lb_drain", "lb_register"}

// controllerModules run in their action plugin on the controller: no build
// (rollout_step runs the other modules, each with its own).
var controllerModules = []string{"rollout_step", "run_record"}

// documented is every module ansible-doc shows, sorted.
func documented() []string {
	return slices.Sorted(slices.Values(append(slices.Clone(modules), controllerModules...)))
}

func TestTarballContents(t *testing.T) {
	coll := ansibletest.Install(t)
	f, err := os.Open(coll.Tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	have := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		have[h.Name] = h.Size
	}
	for _, want := range []string{
		"bin/manifest.json", "bin/zdt_amd64.tar.xz", "bin/zdt_arm64.tar.xz",
		"meta/runtime.yml", "plugins/plugin_utils/binary.py", "roles/deploy/tasks/main.yml",
		"plugins/callback/rollout.py", "plugins/plugin_utils/rollout.py",
		"roles/deploy/meta/argument_specs.yml", "playbooks/deploy.yml", "README.md", "LICENSE",
	} {
		if _, ok := have[want]; !ok {
			t.Errorf("the tarball lacks %s", want)
		}
	}
	for _, m := range documented() {
		for _, want := range []string{"plugins/modules/" + m + ".py", "plugins/action/" + m + ".py"} {
			if _, ok := have[want]; !ok {
				t.Errorf("the tarball lacks %s", want)
			}
		}
	}
	for name := range have {
		if strings.HasPrefix(name, "bin/zdt") && !strings.HasSuffix(name, ".tar.xz") {
			t.Errorf("the tarball holds the unpacked build %s: builds ship only in bin/zdt_<arch>.tar.xz", name)
		}
		if strings.HasSuffix(name, ".go") || strings.HasPrefix(name, "tests/") || strings.HasPrefix(name, "modules/") ||
			name == "go.mod" || name == "Makefile" || strings.Contains(name, "__pycache__") || strings.HasPrefix(name, ".") {
			t.Errorf("the tarball holds %s, which build_ignore should keep out", name)
		}
	}
	st, _ := f.Stat()
	t.Logf("tarball %s: %.1f MiB, %d entries", coll.Tarball, float64(st.Size())/(1<<20), len(have))
	// Galaxy refuses uploads above 20 MB.
	if st.Size() >= galaxyLimit {
		t.Errorf("the tarball is %d bytes; Galaxy accepts less than %d", st.Size(), galaxyLimit)
	}
}

const galaxyLimit = 20_000_000

// ansiblePython is the interpreter ansible-playbook runs on (its #! line),
// the one the action plugins run in.
func ansiblePython(t *testing.T) string {
	path, err := exec.LookPath("ansible-playbook")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		t.Fatalf("%s has no #! line", path)
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		return fields[1]
	}
	return fields[0]
}

// TestBuildsUnpack unpacks the installed collection's builds with the action
// plugins' own code into an empty cache, as a controller does at first use,
// and checks that every supported platform has a build of every module and
// that each unpacked build runs (the ones this machine can run) and holds
// what the manifest says.
func TestBuildsUnpack(t *testing.T) {
	coll := ansibletest.Install(t)
	script := `
builds = binary.Builds(sys.argv[1] + '/bin', sys.argv[2])
out = {}
for platform in binary.SUPPORTED_PLATFORMS:
    for module in sys.argv[3].split(','):
        b = builds.candidates(platform, module)[0]
        path = builds.local_path(b)
        with open(path, 'rb') as f:
            actual = hashlib.sha256(f.read()).hexdigest()
        out['%s/%s' % (platform, module)] = {'name': b['name'], 'path': path, 'sha256': b['sha256'], 'actual': actual}
print(json.dumps(out))
`
	cache := t.TempDir()
	out := runBinaryPy(t, coll, nil, script, cache, strings.Join(modules, ","))
	var got map[string]struct{ Name, Path, Sha256 string }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for key, b := range got {
		if !strings.HasPrefix(b.Path, cache) {
			t.Errorf("%s: %s is not in the unpack cache %s", key, b.Path, cache)
			continue
		}
		if sum, err := ansibletest.FileSHA256(b.Path); err != nil || sum != b.Sha256 {
			t.Errorf("%s: unpacked %s has SHA-256 %s (%v), manifest says %s", key, b.Name, sum, err, b.Sha256)
		}
		platform, module, _ := strings.Cut(key, "/")
		if platform != runtime.GOOS+"_"+runtime.GOARCH {
			continue
		}
		list, err := exec.Command(b.Path, "--list").Output()
		if err != nil {
			t.Errorf("%s --list: %v", b.Path, err)
			continue
		}
		var held []string
		if err := json.Unmarshal(list, &held); err != nil || !slices.Contains(held, module) {
			t.Errorf("%s (%s) holds %s, not %s", b.Name, b.Path, list, module)
		}
	}
	// A cache that cannot be created (a read-only home, here a path under a
	// regular file) falls back to the run's temporary directory.
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out = runBinaryPy(t, coll, []string{"ANSIBLE_LOCAL_TEMP=" + t.TempDir()}, script, filepath.Join(blocked, "cache"), "deploy_verify")
	var fallback map[string]struct{ Name, Path, Sha256, Actual string }
	if err := json.Unmarshal(out, &fallback); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	b := fallback["linux_amd64/deploy_verify"]
	// (That directory is gone when the process ends: the script hashed it.)
	if b.Actual != b.Sha256 || !strings.Contains(b.Path, "ansible-local-") {
		t.Errorf("with an unusable cache, %s unpacked to %s (sha256 %s); want it intact in the run's temporary directory", b.Name, b.Path, b.Actual)
	}

	// Host modules get the small build on Linux.
	for _, m := range []string{"deploy_token", "deploy_verify", "deploy_watch", "haproxy_maint", "health_file"} {
		if b := got["linux_amd64/"+m]; !strings.HasPrefix(b.Name, "zdt-host_") {
			t.Errorf("%s on linux_amd64 picks %s, want the zdt-host build", m, b.Name)
		}
	}
}

// runBinaryPy runs script in the controller's Python with the installed
// collection's plugin_utils/binary.py loaded as binary (and hashlib, json
// and sys imported), the collection's root as sys.argv[1] and args after
// it, and returns what it printed.
func runBinaryPy(t *testing.T, coll *ansibletest.Collection, env []string, script string, args ...string) []byte {
	t.Helper()
	root := filepath.Join(coll.CollectionsPath, "ansible_collections", "zerodowntime", "rolling")
	prelude := `
import hashlib, importlib.util, json, sys
# The plugin utils by their paths, under the names the plugins import them by.
def load(name):
    full = 'ansible_collections.zerodowntime.rolling.plugins.plugin_utils.' + name
    spec = importlib.util.spec_from_file_location(full, sys.argv[1] + '/plugins/plugin_utils/' + name + '.py')
    sys.modules[full] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules[full])
    return sys.modules[full]
# binary imports its siblings, which ansible-core 2.19 finds only so.
for sibling in ('compat', 'builds', 'remote_cache', 'record'):
    load(sibling)
binary = load('binary')
`
	cmd := exec.Command(ansiblePython(t), append([]string{"-c", prelude + script, root}, args...)...)
	cmd.Env = append(coll.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python with binary.py %q: %v\n%s", args, err, out)
	}
	return out
}

func ansibleDoc(t *testing.T, coll *ansibletest.Collection, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("ansible-doc", args...)
	cmd.Env = coll.Environ()
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("ansible-doc %v: %v\n%s", args, err, stderr)
	}
	return out
}

func TestAnsibleDocListsTheModulesOnly(t *testing.T) {
	coll := ansibletest.Install(t)
	var list map[string]string
	if err := json.Unmarshal(ansibleDoc(t, coll, "-l", "zerodowntime.rolling", "--json"), &list); err != nil {
		t.Fatal(err)
	}
	var got []string
	for name := range list {
		got = append(got, strings.TrimPrefix(name, "zerodowntime.rolling."))
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(documented(), ",") {
		t.Fatalf("ansible-doc -l lists %v, want exactly %v", got, documented())
	}
}

func TestAnsibleDocShowsEveryModuleTheRoleAndTheCallback(t *testing.T) {
	coll := ansibletest.Install(t)
	for _, m := range documented() {
		var doc map[string]struct {
			Doc struct {
				Options map[string]any `json:"options"`
			} `json:"doc"`
			Examples string `json:"examples"`
			Return   any    `json:"return"`
		}
		if err := json.Unmarshal(ansibleDoc(t, coll, "--json", "zerodowntime.rolling."+m), &doc); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		d := doc["zerodowntime.rolling."+m]
		if len(d.Doc.Options) == 0 || d.Examples == "" || d.Return == nil {
			t.Errorf("%s: ansible-doc shows %d options, examples %t, return %t", m, len(d.Doc.Options), d.Examples != "", d.Return != nil)
		}
	}
	var cb map[string]struct {
		Doc struct {
			Options map[string]any `json:"options"`
		} `json:"doc"`
	}
	if err := json.Unmarshal(ansibleDoc(t, coll, "--json", "-t", "callback", "zerodowntime.rolling.rollout"), &cb); err != nil {
		t.Fatalf("the rollout callback: %v", err)
	}
	if _, ok := cb["zerodowntime.rolling.rollout"].Doc.Options["json_path"]; !ok {
		t.Errorf("ansible-doc -t callback zerodowntime.rolling.rollout shows no json_path: %+v", cb)
	}
	out := ansibleDoc(t, coll, "-t", "role", "zerodowntime.rolling.deploy")
	if !strings.Contains(string(out), "deploy_tasks_file") {
		t.Errorf("ansible-doc -t role does not show the role's inputs:\n%s", out)
	}
}
