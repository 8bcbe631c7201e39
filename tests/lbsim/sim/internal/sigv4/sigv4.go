// Package sigv4 checks AWS Signature Version 4 Authorization headers on
// the server side, written from the AWS General Reference ("Create a
// signed AWS API request").
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

const algorithm = "AWS4-HMAC-SHA256"

// Auth is a parsed Authorization header.
type Auth struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

// ErrMissing means the request carries no Authorization header.
var ErrMissing = errors.New("request is missing an Authorization header")

// Parse reads the request's Authorization header.
func Parse(r *http.Request) (Auth, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Auth{}, ErrMissing
	}
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return Auth{}, fmt.Errorf("authorization header must start with %s", algorithm)
	}
	var a Auth
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return Auth{}, fmt.Errorf("credential %q is not KEY/DATE/REGION/SERVICE/aws4_request", v)
			}
			a.AccessKeyID, a.Date, a.Region, a.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.AccessKeyID == "" || len(a.SignedHeaders) == 0 || a.Signature == "" {
		return Auth{}, errors.New("authorization header lacks Credential, SignedHeaders or Signature")
	}
	return a, nil
}

// Sign computes the signature the request should carry with secret; body
// is the request payload (the server has already read it).
func Sign(r *http.Request, body []byte, a Auth, secret string) (string, error) {
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return "", errors.New("request has no X-Amz-Date header")
	}
	if !strings.HasPrefix(amzDate, a.Date) {
		return "", fmt.Errorf("X-Amz-Date %s does not match the credential date %s", amzDate, a.Date)
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	var ch strings.Builder
	for _, name := range a.SignedHeaders {
		ch.WriteString(name)
		ch.WriteByte(':')
		ch.WriteString(headerValue(r, name))
		ch.WriteByte('\n')
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canonical := strings.Join([]string{
		r.Method,
		path,
		canonicalQuery(r.URL.Query()),
		ch.String(),
		strings.Join(a.SignedHeaders, ";"),
		payload,
	}, "\n")
	scope := strings.Join([]string{a.Date, a.Region, a.Service, "aws4_request"}, "/")
	sum := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{algorithm, amzDate, scope, hex.EncodeToString(sum[:])}, "\n")
	key := mac([]byte("AWS4"+secret), a.Date)
	key = mac(key, a.Region)
	key = mac(key, a.Service)
	key = mac(key, "aws4_request")
	return hex.EncodeToString(mac(key, toSign)), nil
}

// Valid reports whether the request's signature matches secret.
func Valid(r *http.Request, body []byte, a Auth, secret string) bool {
	want, err := Sign(r, body, a, secret)
	return err == nil && hmac.Equal([]byte(want), []byte(a.Signature))
}

func mac(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// headerValue is the canonical value of a signed header: values joined by
// commas, trimmed, inner runs of spaces collapsed.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = append(vals, r.Header.Values("Content-Length")...)
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = append(vals, r.Header.Values(name)...)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func canonicalQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

// escape is RFC 3986 percent-encoding of everything but unreserved bytes.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
