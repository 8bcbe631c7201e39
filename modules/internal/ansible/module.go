package ansible

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
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

// AddSecret registers a value derived from a secret (an encoded header, a
// URL carrying a password) so that it is scrubbed from the result too.
func (m *Module) AddSecret(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets = appendSecret(m.secrets, s)
}

func (m *Module) addSecrets(secrets []string) {
	for _, s := range secrets {
		m.AddSecret(s)
	}
}

// appendSecret adds s and the encoded forms it takes in URLs and JSON.
func appendSecret(secrets []string, s string) []string {
	if s == "" {
		return secrets
	}
	secrets = append(secrets, s)
	quoted := strconv.Quote(s)
	for _, enc := range []string{url.QueryEscape(s), url.PathEscape(s), jsonEscape(s, true), jsonEscape(s, false), quoted[1 : len(quoted)-1],
		asciiJSON(s, "\\u%04x"), asciiJSON(s, "\\u%04X")} {
		if enc != s && !slices.Contains(secrets, enc) {
			secrets = append(secrets, enc)
		}
	}
	return secrets
}

// noLogStrings returns the strings of a no_log value that must not be shown:
// the value itself, or every scalar inside a list or dict, as
// _return_datastructure_name does.
func noLogStrings(v any) []string {
	switch x := v.(type) {
	case nil, bool:
		return nil
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, noLogStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, noLogStrings(e)...)
		}
		return out
	}
	s, err := toStr(v)
	if err != nil {
		s = fmt.Sprint(v)
	}
	return []string{s}
}

// asciiJSON is s inside a JSON string as Python's json.dumps writes it by
// default (ensure_ascii): everything outside printable ASCII as \uXXXX, in
// surrogate pairs above U+FFFF, with the hex digits in format's case.
func asciiJSON(s, format string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, format+format, r1, r2)
		default:
			fmt.Fprintf(&b, format, r)
		}
	}
	return b.String()
}

// optionSecrets returns the secrets in one value of option o: all of a
// no_log value, the values of its secret keys, and the password of any URL
// in it. It takes raw values too, before conversion, so that a value that
// fails validation is scrubbed from the error.
func optionSecrets(o Option, v any) []string {
	var out []string
	if o.NoLog {
		out = noLogStrings(v)
	}
	if o.SecretKeys != nil {
		d, _ := v.(map[string]any)
		if s, ok := v.(string); ok {
			d, _ = toDict(s)
		}
		for k, e := range d {
			if !o.SecretKeys(k) {
				continue
			}
			for _, s := range noLogStrings(e) {
				// Sent without the spaces around it; and of "Bearer abc"
				// a server may echo the credential alone.
				s = strings.TrimSpace(s)
				out = append(out, s)
				if _, cred, ok := strings.Cut(s, " "); ok {
					out = append(out, strings.TrimSpace(cred))
				}
			}
		}
	}
	for _, s := range noLogStrings(v) {
		out = append(out, URLSecrets(s)...)
	}
	return out
}

// URLSecrets returns the passwords of the URLs in s, as written and
// decoded, and the Basic credentials a client sends for them. Parsers
// disagree on where the authority of "http://u:p/w#d@host/" ends: Go and
// RFC 3986 stop at the first / ? or #, a user meant the last @. So both
// readings count, and so does the password cut at the first / ? or #,
// which a parser that stops there takes for a port (and quotes as an invalid
// one; a valid port, all digits, stays).
func URLSecrets(s string) []string {
	var out []string
	// An option holds a URL or a few; a long run of "://" is not worth
	// quadratic time.
	for rest, n := s, 0; n < 32; n++ {
		_, after, ok := strings.Cut(rest, "://")
		if !ok {
			break
		}
		rest = after
		authority := after
		if i := strings.IndexAny(after, "/?#"); i >= 0 {
			authority = after[:i]
		}
		for _, userinfo := range []string{after[:max(strings.LastIndex(after, "@"), 0)], authority[:max(strings.LastIndex(authority, "@"), 0)]} {
			user, pass, ok := strings.Cut(userinfo, ":")
			if !ok {
				continue
			}
			cut := pass
			if i := strings.IndexAny(pass, "/?#"); i >= 0 {
				cut = pass[:i]
				if strings.Trim(cut, "0123456789") == "" {
					cut = ""
				}
			}
			for _, p := range []string{pass, cut} {
				if p == "" {
					continue
				}
				out = append(out, p, basicAuth(user, p))
				if dp, err := url.PathUnescape(p); err == nil {
					du, err := url.PathUnescape(user)
					if err != nil {
						du = user
					}
					out = append(out, dp, basicAuth(du, dp))
				}
			}
		}
	}
	return out
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// jsonEscape is s inside a JSON string, with or without the HTML escaping
// of json.Marshal.
func jsonEscape(s string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	enc.Encode(s)
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// Scrub removes every registered secret from s.
func (m *Module) Scrub(s string) string {
	m.mu.Lock()
	secrets := append([]string(nil), m.secrets...)
	m.mu.Unlock()
	sort.SliceStable(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	return scrubString(s, secrets)
}

// Result is what a module returns. Data holds the module's own return values.
type Result struct {
	Changed bool
	Msg     string
	Diff    *Diff
	Data    map[string]any
}

// Diff is shown by ansible-playbook --diff.
type Diff struct {
	Before       any    `json:"before"`
	After        any    `json:"after"`
	BeforeHeader string `json:"before_header,omitempty"`
	AfterHeader  string `json:"after_header,omitempty"`
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

// finish turns a module's result and error into Ansible's result object.
func (m *Module) finish(w io.Writer, spec Spec, params Params, res Result, err error) int {
	out := map[string]any{}
	for k, v := range res.Data {
		out[k] = v
	}
	out["changed"] = res.Changed
	if res.Msg != "" {
		out["msg"] = res.Msg
	}
	if res.Diff != nil && m.Diff {
		out["diff"] = res.Diff
	}
	if err != nil {
		out["failed"] = true
		out["msg"] = err.Error()
		var e *Error
		if errors.As(err, &e) {
			for k, v := range e.Data {
				out[k] = v
			}
		}
		m.mu.Lock()
		progress := m.progress
		m.mu.Unlock()
		if errors.Is(err, context.DeadlineExceeded) && progress != "" {
			out["msg"] = fmt.Sprintf("%s; state left: %s", err.Error(), progress)
		}
	}
	return m.write(w, out, spec, params)
}

func (m *Module) write(w io.Writer, out map[string]any, spec Spec, params Params) int {
	if _, ok := out["failed"]; !ok {
		out["failed"] = false
	}
	m.mu.Lock()
	if len(m.warnings) > 0 {
		out["warnings"] = m.warnings
	}
	if len(m.deprecations) > 0 {
		out["deprecations"] = m.deprecations
	}
	secrets := append([]string(nil), m.secrets...)
	m.mu.Unlock()
	// Longest first, so that a secret containing another is replaced whole
	// rather than leaving its other part behind.
	sort.SliceStable(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	if params != nil {
		out["invocation"] = map[string]any{"module_args": maskParams(spec, params)}
	}
	// Scrub secrets from everything, the invocation too (another option,
	// such as a URL, may embed a secret), so that no error text, however it
	// was built, carries a secret out. The result's own keys and the option
	// names in invocation are the protocol's and the spec's, not data: a
	// short secret ("a") must not turn "failed" into "f********iled", which
	// Ansible would read as a result without failed.
	clean := make(map[string]any, len(out))
	for k, v := range out {
		inv, _ := v.(map[string]any)
		if args, ok := inv["module_args"].(map[string]any); ok && k == "invocation" && len(inv) == 1 {
			cleanArgs := make(map[string]any, len(args))
			for name, a := range args {
				cleanArgs[name] = scrub(a, secrets)
			}
			clean[k] = map[string]any{"module_args": cleanArgs}
			continue
		}
		clean[k] = scrub(v, secrets)
	}
	return writeResult(w, clean)
}

// NoLogValue replaces no_log options in invocation, as AnsibleModule does.
const NoLogValue = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

func maskParams(spec Spec, p Params) map[string]any {
	out := make(map[string]any, len(spec.Options))
	for name, o := range spec.Options {
		v, ok := p[name]
		switch {
		case !ok:
			out[name] = nil
		case o.NoLog:
			out[name] = NoLogValue
		default:
			out[name] = v
		}
	}
	return out
}

func scrub(v any, secrets []string) any {
	if len(secrets) == 0 {
		return v
	}
	switch x := v.(type) {
	case string:
		return scrubString(x, secrets)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = scrubString(s, secrets)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrub(e, secrets)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[scrubString(k, secrets)] = scrub(e, secrets)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrub(e, secrets)
		}
		return out
	case nil, bool, int, int64, float64:
		return v
	}
	// Structs and other typed values: round-trip through JSON so their
	// strings are scrubbed too.
	b, err := json.Marshal(v)
	if err != nil {
		return scrubString(fmt.Sprint(v), secrets)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil
	}
	return scrub(generic, secrets)
}

func scrubString(s string, secrets []string) string {
	if s == NoLogValue {
		return s
	}
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "********")
		}
	}
	return s
}

func writeResult(w io.Writer, out map[string]any) int {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // bodies and messages stay readable: <, >, &
	if err := enc.Encode(out); err != nil {
		buf.Reset()
		enc.Encode(map[string]any{"failed": true, "msg": "cannot encode the module result: " + err.Error()})
		out = map[string]any{"failed": true}
	}
	io.WriteString(w, buf.String())
	if f, _ := out["failed"].(bool); f {
		return 1
	}
	return 0
}
