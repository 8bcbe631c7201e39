package ansible

import (
	"errors"
	"fmt"
	"sync"
)

// Module is what a running module knows about its invocation, and where it
// collects warnings and its progress.
type Module struct {
	Name      string
	CheckMode bool
	Diff      bool
	Verbosity int
	Debug     bool
	NoLog     bool
	Tmpdir    string
	Params    Params

	mu           sync.Mutex
	warnings     []string
	deprecations []map[string]any
	progress     string
	secrets      []string
}

// Warn adds a warning that Ansible shows as [WARNING].
func (m *Module) Warn(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.warnings = append(m.warnings, fmt.Sprintf(format, args...))
}

// Deprecate adds a deprecation notice; version may be empty.
func (m *Module) Deprecate(msg, version string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := map[string]any{"msg": msg}
	if version != "" {
		d["version"] = version
	}
	m.deprecations = append(m.deprecations, d)
}

// Progress records what the module is doing now, in words a user can act on
// ("deregistered from web-tg, waiting for the target to drain"). It is
// reported when the module is interrupted or times out.
func (m *Module) Progress(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.progress = fmt.Sprintf(format, args...)
}

// Error is a module failure that carries extra result keys, such as
// failure: {provider, code, resource}.
type Error struct {
	Msg  string
	Data map[string]any
	Err  error
}

func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() error { return e.Err }

// ErrInterrupted is the context cause when the module got SIGTERM or SIGINT.
var ErrInterrupted = errors.New("interrupted by a signal")
