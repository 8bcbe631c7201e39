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
	"sort"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

var modules = []string{"deploy_verify", "haproxy_maint", "lb_drain", "lb_register"}

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
		"bin/zdt_linux_amd64", "bin/zdt_linux_arm64", "bin/zdt_darwin_amd64", "bin/zdt_darwin_arm64",
		"meta/runtime.yml", "plugins/plugin_utils/binary.py", "roles/deploy/tasks/main.yml",
		"roles/deploy/meta/argument_specs.yml", "playbooks/deploy.yml", "README.md", "LICENSE",
	} {
		if _, ok := have[want]; !ok {
			t.Errorf("the tarball lacks %s", want)
		}
	}
	for _, m := range modules {
		for _, want := range []string{"plugins/modules/" + m + ".py", "plugins/action/" + m + ".py"} {
			if _, ok := have[want]; !ok {
				t.Errorf("the tarball lacks %s", want)
			}
		}
	}
	for name := range have {
		if strings.HasSuffix(name, ".go") || strings.HasPrefix(name, "tests/") || strings.HasPrefix(name, "modules/") ||
			name == "go.mod" || name == "Makefile" || strings.Contains(name, "__pycache__") || strings.HasPrefix(name, ".") {
			t.Errorf("the tarball holds %s, which build_ignore should keep out", name)
		}
	}
	st, _ := f.Stat()
	t.Logf("tarball %s: %.1f MiB, %d entries", coll.Tarball, float64(st.Size())/(1<<20), len(have))
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
	if strings.Join(got, ",") != strings.Join(modules, ",") {
		t.Fatalf("ansible-doc -l lists %v, want exactly %v", got, modules)
	}
}

func TestAnsibleDocShowsEveryModuleAndTheRole(t *testing.T) {
	coll := ansibletest.Install(t)
	for _, m := range modules {
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
	out := ansibleDoc(t, coll, "-t", "role", "zerodowntime.rolling.deploy")
	if !strings.Contains(string(out), "deploy_tasks_file") {
		t.Errorf("ansible-doc -t role does not show the role's inputs:\n%s", out)
	}
}
