package deployverify

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestCheckMode: check mode waits for nothing and never fails on what
// answers: it says what a run would verify, with one look at url when the
// method is safe, and none at token_url (check mode wrote no token).
func TestCheckMode(t *testing.T) {
	t.Parallel()
	old := func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			t.Errorf("check mode asked token_url")
		}
		w.Write([]byte(`{"version":"v1"}`))
	}
	oldSrv, oldN := server(t, old)
	newSrv, newN := server(t, body("v2"))
	gone, goneN := server(t, body(""))
	gone.Close()
	postSrv, postN := server(t, body("v2"))
	for _, c := range []struct {
		name     string
		args     map[string]any
		requests func() int32 // what the server saw
		sent     int32
		want     map[string]any
		msg      []string
	}{
		{"old version", map[string]any{"url": oldSrv.URL + "/version", "token": "fresh-token-0123456789",
			"token_url": oldSrv.URL + "/token", "expect_json": map[string]any{"version": "v2"}, "consecutive": 2},
			oldN.Load, 1, map[string]any{"attempts": 1, "status": 200, "passes": 0, "token_verified": false, "token_attempts": 0},
			[]string{"check mode: would poll " + oldSrv.URL + `/version until it answers with status in [200], JSON version = "v2", 2 times in a row, after ` +
				oldSrv.URL + "/token serves the new deploy token (every 0.02s, for up to 30s)", `; now: status 200, body "{\"version\":\"v1\"}" (JSON version`}},
		{"as expected", map[string]any{"url": newSrv.URL, "expect_body": "v2"},
			newN.Load, 1, map[string]any{"attempts": 1, "status": 200, "passes": 1}, []string{"; it answers as expected now"}},
		{"unreachable", map[string]any{"url": gone.URL},
			goneN.Load, 0, map[string]any{"attempts": 1, "status": 0, "passes": 0}, []string{"; now: request failed: "}},
		{"unsafe method", map[string]any{"url": postSrv.URL, "method": "post", "body": "x"},
			postN.Load, 0, map[string]any{"attempts": 0}, []string{"; sent no request, since a POST may change something"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			args := map[string]any{"timeout": 30, "_ansible_check_mode": true}
			for k, v := range c.args {
				args[k] = v
			}
			start := time.Now()
			res, _ := verify(t, ctx, args)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("check mode took %s: it waited", took)
			}
			want := map[string]any{"failed": false, "changed": false}
			for k, v := range c.want {
				want[k] = v
			}
			wantFields(t, res, want)
			wantMsg(t, res, c.msg...)
			if n := c.requests(); n != c.sent {
				t.Errorf("the server saw %d requests, want %d", n, c.sent)
			}
		})
	}
	// Bad input fails in check mode too.
	res, _ := verify(t, context.Background(), map[string]any{"url": newSrv.URL, "consecutive": 0, "_ansible_check_mode": true})
	wantFields(t, res, map[string]any{"failed": true, "msg": "consecutive must be at least 1, got 0"})
}
