// Package healthfile is the zerodowntime.rolling.health_file module: it
// creates or removes, on the app host, the file whose presence makes the
// application fail its health check, so that a load balancer takes the host
// out (and back in) without the API credentials going to the host.
package healthfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	hf "github.com/zerodowntime/rolling/modules/internal/healthfile"
)

var spec = ansible.Spec{
	Name: "health_file",
	Options: map[string]ansible.Option{
		"path":  {Type: ansible.Path, Required: true},
		"state": {Type: ansible.Str, Default: "present", Choices: []string{"present", "absent"}},
	},
	SupportsCheckMode: true,
}

type args struct {
	Path  string `json:"path"`
	State string `json:"state"`
}

// content is what a created file holds; health checks look only at whether
// it exists.
const content = "created by zerodowntime.rolling.health_file\n"

func run(_ context.Context, m *ansible.Module, a args) (ansible.Result, error) {
	if err := ansible.CheckFilePath("path", a.Path, "the health file", "/srv/app/down"); err != nil {
		return ansible.Result{}, err
	}
	exists, err := hf.Exists(a.Path)
	if err != nil {
		return ansible.Result{}, fmt.Errorf("path: %w", err)
	}
	want := a.State == "present"
	if want && !exists {
		// Checked in check mode too, so that a dry run shows the failure.
		if err := checkDir(filepath.Dir(a.Path)); err != nil {
			return ansible.Result{}, err
		}
	}
	res := ansible.Result{
		Changed: exists != want,
		Diff:    &ansible.Diff{Before: view(a.Path, exists), After: view(a.Path, want), BeforeHeader: a.Path, AfterHeader: a.Path},
		Data:    map[string]any{"path": a.Path, "state": a.State},
	}
	verb := map[bool]string{true: "create", false: "remove"}[want]
	switch {
	case !res.Changed && want:
		res.Msg = a.Path + " is already there"
		return res, nil
	case !res.Changed:
		res.Msg = a.Path + " is already absent"
		return res, nil
	case m.CheckMode:
		res.Msg = fmt.Sprintf("would %s %s (check mode: nothing changed)", verb, a.Path)
		return res, nil
	}
	if want {
		res.Changed, err = hf.Create(a.Path, content)
	} else {
		res.Changed, err = hf.Remove(a.Path)
	}
	if err != nil {
		return ansible.Result{}, fmt.Errorf("path: %w", err)
	}
	res.Msg = verb + "d " + a.Path
	if !res.Changed {
		// Another process got there between the look and the change.
		res.Msg = fmt.Sprintf("%s was %sd meanwhile by someone else", a.Path, verb)
	}
	return res, nil
}

// view is the file's side of the diff, worded as ansible.builtin.file's.
func view(path string, exists bool) map[string]string {
	if exists {
		return map[string]string{"path": path, "state": "file"}
	}
	return map[string]string{"path": path, "state": "absent"}
}

// checkDir makes sure the file can be created in dir: the application reads
// it from there, so a missing directory is a wrong path, not one to create.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("path: directory %s does not exist; give the path the application's health check looks for, in an existing directory", dir)
	case err != nil:
		return fmt.Errorf("path: cannot inspect directory %s: %v", dir, err)
	case !st.IsDir():
		return fmt.Errorf("path: %s is %s, not a directory", dir, ansible.FileKind(st.Mode()))
	}
	return nil
}

// Module is zerodowntime.rolling.health_file.
var Module = ansible.NewModule(spec, run)
