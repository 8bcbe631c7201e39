package ansible

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// stuckWait is how long the runtime waits for a module to report after its
// hard deadline before it reports for it.
const stuckWait = time.Second

// RunFunc runs a module with its options decoded into A.
type RunFunc[A any] func(ctx context.Context, m *Module, args A) (Result, error)

// maxArgsSize bounds the arguments read from a file or standard input.
const maxArgsSize = 64 << 20

// Run is Main without the process: it reads the arguments file at path, runs
// the module and writes the result to w. It never exits the process.
func Run[A any](ctx context.Context, spec Spec, path string, w io.Writer, run RunFunc[A]) int {
	data, err := readArgsFile(path)
	if err != nil {
		return writeResult(w, map[string]any{"failed": true, "msg": fmt.Sprintf("cannot read the module arguments file: %v", err)})
	}
	return RunArgs(ctx, spec, data, w, run)
}

// RunArgs runs a module on the JSON arguments in data and writes the result
// to w.
func RunArgs[A any](ctx context.Context, spec Spec, data []byte, w io.Writer, run RunFunc[A]) int {
	m, raw, err := parseArgs(spec.Name, data)
	if err != nil {
		return writeResult(w, map[string]any{"failed": true, "msg": err.Error()})
	}
	// Secrets are known from the raw options, before validation, so that
	// even a rejected value is scrubbed from the error.
	for k, v := range raw {
		if _, o, ok := spec.option(k); ok {
			m.addSecrets(optionSecrets(o, v))
		}
	}
	for _, o := range spec.Options {
		for _, env := range o.SecretEnv {
			m.addSecrets(optionSecrets(Option{NoLog: true}, os.Getenv(env)))
		}
		for _, env := range o.EnvFallback {
			if v, ok := os.LookupEnv(env); ok {
				m.addSecrets(optionSecrets(o, v))
			}
		}
	}

	params, warnings, err := spec.validate(raw)
	m.warnings = append(m.warnings, warnings...)
	if err != nil {
		return m.finish(w, spec, nil, Result{}, err)
	}
	// And from the validated values: converted forms, defaults and
	// fallbacks however they were reached.
	for name, o := range spec.Options {
		m.addSecrets(optionSecrets(o, params[name]))
	}
	m.Params = params
	if m.CheckMode && !spec.SupportsCheckMode {
		return m.write(w, map[string]any{
			"changed": false, "skipped": true,
			"msg": fmt.Sprintf("remote module (%s) does not support check mode", spec.Name),
		}, spec, params)
	}

	var args A
	if err := decodeParams(params, &args); err != nil {
		return m.finish(w, spec, params, Result{}, fmt.Errorf("internal error decoding the options of %s: %v", spec.Name, err))
	}

	// The run context is cancelled by us, not by the parent, so that the
	// module sees ErrInterrupted as the cause, and its own result, if it
	// was already done, cannot race with the interruption.
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	var limit string // the hard deadline, in words
	if spec.TimeoutOption != "" {
		if secs, ok := params[spec.TimeoutOption].(int64); ok && secs > 0 {
			grace := spec.TimeoutGrace
			if grace == 0 {
				grace = 10 * time.Second
			}
			var c context.CancelFunc
			runCtx, c = context.WithTimeout(runCtx, time.Duration(secs)*time.Second+grace)
			defer c()
			limit = fmt.Sprintf("%s (%ds) and %s of grace", spec.TimeoutOption, secs, grace)
		}
	}

	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				if m.Debug {
					fmt.Fprintf(os.Stderr, "panic: %v\n%s", r, debug.Stack())
				}
				done <- outcome{err: fmt.Errorf("internal error in module %s: %v (this is a bug; please report it with the task that triggered it)", spec.Name, r)}
			}
		}()
		res, err := run(runCtx, m, args)
		done <- outcome{res, err}
	}()

	select {
	case o := <-done:
		return m.finish(w, spec, params, o.res, o.err)
	case <-runCtx.Done():
		// The hard deadline (timeout plus grace) passed. A module that
		// heeds its context returns at once with its own error; one stuck
		// where it does not (a blocked read) is reported as it stood and
		// left behind, since the process exits after the result.
		select {
		case o := <-done:
			return m.finish(w, spec, params, o.res, o.err)
		case <-time.After(stuckWait):
			return m.finish(w, spec, params, Result{}, m.stopped("timed out: it had not ended after "+limit))
		}
	case <-ctx.Done():
		// Signalled: give the module a moment to stop its work and report
		// where it stands, then report ourselves.
		cancel(ErrInterrupted)
		select {
		case o := <-done:
			switch {
			case o.err == nil:
				// It finished its work after all.
				return m.finish(w, spec, params, o.res, nil)
			case errors.Is(o.err, ErrInterrupted) || errors.Is(o.err, context.Canceled) ||
				strings.Contains(o.err.Error(), ErrInterrupted.Error()):
				// Its error is the interruption (wrapped, or formatted
				// with %v): say so, with where it stood.
				return m.finish(w, spec, params, o.res, m.interrupted())
			default:
				// It failed on its own, perhaps before it saw the
				// signal: keep its error and say both.
				return m.finish(w, spec, params, o.res, fmt.Errorf("%w; then %v", o.err, m.interrupted()))
			}
		case <-time.After(3 * time.Second):
			return m.finish(w, spec, params, Result{}, m.interrupted())
		}
	}
}

func (m *Module) interrupted() error { return m.stopped("was interrupted by a signal") }

// stopped says why the runtime ended the module, and where it stood.
func (m *Module) stopped(why string) error {
	m.mu.Lock()
	p := m.progress
	m.mu.Unlock()
	if p == "" {
		p = "nothing had been changed yet"
	}
	return fmt.Errorf("%s %s; state left: %s", m.Name, why, p)
}

func parseArgs(name string, data []byte) (*Module, map[string]any, error) {
	raw, err := decodeObject(data)
	if err != nil {
		return &Module{Name: name}, nil, fmt.Errorf("the module arguments file is not a JSON object: %v", err)
	}
	if wrapped, ok := raw["ANSIBLE_MODULE_ARGS"].(map[string]any); ok && len(raw) == 1 {
		raw = wrapped
	}
	m := &Module{Name: name}
	user := map[string]any{}
	for k, v := range raw {
		if !strings.HasPrefix(k, "_ansible_") {
			user[k] = v
			continue
		}
		switch k {
		case "_ansible_check_mode":
			m.CheckMode, _ = toBool(v)
		case "_ansible_diff":
			m.Diff, _ = toBool(v)
		case "_ansible_no_log":
			m.NoLog, _ = toBool(v)
		case "_ansible_debug":
			m.Debug, _ = toBool(v)
		case "_ansible_verbosity":
			if i, err := toInt(v); err == nil {
				m.Verbosity = int(i)
			}
		case "_ansible_tmpdir":
			m.Tmpdir, _ = v.(string)
		}
		// Other _ansible_* keys (version, syslog facility, selinux, ...) are
		// ignored, and so are keys newer Ansible versions may add.
	}
	return m, user, nil
}

// decodeObject decodes one JSON object, numbers as json.Number, and rejects
// anything else: null, other JSON values, trailing data.
func decodeObject(data []byte) (map[string]any, error) {
	var raw map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, errors.New("got null")
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON object")
	}
	return raw, nil
}

func decodeParams(p Params, into any) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}
