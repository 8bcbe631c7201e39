package rollout

import (
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/zerodowntime/rolling/tests/testpki"
)

// tokenUser is the basic auth user of an HTTPSToken scenario's /token.
const tokenUser = "deploy"

// tokenTLS is what an HTTPSToken scenario's apps serve HTTPS with.
type tokenTLS struct {
	files    testpki.Files
	password string
}

// addr is where h's app serves HTTPS: its address, the next port.
func (*tokenTLS) addr(h Host) string {
	return net.JoinHostPort(h.IP(), strconv.Itoa(h.Port()+1))
}

// setUpTokenTLS makes a CA and a certificate for every host's address, and
// the credentials file, and sets each app's environment to use them.
func (s *Scenario) setUpTokenTLS() error {
	dir := filepath.Join(s.dir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var ips []net.IP
	for _, h := range s.Hosts {
		ips = append(ips, net.ParseIP(h.IP()))
	}
	files, err := testpki.Write(dir, ips...)
	if err != nil {
		return err
	}
	t := &tokenTLS{files: files, password: "pw-" + randomToken()}
	auth := filepath.Join(dir, "auth")
	if err := os.WriteFile(auth, []byte(tokenUser+":"+t.password+"\n"), 0o600); err != nil {
		return err
	}
	s.tls, s.appEnv = t, map[string]map[string]string{}
	for _, h := range s.Hosts {
		s.appEnv[h.Name] = map[string]string{
			"DEMOAPP_TLS_LISTEN": t.addr(h),
			"DEMOAPP_TLS_CERT":   files.Cert,
			"DEMOAPP_TLS_KEY":    files.Key,
			"DEMOAPP_AUTH_FILE":  auth,
		}
	}
	return nil
}
