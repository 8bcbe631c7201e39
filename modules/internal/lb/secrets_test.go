package lb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/lb/providers"
)

// TestAWSKeysFromEnvironmentScrubbed: the AWS keys the SDK takes from the
// environment or a profile are as secret as the options. The endpoint rejects every call
// and echoes the request's Authorization header, which carries the access
// key id, in its error message.
func TestAWSKeysFromEnvironmentScrubbed(t *testing.T) {
	const keyID, secret = "AKIAZDTENVKEY0000001", "zdt/env+secret/0000000000000000000000001"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>rejected %s</Message></Error><RequestId>1</RequestId></ErrorResponse>`,
			html.EscapeString(r.Header.Get("Authorization")))
	}))
	t.Cleanup(srv.Close)
	// A profile is not the environment, but its keys are as secret.
	for _, env := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_PROFILE"} {
		t.Run(env, func(t *testing.T) {
			dir := t.TempDir()
			vars := map[string]string{
				"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": filepath.Join(dir, "config"),
				"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"), "AWS_PROFILE": "", "AWS_REGION": "",
				"AWS_ACCESS_KEY_ID": "", "AWS_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_ENDPOINT_URL": "",
				"AWS_SECRET_ACCESS_KEY": secret, env: keyID,
			}
			if env == "AWS_PROFILE" {
				vars[env], vars["AWS_SECRET_ACCESS_KEY"] = "zdt", ""
				creds := fmt.Sprintf("[zdt]\naws_access_key_id = %s\naws_secret_access_key = %s\n", keyID, secret)
				if err := os.WriteFile(vars["AWS_SHARED_CREDENTIALS_FILE"], []byte(creds), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for k, v := range vars {
				t.Setenv(k, v)
			}
			args, _ := json.Marshal(map[string]any{
				"provider": "aws", "region": "eu-central-1", "endpoint_url": srv.URL,
				"target_group_names": []string{"web"}, "target": "i-1", "timeout": 5,
			})
			var buf bytes.Buffer
			r := lb.NewRunner(providers.New(providers.Options{}))
			ansible.RunArgs(context.Background(), lb.NewSpec("lb_drain", lb.DrainOptions), args, &buf, r.Drain)
			out := buf.String()
			if !strings.Contains(out, `"failed":true`) || !strings.Contains(out, "rejected") {
				t.Fatalf("the endpoint's error is not in the result: %s", out)
			}
			for _, leak := range []string{keyID, secret} {
				if strings.Contains(out, leak) {
					t.Errorf("output contains %q:\n%s", leak, out)
				}
			}
		})
	}
}
