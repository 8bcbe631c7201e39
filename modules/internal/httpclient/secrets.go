package httpclient

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// AddSecrets registers what must not appear in the result besides what the
// runtime scrubs already (url_password, URL passwords, credential headers):
// the Basic credentials a server might echo back, and a credential header's
// value as it is sent.
func AddSecrets(m *ansible.Module, user, password string, headers map[string]any) {
	if password != "" {
		m.AddSecret(basicCredentials(user, password))
	}
	for k, v := range headers {
		if CredentialHeader(k) {
			m.AddSecret(fmt.Sprint(v))
		}
	}
}

// CredentialHeader tells whether a header carries credentials: then its
// value is scrubbed from the result and it is not sent on after a redirect
// to another host. Besides the standard ones, that is any header whose name
// says so, as X-Api-Key, X-Auth-Token or X-Session-Id do.
func CredentialHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "cookie", "token", "key", "secret", "session", "pass", "credential", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func basicCredentials(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
