// Package lbtest is an httptest server that expects an ordered list of
// requests and fails the test on any extra, unexpected or missing call
// (after hcloud-go's exp/mockutil). Requests a client sends at once go in
// an AnyOrder group.
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

	// anyOrder holds the exchanges of an AnyOrder group.
	anyOrder []Exchange
}

// AnyOrder is one step of exchanges that may arrive in any order, as
// concurrent requests do: each request is answered by the first exchange
// of the group it matches that has not been used yet, and the next step
// starts once all of them have arrived.
func AnyOrder(exchanges ...Exchange) Exchange {
	return Exchange{anyOrder: exchanges}
}

// Server is the mock.
type Server struct {
	*httptest.Server
	t         testing.TB
	mu        sync.Mutex
	exchanges []Exchange
	next      int
	used      []bool // of exchanges[next], when it is an AnyOrder group
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
			for i, e := range s.exchanges[s.next:] {
				if i == 0 && s.used != nil {
					// A group begun: only its unused exchanges are missing.
					var rest []Exchange
					for j, x := range e.anyOrder {
						if !s.used[j] {
							rest = append(rest, x)
						}
					}
					e = AnyOrder(rest...)
				}
				missing = append(missing, e.describe())
			}
			t.Errorf("lbtest: %d expected steps never came: %s\n(received: %s)", len(missing), strings.Join(missing, ", "), strings.Join(s.Requests, ", "))
		}
	})
	return s
}

func (e Exchange) describe() string {
	if e.anyOrder != nil {
		var d []string
		for _, x := range e.anyOrder {
			d = append(d, x.describe())
		}
		return "any order of (" + strings.Join(d, ", ") + ")"
	}
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
	n := len(s.Requests)
	e, err := s.take(r, form)
	s.mu.Unlock()

	if err != nil {
		s.t.Errorf("lbtest: request %d: %v", n, err)
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

// take returns the exchange that answers r and moves on; s.mu is held.
func (s *Server) take(r *http.Request, form url.Values) (Exchange, error) {
	e := s.exchanges[s.next]
	if e.anyOrder == nil {
		s.next++
		return e, e.match(r, form)
	}
	if s.used == nil {
		s.used = make([]bool, len(e.anyOrder))
	}
	pick, firstFree := -1, -1
	for i, x := range e.anyOrder {
		if s.used[i] {
			continue
		}
		if firstFree < 0 {
			firstFree = i
		}
		if x.match(r, form) == nil {
			pick = i
			break
		}
	}
	var err error
	if pick < 0 {
		// Nothing left in the group matches: answer with the first unused
		// exchange, and report what did not match it.
		pick = firstFree
		err = e.anyOrder[pick].match(r, form)
	}
	s.used[pick] = true
	done := true
	for _, u := range s.used {
		done = done && u
	}
	if done {
		s.next, s.used = s.next+1, nil
	}
	return e.anyOrder[pick], err
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
