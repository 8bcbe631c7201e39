// Package secrets runs every module of zerodowntime.rolling that takes a
// secret through real ansible and ansible-playbook, on success and error
// paths, at -vvv and with ANSIBLE_DEBUG=1, and searches everything Ansible
// printed for the secrets; and it checks that TLS is verified unless
// validate_certs: false says otherwise, with a warning.
//
// haproxy_maint takes no secret (the runtime socket has no credentials),
// so it appears in neither part.
package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerodowntime/rolling/tests/ansibletest"
	"github.com/zerodowntime/rolling/tests/lbsim/sim"
	"github.com/zerodowntime/rolling/tests/lbsim/sim/simtest"
)

// Each secret is distinctive and carries characters that URL, JSON and
// base64 encodings change, so that every form of it can be searched.
const (
	hzToken    = "zdtSECRET-hz-7Qw/x+y=z&k"
	hzWrong    = "zdtSECRET-hzwrong-3Rt/u+v=w"
	awsKeyID   = "AKIAZDTSECRETS00001"
	awsSecret  = "zdtSECRET-aws-9Kp/m+n=o&q"
	awsWrong   = "zdtSECRET-awswrong-5Lz/r+s=t"
	awsSession = "zdtSECRET-session-2Hv/a+b=c"
	urlUser    = "deployer"
	urlPass    = "zdtSECRET-pass-8Jm/g+h=i&j"
	bearer     = "zdtSECRET-bearer-4Nc/d+e=f"
	typoSecret = "zdtSECRET-typo-6Bx/p+q=r"
)

// noAWSConfig keeps the AWS SDK from reading this machine's AWS
// configuration, credentials files or instance metadata.
var noAWSConfig = []string{"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"}

var allSecrets = []string{hzToken, hzWrong, awsSecret, awsWrong, awsSession, urlPass, bearer, typoSecret}

// forms are the ways a secret can show up in output: as is, escaped for
// URLs and JSON, in base64 (alone, or as Basic credentials).
func forms(s string) []string {
	j, _ := json.Marshal(s)
	out := []string{
		s, url.QueryEscape(s), url.PathEscape(s), strings.Trim(string(j), `"`),
		base64.StdEncoding.EncodeToString([]byte(s)),
		base64.StdEncoding.EncodeToString([]byte(urlUser + ":" + s)),
		base64.URLEncoding.EncodeToString([]byte(s)),
	}
	// The distinctive middle survives any quoting the forms above miss.
	if i := strings.Index(s, "/"); i > 0 {
		out = append(out, s[:i])
	}
	return out
}

// leaks lists the secrets (and their form) found in text.
func leaks(text string, secrets ...string) []string {
	var found []string
	for _, s := range secrets {
		for _, f := range forms(s) {
			if i := strings.Index(text, f); i >= 0 {
				found = append(found, fmt.Sprintf("%s (as %q, in %q)", s, f, text[max(0, i-300):min(len(text), i+len(f)+100)]))
				break
			}
		}
	}
	return found
}

func assertNoLeak(t *testing.T, run *ansibletest.Run) {
	t.Helper()
	if l := leaks(run.Stdout+run.Stderr, allSecrets...); len(l) > 0 {
		t.Errorf("secrets in the output: %s", strings.Join(l, ", "))
	}
}

type world struct {
	sim   *sim.Sim
	ep    sim.Endpoints
	hosts []string // the backends' addresses: app-1, app-2, app-3
	port  int      // their port
}

// startWorld starts lbsim with one Hetzner load balancer and one AWS
// target group over three healthy backends; the credentials are the
// secrets above.
func startWorld(t *testing.T) *world {
	t.Helper()
	r := simtest.World{
		HetznerToken: hzToken, AWSKeyID: awsKeyID, AWSSecret: awsSecret,
		CheckInterval: 150 * time.Millisecond, CheckTimeout: 150 * time.Millisecond, Retries: 1,
		ActionDelay: 50 * time.Millisecond, DeregistrationDelay: time.Second,
		Change: func(c *sim.Config) { c.Hetzner.LockDuringActions = new(bool) },
	}.Start(t, simtest.Hosts(3))
	return &world{sim: r.Sim, ep: r.Endpoints, hosts: r.Hosts, port: r.Port}
}

// authServer answers 200 "ok" to Basic urlUser:urlPass or Bearer bearer,
// and 401 to anything else.
func authServer(t *testing.T, tls bool) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if (ok && u == urlUser && p == urlPass) || r.Header.Get("Authorization") == "Bearer "+bearer {
			fmt.Fprintln(w, "ok")
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="deploy"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

// tlsProxy serves target's API over TLS with a certificate nobody trusts.
func tlsProxy(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	path := u.Path
	u.Path = ""
	srv := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(u))
	t.Cleanup(srv.Close)
	return srv.URL + path
}

func (w *world) vars(t *testing.T, extra map[string]any) map[string]any {
	v := map[string]any{
		"hz_api": w.ep.HetznerAPI, "hz_token": hzToken, "hz_wrong": hzWrong,
		"aws_api": w.ep.AWSAPI, "aws_key_id": awsKeyID, "aws_secret": awsSecret, "aws_wrong": awsWrong, "aws_session": awsSession,
		"url_user": urlUser, "url_pass": urlPass, "bearer": bearer, "typo_secret": typoSecret,
		"dead": "http://127.0.0.1:1",
	}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

// The playbook's tasks run in order; each registers its result, and the
// last task prints them all with debug, so the search covers the
// registered results too.
const secretsPlay = `
- hosts: localhost
  gather_facts: false
  vars:
    hz: &hz
      provider: hetzner
      endpoint: "{{ hz_api }}"
      load_balancer: web-lb
      timeout: 10
    aws: &aws
      provider: aws
      endpoint_url: "{{ aws_api }}"
      region: eu-central-1
      target_group_names: [web-tg]
      timeout: 10
    aws_env: &aws_env
      AWS_CONFIG_FILE: /dev/null
      AWS_SHARED_CREDENTIALS_FILE: /dev/null
      AWS_EC2_METADATA_DISABLED: "true"
  environment: *aws_env
  tasks:
    - name: hetzner drain, api_token option
      zerodowntime.rolling.lb_drain: {<<: *hz, target: app-1, api_token: "{{ hz_token }}", min_healthy: 0}
      register: r1
    - name: hetzner register, HCLOUD_TOKEN, no_log false
      zerodowntime.rolling.lb_register: {<<: *hz, target: app-1}
      no_log: false
      register: r2
    - name: hetzner drain, check mode
      zerodowntime.rolling.lb_drain: {<<: *hz, target: app-1, api_token: "{{ hz_token }}"}
      check_mode: true
      register: r3
    - name: hetzner wrong token
      zerodowntime.rolling.lb_drain: {<<: *hz, target: app-1, api_token: "{{ hz_wrong }}"}
      register: r4
      ignore_errors: true
    - name: hetzner unreachable endpoint
      zerodowntime.rolling.lb_drain: {<<: *hz, target: app-1, api_token: "{{ hz_token }}", endpoint: "{{ dead }}/v1", timeout: 2}
      register: r5
      ignore_errors: true
    - name: hetzner api_token as a dict
      zerodowntime.rolling.lb_drain: {<<: *hz, target: app-1, api_token: {token: "{{ hz_token }}"}}
      register: r6
      ignore_errors: true
    - name: hetzner api_token as a list
      zerodowntime.rolling.lb_drain: {<<: *hz, target: app-1, api_token: ["{{ hz_token }}", "{{ hz_wrong }}"]}
      register: r7
      ignore_errors: true
    - name: hetzner misspelled option next to the token
      zerodowntime.rolling.lb_drain: {<<: *hz, target: app-1, api_token: "{{ hz_token }}", api_tokn: "{{ typo_secret }}"}
      register: r8
      ignore_errors: true
    - name: hetzner bad timeout next to the token
      zerodowntime.rolling.lb_register: {<<: *hz, target: app-1, api_token: "{{ hz_token }}", timeout: soon}
      register: r9
      ignore_errors: true

    - name: aws drain, secret_key and session_token options
      zerodowntime.rolling.lb_drain: {<<: *aws, target: i-0000000000000001, access_key: "{{ aws_key_id }}", secret_key: "{{ aws_secret }}", session_token: "{{ aws_session }}", min_healthy: 0}
      register: r10
    - name: aws register, AWS_SECRET_ACCESS_KEY, no_log false
      zerodowntime.rolling.lb_register: {<<: *aws, target: i-0000000000000001}
      no_log: false
      register: r11
    - name: aws drain, check mode
      zerodowntime.rolling.lb_drain: {<<: *aws, target: i-0000000000000001, access_key: "{{ aws_key_id }}", secret_key: "{{ aws_secret }}"}
      check_mode: true
      register: r12
    - name: aws wrong secret
      zerodowntime.rolling.lb_drain: {<<: *aws, target: i-0000000000000001, access_key: "{{ aws_key_id }}", secret_key: "{{ aws_wrong }}"}
      register: r13
      ignore_errors: true
    - name: aws unreachable endpoint
      zerodowntime.rolling.lb_drain: {<<: *aws, target: i-0000000000000001, access_key: "{{ aws_key_id }}", secret_key: "{{ aws_secret }}", endpoint_url: "{{ dead }}", timeout: 2}
      register: r14
      ignore_errors: true
    - name: aws secret_key as a dict, session_token as a list
      zerodowntime.rolling.lb_drain: {<<: *aws, target: i-0000000000000001, access_key: "{{ aws_key_id }}", secret_key: {k: "{{ aws_secret }}"}, session_token: ["{{ aws_session }}"]}
      register: r15
      ignore_errors: true
    - name: aws misspelled option next to the secret
      zerodowntime.rolling.lb_drain: {<<: *aws, target: i-0000000000000001, access_key: "{{ aws_key_id }}", secret_key: "{{ aws_secret }}", secret_kee: "{{ typo_secret }}"}
      register: r16
      ignore_errors: true

    - name: deploy_verify basic auth
      zerodowntime.rolling.deploy_verify: {url: "{{ app }}/", url_username: "{{ url_user }}", url_password: "{{ url_pass }}", expect_body: "ok\n", timeout: 5}
      register: r17
    - name: deploy_verify wrong password
      zerodowntime.rolling.deploy_verify: {url: "{{ app }}/", url_username: "{{ url_user }}", url_password: "{{ hz_wrong }}", timeout: 1}
      register: r18
      ignore_errors: true
    - name: deploy_verify password in the URL and a bearer header, no_log false
      zerodowntime.rolling.deploy_verify: {url: "{{ app | replace('://', '://' ~ url_user ~ ':' ~ (url_pass | urlencode | replace('/', '%2F')) ~ '@') }}/", headers: {Authorization: "Bearer {{ bearer }}"}, timeout: 5}
      no_log: false
      register: r19
    - name: deploy_verify unreachable, check mode
      zerodowntime.rolling.deploy_verify: {url: "{{ dead }}/", url_username: "{{ url_user }}", url_password: "{{ url_pass }}", timeout: 1}
      check_mode: true
      register: r20
      ignore_errors: true
    - name: deploy_verify url_password as a dict
      zerodowntime.rolling.deploy_verify: {url: "{{ app }}/", url_username: "{{ url_user }}", url_password: {p: "{{ url_pass }}"}, timeout: 1}
      register: r21
      ignore_errors: true
    - name: print every registered result
      ansible.builtin.debug: {msg: "{{ [r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15, r16, r17, r18, r19, r20, r21] }}"}
`

// expectations per task of secretsPlay: failed or not.
var secretsTasks = map[string]bool{
	"hetzner drain, api_token option":                                     false,
	"hetzner register, HCLOUD_TOKEN, no_log false":                        false,
	"hetzner drain, check mode":                                           false,
	"hetzner wrong token":                                                 true,
	"hetzner unreachable endpoint":                                        true,
	"hetzner api_token as a dict":                                         true,
	"hetzner api_token as a list":                                         true,
	"hetzner misspelled option next to the token":                         true,
	"hetzner bad timeout next to the token":                               true,
	"aws drain, secret_key and session_token options":                     false,
	"aws register, AWS_SECRET_ACCESS_KEY, no_log false":                   false,
	"aws drain, check mode":                                               false,
	"aws wrong secret":                                                    true,
	"aws unreachable endpoint":                                            true,
	"aws secret_key as a dict, session_token as a list":                   true,
	"aws misspelled option next to the secret":                            true,
	"deploy_verify basic auth":                                            false,
	"deploy_verify wrong password":                                        true,
	"deploy_verify password in the URL and a bearer header, no_log false": false,
	// Check mode reports what answers (here: the connection error) and
	// never fails on it.
	"deploy_verify unreachable, check mode": false,
	"deploy_verify url_password as a dict":  true,
}

func checkTasks(t *testing.T, run *ansibletest.Run, want map[string]bool) {
	t.Helper()
	for name, failed := range want {
		res := run.Task(name)["localhost"]
		if res == nil {
			t.Errorf("%s: no result", name)
			continue
		}
		if got := res["failed"] == true; got != failed {
			t.Errorf("%s: failed=%v, want %v: %v", name, got, failed, res)
		}
		if msg, _ := res["msg"].(string); failed && msg == "" {
			t.Errorf("%s: failed without a msg: %v", name, res)
		}
	}
}

func TestSecretsPlaybookVerbose(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	w := startWorld(t)
	app := authServer(t, false)
	// The environment fallbacks come from the controller's environment,
	// which the local connection passes on (see TestTaskEnvironment for
	// the environment keyword).
	run := coll.Playbook(t, secretsPlay, ansibletest.Verbose(3), ansibletest.Vars(w.vars(t, map[string]any{"app": app.URL})),
		ansibletest.Env("HCLOUD_TOKEN="+hzToken, "AWS_ACCESS_KEY_ID="+awsKeyID, "AWS_SECRET_ACCESS_KEY="+awsSecret, "AWS_SESSION_TOKEN="+awsSession))
	checkTasks(t, run, secretsTasks)
	if printed := fmt.Sprint(run.Task("print every registered result")); !strings.Contains(printed, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER") {
		t.Errorf("the registered results were not printed: %.500s", printed)
	}
	assertNoLeak(t, run)
	for _, name := range []string{"hetzner wrong token", "aws wrong secret"} {
		if f, _ := run.Task(name)["localhost"]["failure"].(map[string]any); f["code"] != "unauthorized" {
			t.Errorf("%s: failure %v, want code unauthorized", name, f)
		}
	}
	if msg, _ := run.Task("aws wrong secret")["localhost"]["msg"].(string); !strings.Contains(msg, "SignatureDoesNotMatch") && !strings.Contains(msg, "signature") {
		t.Errorf("aws wrong secret: msg %q does not name the signature", msg)
	}
}

// debugPlay is smaller: ANSIBLE_DEBUG=1 prints every step of the
// executor, the connection and the action plugin.
const debugPlay = `
- hosts: localhost
  gather_facts: false
  environment: {AWS_CONFIG_FILE: /dev/null, AWS_SHARED_CREDENTIALS_FILE: /dev/null, AWS_EC2_METADATA_DISABLED: "true"}
  tasks:
    - name: hetzner drain, HCLOUD_TOKEN
      zerodowntime.rolling.lb_drain: {provider: hetzner, endpoint: "{{ hz_api }}", load_balancer: web-lb, target: app-2, min_healthy: 0, timeout: 10}
      register: r
    - ansible.builtin.debug: {var: r}
    - name: hetzner register, wrong token
      zerodowntime.rolling.lb_register: {provider: hetzner, endpoint: "{{ hz_api }}", load_balancer: web-lb, target: app-2, api_token: "{{ hz_wrong }}", timeout: 10}
      register: r
      ignore_errors: true
    - name: hetzner register
      zerodowntime.rolling.lb_register: {provider: hetzner, endpoint: "{{ hz_api }}", load_balancer: web-lb, target: app-2, api_token: "{{ hz_token }}", timeout: 10}
      no_log: false
    - name: aws wrong secret
      zerodowntime.rolling.lb_drain: {provider: aws, endpoint_url: "{{ aws_api }}", region: eu-central-1, target_group_names: [web-tg], target: i-0000000000000002, access_key: "{{ aws_key_id }}", secret_key: "{{ aws_wrong }}", session_token: "{{ aws_session }}"}
      ignore_errors: true
    - name: aws drain
      zerodowntime.rolling.lb_drain: {provider: aws, endpoint_url: "{{ aws_api }}", region: eu-central-1, target_group_names: [web-tg], target: i-0000000000000002, access_key: "{{ aws_key_id }}", secret_key: "{{ aws_secret }}", min_healthy: 0, timeout: 10}
    - name: deploy_verify wrong password
      zerodowntime.rolling.deploy_verify: {url: "{{ app }}/", url_username: "{{ url_user }}", url_password: "{{ url_pass }}x", timeout: 1}
      ignore_errors: true
`

func TestSecretsAnsibleDebug(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	w := startWorld(t)
	app := authServer(t, false)
	out, stats := debugPlaybook(t, coll, debugPlay, w.vars(t, map[string]any{"app": app.URL}))
	if stats["ok"] != 7 || stats["failures"] != 0 || stats["ignored"] != 3 {
		t.Errorf("recap %v, want 7 ok (3 ignored failures)", stats)
	}
	if !strings.Contains(out, " lb_drain -") || len(out) < 20000 {
		t.Errorf("ANSIBLE_DEBUG=1 printed only %d bytes: is it on?", len(out))
	}
	if l := leaks(out, append(allSecrets, urlPass+"x")...); len(l) > 0 {
		t.Errorf("secrets in the output: %s", strings.Join(l, ", "))
	}
}

// debugPlaybook runs ansible-playbook -vvv with ANSIBLE_DEBUG=1 itself:
// the debug lines go to stdout around the json callback's document, which
// ansibletest does not expect. It returns stdout and stderr together, and
// the recap of localhost.
func debugPlaybook(t *testing.T, coll *ansibletest.Collection, play string, vars map[string]any) (string, map[string]int) {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(vars)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"play.yml": play, "inventory": "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ansible-playbook", "-i", filepath.Join(dir, "inventory"), "-vvv", "-e", string(b), filepath.Join(dir, "play.yml"))
	cmd.Dir = dir
	cmd.Env = append(coll.Environ(), "ANSIBLE_DEBUG=1", "HCLOUD_TOKEN="+hzToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	out := stdout.String() + stderr.String()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ansible-playbook (ANSIBLE_DEBUG=1): %v\n%s", err, out)
		}
	})
	// The document starts at a line "{" and json.Decoder stops at its end,
	// before the debug lines that follow it.
	var doc struct {
		Stats map[string]map[string]int `json:"stats"`
	}
	for i := strings.Index(stdout.String(), "\n{\n"); i >= 0; {
		if derr := json.NewDecoder(strings.NewReader(stdout.String()[i+1:])).Decode(&doc); derr == nil && doc.Stats != nil {
			break
		}
		next := strings.Index(stdout.String()[i+1:], "\n{\n")
		if next < 0 {
			break
		}
		i += next + 1
	}
	return out, doc.Stats["localhost"]
}

func TestSecretsAdHoc(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	w := startWorld(t)
	app := authServer(t, false)
	js := func(v map[string]any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hz := map[string]any{"provider": "hetzner", "endpoint": w.ep.HetznerAPI, "load_balancer": "web-lb", "target": "app-3", "timeout": 10}
	aws := map[string]any{"provider": "aws", "endpoint_url": w.ep.AWSAPI, "region": "eu-central-1", "target_group_names": []string{"web-tg"}, "target": "i-0000000000000003", "timeout": 10}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		name, module string
		args         map[string]any
		env          []string
		failed       bool
	}{
		{"hetzner drain, HCLOUD_TOKEN", "lb_drain", with(hz, "min_healthy", 0), []string{"HCLOUD_TOKEN=" + hzToken}, false},
		{"hetzner register, api_token", "lb_register", with(hz, "api_token", hzToken), nil, false},
		{"hetzner api_token as a list", "lb_drain", with(hz, "api_token", []string{hzToken, hzWrong}), nil, true},
		{"hetzner wrong HCLOUD_TOKEN, check mode", "lb_drain", hz, []string{"HCLOUD_TOKEN=" + hzWrong}, true},
		{"aws drain, AWS_SECRET_ACCESS_KEY", "lb_drain", with(aws, "min_healthy", 0), append([]string{"AWS_ACCESS_KEY_ID=" + awsKeyID, "AWS_SECRET_ACCESS_KEY=" + awsSecret, "AWS_SESSION_TOKEN=" + awsSession}, noAWSConfig...), false},
		{"aws register, options", "lb_register", with(aws, "access_key", awsKeyID, "secret_key", awsSecret), noAWSConfig, false},
		{"aws wrong AWS_SECRET_ACCESS_KEY", "lb_drain", aws, append([]string{"AWS_ACCESS_KEY_ID=" + awsKeyID, "AWS_SECRET_ACCESS_KEY=" + awsWrong}, noAWSConfig...), true},
		{"aws secret_key as a dict", "lb_drain", with(aws, "access_key", awsKeyID, "secret_key", map[string]any{"k": awsSecret}), noAWSConfig, true},
		{"deploy_verify url_password", "deploy_verify", map[string]any{"url": app.URL + "/", "url_username": urlUser, "url_password": urlPass, "timeout": 5}, nil, false},
		{"deploy_verify wrong url_password", "deploy_verify", map[string]any{"url": app.URL + "/", "url_username": urlUser, "password": awsWrong, "timeout": 1}, nil, true},
	}
	// One after another: they work on the same targets.
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := []ansibletest.Option{ansibletest.Verbose(3), ansibletest.Env(c.env...)}
			if strings.HasSuffix(c.name, "check mode") {
				opts = append(opts, ansibletest.Check())
			}
			run, res := coll.AdHoc(t, "zerodowntime.rolling."+c.module, js(c.args), opts...)
			if got := res["failed"] == true; got != c.failed {
				t.Errorf("failed=%v, want %v: %v", got, c.failed, res)
			}
			assertNoLeak(t, run)
		})
	}
}

// TestSearchFindsAPrintedSecret is the control: the same search finds a
// secret that a task prints on purpose.
func TestSearchFindsAPrintedSecret(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	run := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.debug: {msg: "{{ token }}"}
    - ansible.builtin.debug: {msg: "{{ pass | b64encode }}"}
`, ansibletest.Vars(map[string]any{"token": hzToken, "pass": urlUser + ":" + urlPass}))
	for _, s := range []string{hzToken, urlPass} {
		if len(leaks(run.Stdout+run.Stderr, s)) == 0 {
			t.Errorf("the search did not find %q, which the playbook printed:\n%s", s, run.Stdout)
		}
	}
	if l := leaks(run.Stdout+run.Stderr, awsSecret); len(l) > 0 {
		t.Errorf("found %v, which was never printed", l)
	}
}

// tlsPlay runs each module against a TLS endpoint whose certificate is not
// trusted: refused by default, accepted with validate_certs: false and a
// warning.
const tlsPlay = `
- hosts: localhost
  gather_facts: false
  environment: {AWS_CONFIG_FILE: /dev/null, AWS_SHARED_CREDENTIALS_FILE: /dev/null, AWS_EC2_METADATA_DISABLED: "true"}
  vars:
    hz: &hz {provider: hetzner, endpoint: "{{ hz_tls }}", load_balancer: web-lb, target: app-3, api_token: "{{ hz_token }}", timeout: 10}
    aws: &aws {provider: aws, endpoint_url: "{{ aws_tls }}", region: eu-central-1, target_group_names: [web-tg], target: i-0000000000000003,
               access_key: "{{ aws_key_id }}", secret_key: "{{ aws_secret }}", timeout: 10}
  tasks:
    - name: deploy_verify verifies
      zerodowntime.rolling.deploy_verify: {url: "{{ app_tls }}/", url_username: "{{ url_user }}", url_password: "{{ url_pass }}", timeout: 1}
      ignore_errors: true
    - name: deploy_verify unverified
      zerodowntime.rolling.deploy_verify: {url: "{{ app_tls }}/", url_username: "{{ url_user }}", url_password: "{{ url_pass }}", validate_certs: false, timeout: 5}
    - name: hetzner verifies
      zerodowntime.rolling.lb_drain: *hz
      ignore_errors: true
    - name: hetzner unverified
      zerodowntime.rolling.lb_drain: {<<: *hz, validate_certs: false, min_healthy: 0}
    - name: hetzner register unverified
      zerodowntime.rolling.lb_register: {<<: *hz, validate_certs: false}
    - name: aws verifies
      zerodowntime.rolling.lb_drain: *aws
      ignore_errors: true
    - name: aws unverified
      zerodowntime.rolling.lb_drain: {<<: *aws, validate_certs: false, min_healthy: 0}
    - name: aws register unverified
      zerodowntime.rolling.lb_register: {<<: *aws, validate_certs: false}
`

func TestTLSVerifiedByDefault(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	w := startWorld(t)
	app := authServer(t, true)
	run := coll.Playbook(t, tlsPlay, ansibletest.Verbose(3), ansibletest.Vars(w.vars(t, map[string]any{
		"app_tls": app.URL, "hz_tls": tlsProxy(t, w.ep.HetznerAPI), "aws_tls": tlsProxy(t, w.ep.AWSAPI),
	})))
	for _, name := range []string{"deploy_verify verifies", "hetzner verifies", "aws verifies"} {
		res := run.Task(name)["localhost"]
		msg, _ := res["msg"].(string)
		if res["failed"] != true || !strings.Contains(msg, "certificate") {
			t.Errorf("%s: want a failure naming the certificate, got %v", name, res)
		}
	}
	for _, name := range []string{"deploy_verify unverified", "hetzner unverified", "hetzner register unverified", "aws unverified", "aws register unverified"} {
		res := run.Task(name)["localhost"]
		if res["failed"] == true {
			t.Errorf("%s: failed: %v", name, res["msg"])
		}
		ws, _ := res["warnings"].([]any)
		if len(ws) == 0 || !strings.Contains(fmt.Sprint(ws), "validate_certs is false") {
			t.Errorf("%s: no validate_certs warning: %v", name, ws)
		}
	}
	if res := run.Task("hetzner unverified")["localhost"]; res["changed"] != true {
		t.Errorf("hetzner unverified: drained nothing: %v", res)
	}
	assertNoLeak(t, run)
}

// TestTaskEnvironment covers credentials given with the task keyword
// environment. Ansible puts the environment on the command line it runs
// (EXEC /bin/sh -c 'HCLOUD_TOKEN=... zdt lb_drain -') and prints that line
// at -vvv, for every module, before the module runs: that exposure is
// Ansible's (and the action plugin's, which could pass the environment on
// standard input with the options instead). This test pins it to that
// line: the module's own output, results and messages stay clean.
func TestTaskEnvironment(t *testing.T) {
	t.Parallel()
	coll := ansibletest.Install(t)
	w := startWorld(t)
	run := coll.Playbook(t, `
- hosts: localhost
  gather_facts: false
  environment: {AWS_CONFIG_FILE: /dev/null, AWS_SHARED_CREDENTIALS_FILE: /dev/null, AWS_EC2_METADATA_DISABLED: "true"}
  tasks:
    - name: hetzner check mode, HCLOUD_TOKEN
      zerodowntime.rolling.lb_drain: {provider: hetzner, endpoint: "{{ hz_api }}", load_balancer: web-lb, target: app-1, timeout: 10}
      environment: {HCLOUD_TOKEN: "{{ hz_token }}"}
      check_mode: true
      register: r
    - ansible.builtin.debug: {var: r}
    - name: hetzner wrong HCLOUD_TOKEN
      zerodowntime.rolling.lb_drain: {provider: hetzner, endpoint: "{{ hz_api }}", load_balancer: web-lb, target: app-1, timeout: 10}
      environment: {HCLOUD_TOKEN: "{{ hz_wrong }}"}
      register: r
      ignore_errors: true
    - ansible.builtin.debug: {var: r}
    - name: aws check mode, AWS_SECRET_ACCESS_KEY
      zerodowntime.rolling.lb_drain: {provider: aws, endpoint_url: "{{ aws_api }}", region: eu-central-1, target_group_names: [web-tg], target: i-0000000000000001, timeout: 10}
      environment: {AWS_ACCESS_KEY_ID: "{{ aws_key_id }}", AWS_SECRET_ACCESS_KEY: "{{ aws_secret }}", AWS_SESSION_TOKEN: "{{ aws_session }}"}
      check_mode: true
      register: r
    - ansible.builtin.debug: {var: r}
    - name: aws wrong AWS_SECRET_ACCESS_KEY
      zerodowntime.rolling.lb_drain: {provider: aws, endpoint_url: "{{ aws_api }}", region: eu-central-1, target_group_names: [web-tg], target: i-0000000000000001, timeout: 10}
      environment: {AWS_ACCESS_KEY_ID: "{{ aws_key_id }}", AWS_SECRET_ACCESS_KEY: "{{ aws_wrong }}"}
      register: r
      ignore_errors: true
    - ansible.builtin.debug: {var: r}
`, ansibletest.Verbose(3), ansibletest.Vars(w.vars(t, nil)))
	checkTasks(t, run, map[string]bool{"hetzner check mode, HCLOUD_TOKEN": false, "hetzner wrong HCLOUD_TOKEN": true,
		"aws check mode, AWS_SECRET_ACCESS_KEY": false, "aws wrong AWS_SECRET_ACCESS_KEY": true})
	// The action plugin sends the task's environment with the options on
	// standard input, so not even Ansible's -vvv EXEC lines show it.
	if l := leaks(run.Stdout+run.Stderr, allSecrets...); len(l) > 0 {
		t.Errorf("secrets given through the environment keyword appear in the output: %s", strings.Join(l, ", "))
	}
	if !strings.Contains(run.Stdout, "<localhost> EXEC ") {
		t.Errorf("no -vvv EXEC lines in the output, so the search above proved nothing")
	}
}
