// Package lbtest is an httptest server that expects an ordered list of
// requests and fails the test on any extra, unexpected or missing call
// (after hcloud-go's exp/mockutil).
package lbtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Exchange is one expected request and the answer to it.
type Exchange struct {
	// Method and Path ("GET /v1/load_balancers/1"); a query in Path must be
	// present in the request (other parameters may be added).
	Method, Path string
	// Action is the AWS Query action ("DescribeTargetHealth"); Form holds
	// form values it must carry.
	Action string
	Form   map[string]string
	// Check runs extra assertions on the request and its body.
	Check func(t testing.TB, r *http.Request, body string)

	Status int // default 200
	Header map[string]string
	Body   string
}

// Server is the mock.
type Server struct {
	*httptest.Server
	t         testing.TB
	mu        sync.Mutex
	exchanges []Exchange
	next      int
	// Requests records what arrived, "METHOD /path?query" or "Action".
	Requests []string
}

// New starts a server expecting exchanges in order.
func New(t testing.TB, exchanges ...Exchange) *Server {
	t.Helper()
	s := &Server{t: t, exchanges: exchanges}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.next < len(s.exchanges) {
			var missing []string
			for _, e := range s.exchanges[s.next:] {
				missing = append(missing, e.describe())
			}
			t.Errorf("lbtest: %d expected requests never came: %s\n(received: %s)", len(missing), strings.Join(missing, ", "), strings.Join(s.Requests, ", "))
		}
	})
	return s
}

func (e Exchange) describe() string {
	if e.Action != "" {
		return e.Action
	}
	return e.Method + " " + e.Path
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var got string
	form, _ := url.ParseQuery(string(body))
	if action := form.Get("Action"); action != "" {
		got = action
	} else {
		got = r.Method + " " + r.URL.RequestURI()
	}
	s.mu.Lock()
	s.Requests = append(s.Requests, got)
	if s.next >= len(s.exchanges) {
		s.mu.Unlock()
		s.t.Errorf("lbtest: unexpected extra request %s (body %s)", got, body)
		http.Error(w, `{"error":{"code":"unexpected","message":"unexpected request"}}`, http.StatusTeapot)
		return
	}
	e := s.exchanges[s.next]
	s.next++
	s.mu.Unlock()

	if err := e.match(r, form); err != nil {
		s.t.Errorf("lbtest: request %d: %v", s.next, err)
	}
	if e.Check != nil {
		e.Check(s.t, r, string(body))
	}
	for k, v := range e.Header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		if e.Action != "" {
			w.Header().Set("Content-Type", "text/xml")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
	}
	status := e.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, e.Body)
}

func (e Exchange) match(r *http.Request, form url.Values) error {
	if e.Action != "" {
		if a := form.Get("Action"); a != e.Action {
			return fmt.Errorf("want action %s, got %s", e.Action, a)
		}
		for k, v := range e.Form {
			if got := form.Get(k); got != v {
				return fmt.Errorf("%s: want %s=%q, got %q (form %v)", e.Action, k, v, got, form)
			}
		}
		return nil
	}
	path, query, _ := strings.Cut(e.Path, "?")
	if r.Method != e.Method || r.URL.Path != path {
		return fmt.Errorf("want %s %s, got %s %s", e.Method, e.Path, r.Method, r.URL.RequestURI())
	}
	want, _ := url.ParseQuery(query)
	for k, vs := range want {
		got := r.URL.Query()[k]
		if strings.Join(got, ",") != strings.Join(vs, ",") {
			return fmt.Errorf("%s %s: want query %s=%v, got %v", e.Method, path, k, vs, got)
		}
	}
	return nil
}

// Count returns how many requests arrived.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.Requests)
}
