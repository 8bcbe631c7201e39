package ansible

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Entry is a module ready to be run by Dispatch.
type Entry struct {
	Name string
	run  func(ctx context.Context, data []byte, w io.Writer) int
}

// NewModule makes an Entry of a module's spec and run function.
func NewModule[A any](spec Spec, run RunFunc[A]) Entry {
	return Entry{Name: spec.Name, run: func(ctx context.Context, data []byte, w io.Writer) int {
		return RunArgs(ctx, spec, data, w, run)
	}}
}

// Dispatch is the main function of a binary that holds several modules:
//
//	zdt MODULE ARGS_FILE   # Ansible's way: a JSON file of options
//	zdt MODULE -           # the collection's action plugins: JSON on stdin
//	zdt --list             # the modules this build holds, as a JSON array
//
// One build carries every module, so a host receives one binary however
// many of the modules it runs. Dispatch returns the process exit code.
func Dispatch(entries ...Entry) int {
	return dispatch(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, entries)
}

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer, entries []Entry) int {
	byName := map[string]Entry{}
	var names []string
	for _, e := range entries {
		byName[e.Name] = e
		names = append(names, e.Name)
	}
	sort.Strings(names)
	if len(args) == 1 && args[0] == "--list" {
		// The collection's manifest (bin/manifest.json) is made from this.
		b, _ := json.Marshal(names)
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	if len(args) != 2 {
		fmt.Fprintf(stderr, "usage: zdt MODULE ARGS_FILE|-\n\nMODULE is one of: %s.\nARGS_FILE holds the options as JSON, e.g. {\"ANSIBLE_MODULE_ARGS\": {\"url\": \"http://127.0.0.1:8080/\"}}; - reads them from standard input.\n",
			strings.Join(names, ", "))
		return writeResult(stdout, map[string]any{"failed": true,
			"msg": "expected a module name and an arguments file: run the modules through Ansible, or as 'zdt MODULE ARGS_FILE'"})
	}
	e, ok := byName[args[0]]
	if !ok {
		return writeResult(stdout, map[string]any{"failed": true,
			"msg": fmt.Sprintf("unknown module %q: this build holds %s", args[0], strings.Join(names, ", "))})
	}
	var data []byte
	var err error
	if args[1] == "-" {
		// The action plugins pass the options on standard input, so that no
		// file holding secrets is written on the host.
		data, err = readBounded(stdin, "standard input")
	} else {
		data, err = readArgsFile(args[1])
	}
	if err != nil {
		return writeResult(stdout, map[string]any{"failed": true, "msg": fmt.Sprintf("cannot read the module arguments: %v", err)})
	}
	data, env, err := openEnvelope(data)
	if err != nil {
		return writeResult(stdout, map[string]any{"failed": true, "msg": err.Error()})
	}
	for k, v := range env {
		os.Setenv(k, v)
	}
	// SIGHUP is a dropped SSH session: it ends the module as SIGTERM does,
	// with a result saying where it stood.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	return e.run(ctx, data, stdout)
}

// readArgsFile reads the arguments file Ansible wrote: a regular file, not
// followed through a final symbolic link, of at most maxArgsSize bytes. A
// FIFO or a device there would block or never end the read.
func readArgsFile(path string) ([]byte, error) {
	data, fi, err := ReadRegularFile(path, maxArgsSize, false)
	switch {
	case errors.Is(err, syscall.ELOOP):
		return nil, fmt.Errorf("%s is a symbolic link; give the arguments file itself", path)
	case errors.Is(err, ErrNotRegular):
		return nil, fmt.Errorf("%s is not a regular file but %s", path, FileKind(fi.Mode()))
	case errors.Is(err, ErrTooLarge):
		return nil, fmt.Errorf("%s holds %d bytes, more than the %d the arguments may", path, fi.Size(), maxArgsSize)
	}
	return data, err
}

// readBounded reads r to its end, failing rather than cutting the
// arguments short past maxArgsSize.
func readBounded(r io.Reader, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxArgsSize+1))
	if err == nil && len(data) > maxArgsSize {
		err = fmt.Errorf("%s holds more than the %d bytes the arguments may", what, maxArgsSize)
	}
	return data, err
}

// openEnvelope unwraps what the action plugins send:
//
//	{"ANSIBLE_MODULE_ARGS": {...}, "ZDT_ENVIRONMENT": {"HCLOUD_TOKEN": "..."}}
//
// The task's environment travels with the options instead of on the command
// line, where Ansible would print it at -vvv. Anything else is returned as
// it is, for RunArgs to read.
func openEnvelope(data []byte) ([]byte, map[string]string, error) {
	var env struct {
		Args json.RawMessage   `json:"ANSIBLE_MODULE_ARGS"`
		Env  map[string]string `json:"ZDT_ENVIRONMENT"`
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(data, &keys) != nil || len(keys) != 2 || keys["ZDT_ENVIRONMENT"] == nil || keys["ANSIBLE_MODULE_ARGS"] == nil {
		return data, nil, nil
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, nil, fmt.Errorf("the module arguments carry a malformed environment: %v", err)
	}
	return env.Args, env.Env, nil
}
