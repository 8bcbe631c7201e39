// Package doccheck compares a module's doc stub (plugins/modules/NAME.py,
// with its documentation fragments merged) with the module's Go spec, so
// that what ansible-doc shows cannot drift from what the module accepts.
package doccheck

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// docOption is one option as DOCUMENTATION declares it.
type docOption struct {
	Type     string   `yaml:"type"`
	Elements string   `yaml:"elements"`
	Required bool     `yaml:"required"`
	Default  any      `yaml:"default"`
	Choices  []any    `yaml:"choices"`
	Aliases  []string `yaml:"aliases"`
}

type document struct {
	Module    string               `yaml:"module"`
	Options   map[string]docOption `yaml:"options"`
	Fragments []string             `yaml:"extends_documentation_fragment"`
}

// repoRoot is the repository's top directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..", ".."))
}

// Check fails t for every difference between spec and the doc stub of
// spec.Name.
func Check(t *testing.T, spec ansible.Spec) {
	t.Helper()
	for _, problem := range Compare(spec) {
		t.Error(problem)
	}
}

// Compare returns the differences between spec and its doc stub.
func Compare(spec ansible.Spec) []string {
	root := repoRoot()
	doc, err := load(filepath.Join(root, "plugins", "modules", spec.Name+".py"), "DOCUMENTATION")
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	if doc.Module != spec.Name {
		problems = append(problems, fmt.Sprintf("doc stub says module: %q, spec is %q", doc.Module, spec.Name))
	}
	opts := map[string]docOption{}
	for _, frag := range doc.Fragments {
		name := strings.TrimPrefix(frag, "zerodowntime.rolling.")
		if name == frag {
			continue // fragments of other collections do not declare our options
		}
		name, part, _ := strings.Cut(name, ".")
		if part == "" {
			part = "DOCUMENTATION"
		}
		fd, err := load(filepath.Join(root, "plugins", "doc_fragments", name+".py"), strings.ToUpper(part))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for k, v := range fd.Options {
			opts[k] = v
		}
	}
	for k, v := range doc.Options {
		opts[k] = v
	}

	for _, name := range slices.Sorted(maps.Keys(spec.Options)) {
		o := spec.Options[name]
		d, ok := opts[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("option %s is in the spec but not documented", name))
			continue
		}
		prefix := "option " + name + ": "
		if d.Type != string(o.Type) {
			problems = append(problems, fmt.Sprintf("%stype documented %q, spec %q", prefix, d.Type, o.Type))
		}
		if o.Type == ansible.List {
			want := string(o.Elements)
			if want == "raw" {
				want = ""
			}
			if d.Elements != want {
				problems = append(problems, fmt.Sprintf("%selements documented %q, spec %q", prefix, d.Elements, want))
			}
		}
		if d.Required != o.Required {
			problems = append(problems, fmt.Sprintf("%srequired documented %v, spec %v", prefix, d.Required, o.Required))
		}
		if !sameValue(d.Default, o.Default) {
			problems = append(problems, fmt.Sprintf("%sdefault documented %v, spec %v", prefix, d.Default, o.Default))
		}
		if !sameStrings(stringsOf(d.Choices), o.Choices) {
			problems = append(problems, fmt.Sprintf("%schoices documented %v, spec %v", prefix, stringsOf(d.Choices), o.Choices))
		}
		if !sameStrings(d.Aliases, o.Aliases) {
			problems = append(problems, fmt.Sprintf("%saliases documented %v, spec %v", prefix, d.Aliases, o.Aliases))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(opts)) {
		if _, ok := spec.Options[name]; !ok {
			problems = append(problems, fmt.Sprintf("option %s is documented but the module does not accept it", name))
		}
	}
	return problems
}

// load reads the YAML string assigned to variable in a Python doc file.
func load(path, variable string) (*document, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("doc stub: %v", err)
	}
	re := regexp.MustCompile(`(?ms)^\s*` + variable + `\s*=\s*r?('''|""")\n(.*?)('''|""")`)
	m := re.FindSubmatch(src)
	if m == nil {
		return nil, fmt.Errorf("%s: no %s = r'''...''' string", path, variable)
	}
	var doc document
	if err := yaml.Unmarshal(m[2], &doc); err != nil {
		return nil, fmt.Errorf("%s: %s is not valid YAML: %v", path, variable, err)
	}
	return &doc, nil
}

func sameValue(doc, spec any) bool {
	if doc == nil || spec == nil {
		return doc == nil && spec == nil
	}
	// YAML and Go literals spell numbers and lists differently: compare
	// their printed forms.
	return fmt.Sprint(normalize(doc)) == fmt.Sprint(normalize(spec))
}

func normalize(v any) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		out := make([]string, rv.Len())
		for i := range out {
			out[i] = fmt.Sprint(normalize(rv.Index(i).Interface()))
		}
		return out
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if f == float64(int64(f)) {
			return fmt.Sprintf("%d", int64(f))
		}
		return fmt.Sprint(f)
	}
	return fmt.Sprint(v)
}

func stringsOf(l []any) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = fmt.Sprint(v)
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	a2 := append([]string(nil), a...)
	b2 := append([]string(nil), b...)
	sort.Strings(a2)
	sort.Strings(b2)
	return reflect.DeepEqual(a2, b2)
}
