package deployverify

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestLargeBody(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 5000)
	srv, _ := server(t, body(big))
	t.Run("excerpt truncated", func(t *testing.T) {
		t.Parallel()
		res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "expect_regex": "^x+$"})
		wantFields(t, res, map[string]any{"failed": false, "body_excerpt": big[:512] + "... (4488 more bytes)"})
	})
	t.Run("excerpt_length", func(t *testing.T) {
		t.Parallel()
		res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "excerpt_length": 10})
		wantFields(t, res, map[string]any{"body_excerpt": "xxxxxxxxxx... (4990 more bytes)"})
	})
	t.Run("msg bounded", func(t *testing.T) {
		t.Parallel()
		res, _ := verify(t, context.Background(), map[string]any{"url": srv.URL, "expect_body": "v2", "excerpt_length": 0})
		msg := res["msg"].(string)
		if len(msg) > 600 || !strings.Contains(msg, `... (4840 more bytes)" (body differs)`) {
			t.Errorf("msg of %d bytes: %s", len(msg), msg)
		}
		if len(res["body_excerpt"].(string)) != 5000 {
			t.Errorf("excerpt_length 0 means the whole body in body_excerpt")
		}
	})
	t.Run("interrupted msg bounded", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		srv, _ := server(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 2 {
				cancel()
			}
			io.WriteString(w, big)
		})
		res, _ := verify(t, ctx, map[string]any{"url": srv.URL, "expect_body": "v2", "excerpt_length": 0})
		wantFields(t, res, map[string]any{"failed": true, "msg": "deploy_verify was interrupted by a signal; state left: polling " + srv.URL + " (nothing is changed by this module)"})
	})
}
