package providers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
)

// TestUntrustedCertificateFailsAtOnce: an endpoint whose certificate is
// not trusted fails the module at once with a message naming the
// certificate, for both providers; the AWS SDK used to retry it as a
// connection error until the timeout and then report only "context
// deadline exceeded".
func TestUntrustedCertificateFailsAtOnce(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		args map[string]any
	}{
		{"aws", map[string]any{"provider": "aws", "region": "eu-central-1", "endpoint_url": srv.URL, "access_key": "AKIDTEST",
			"secret_key": lbtest.AWSSecret, "target_group_names": []any{"web"}, "target": "i-1", "timeout": 20}},
		{"hetzner", map[string]any{"provider": "hetzner", "endpoint": srv.URL + "/v1", "api_token": "tls-test-token",
			"load_balancer": "web", "target": "1", "timeout": 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lbtest.AWSEnv(t)
			start := time.Now()
			out, raw := realRun(t, "lb_drain", tt.args)
			msg, _ := out["msg"].(string)
			if out["failed"] != true || !strings.Contains(msg, "certificate") {
				t.Errorf("want a failure naming the certificate, got %s", raw)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: the certificate error was retried", d)
			}
		})
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests got past the TLS handshake", hits.Load())
	}
}
