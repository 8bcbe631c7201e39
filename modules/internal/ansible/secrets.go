package ansible

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

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
