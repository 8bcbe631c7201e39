package collection

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/zerodowntime/rolling/tests/ansibletest"
)

// TestCompat runs plugin_utils/compat.py on the ansible-core under test
// (the first on PATH and PYTHONPATH: make test runs this package under
// 2.19 and 2.14): it calls _parse_returned_data the way each signature
// wants, parses a module's result with this ansible-core's own
// ActionBase, and writes module arguments this ansible-core's way.
func TestCompat(t *testing.T) {
	coll := ansibletest.Install(t)
	const script = `
from ansible.release import __version__
from ansible.plugins.action import ActionBase

class Old:
    def _parse_returned_data(self, res):
        return {'called': 'res'}

class New:
    def _parse_returned_data(self, res, profile):
        return {'called': 'res, ' + profile}

class Action(ActionBase):
    def run(self, tmp=None, task_vars=None):
        return {}

# The real method, on an instance that skips __init__ (it needs a task
# and a connection); the parser reads only _used_interpreter, on failure.
action = object.__new__(Action)
action._used_interpreter = None
parsed = compat.parse_returned_data(action, {'rc': 0, 'stderr': '',
    'stdout': 'noise before\n{"changed": true, "target": "10.0.0.5:8080", "elapsed": 1.25}\n'})
bad = compat.parse_returned_data(action, {'rc': 1, 'stderr': 'boom', 'stdout': 'not json'})
args = compat.module_args_json({'ANSIBLE_MODULE_ARGS': {'url': 'http://h/', 'timeout': 5, 'expect_json': {'v': [1, None]}}})
print(json.dumps({
    'version': __version__,
    'old': compat.parse_returned_data(Old(), {}),
    'new': compat.parse_returned_data(New(), {}),
    'parsed': {k: parsed.get(k) for k in ('changed', 'target', 'elapsed', '_ansible_parsed')},
    'bad_parsed': bad.get('_ansible_parsed'), 'bad_failed': bad.get('failed'),
    'args': json.loads(args),
    'encoder': compat.get_module_encoder is not None,
}))
`
	var got struct {
		Version    string                  `json:"version"`
		Old        struct{ Called string } `json:"old"`
		New        struct{ Called string } `json:"new"`
		Parsed     map[string]any          `json:"parsed"`
		BadParsed  any                     `json:"bad_parsed"`
		BadFailed  any                     `json:"bad_failed"`
		Args       map[string]any          `json:"args"`
		HasEncoder bool                    `json:"encoder"`
	}
	out := runBinaryPy(t, coll, nil, script)
	if err := json.Unmarshal(lastLine(out), &got); err != nil {
		t.Fatalf("compat script output: %v\n%s", err, out)
	}
	t.Logf("ansible-core %s: serialization profiles %v", got.Version, got.HasEncoder)
	if got.Old.Called != "res" || got.New.Called != "res, legacy" {
		t.Errorf("parse_returned_data called (%q, %q), want (res) for the 2.14 signature and (res, legacy) for 2.19's",
			got.Old.Called, got.New.Called)
	}
	if got.Parsed["changed"] != true || got.Parsed["target"] != "10.0.0.5:8080" || got.Parsed["elapsed"] != 1.25 || got.Parsed["_ansible_parsed"] != true {
		t.Errorf("ansible-core %s parsed a module's result as %v", got.Version, got.Parsed)
	}
	if got.BadParsed != false || got.BadFailed != true {
		t.Errorf("ansible-core %s parsed output that is not JSON as _ansible_parsed %v, failed %v; want false, true", got.Version, got.BadParsed, got.BadFailed)
	}
	want := map[string]any{"url": "http://h/", "timeout": 5.0, "expect_json": map[string]any{"v": []any{1.0, nil}}}
	b, _ := json.Marshal(got.Args["ANSIBLE_MODULE_ARGS"])
	w, _ := json.Marshal(want)
	if string(b) != string(w) {
		t.Errorf("module arguments written as %s, want %s", b, w)
	}
}

// lastLine is out's last line that is not empty: the script's JSON, after
// anything Python printed before it.
func lastLine(out []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	return lines[len(lines)-1]
}
