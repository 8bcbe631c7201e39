package lbtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// DocOption is an option as a doc stub declares it.
type DocOption struct {
	Type     string   `yaml:"type"`
	Required bool     `yaml:"required"`
	Default  any      `yaml:"default"`
	Choices  []string `yaml:"choices"`
	Aliases  []string `yaml:"aliases"`
	Elements string   `yaml:"elements"`
	NoLog    bool     `yaml:"no_log"`
}

type docBlock struct {
	Options   map[string]DocOption `yaml:"options"`
	Fragments []string             `yaml:"extends_documentation_fragment"`
}

var docRE = regexp.MustCompile(`(?s)DOCUMENTATION = r'''\n(.*?)'''`)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

func readDoc(t testing.TB, path string) docBlock {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := docRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no DOCUMENTATION block", path)
	}
	var d docBlock
	if err := yaml.Unmarshal(m[1], &d); err != nil {
		t.Fatalf("%s: DOCUMENTATION is not YAML: %v", path, err)
	}
	return d
}

// CheckDocs compares the options of plugins/modules/<name>.py, with its
// zerodowntime.rolling doc fragments merged, against spec.
func CheckDocs(t *testing.T, spec ansible.Spec) {
	t.Helper()
	root := repoRoot()
	doc := readDoc(t, filepath.Join(root, "plugins", "modules", spec.Name+".py"))
	opts := map[string]DocOption{}
	for _, f := range doc.Fragments {
		name, ok := strings.CutPrefix(f, "zerodowntime.rolling.")
		if !ok {
			continue
		}
		for k, v := range readDoc(t, filepath.Join(root, "plugins", "doc_fragments", name+".py")).Options {
			opts[k] = v
		}
	}
	for k, v := range doc.Options {
		opts[k] = v
	}
	for name, o := range spec.Options {
		d, ok := opts[name]
		if !ok {
			t.Errorf("%s: option %s is in the spec but not documented", spec.Name, name)
			continue
		}
		want := DocOption{Type: string(o.Type), Required: o.Required, Default: o.Default, Choices: o.Choices,
			Aliases: o.Aliases, Elements: string(o.Elements), NoLog: o.NoLog}
		if got, w := norm(d), norm(want); got != w {
			t.Errorf("%s: option %s documented as\n  %s\nbut the spec says\n  %s", spec.Name, name, got, w)
		}
	}
	for name := range opts {
		if _, ok := spec.Options[name]; !ok {
			t.Errorf("%s: option %s is documented but not in the spec", spec.Name, name)
		}
	}
}

func norm(o DocOption) string {
	sort.Strings(o.Choices)
	sort.Strings(o.Aliases)
	return fmt.Sprintf("type=%s required=%v default=%v choices=%v aliases=%v elements=%s no_log=%v",
		o.Type, o.Required, o.Default, o.Choices, o.Aliases, o.Elements, o.NoLog)
}
