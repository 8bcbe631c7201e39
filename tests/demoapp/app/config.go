// Package app is the demo application that stands for a user's service on one
// app host: a tiny HTTP server whose version, restart token and health can be
// checked by a rolling deploy, plus the -daemon and -stop helpers a deploy
// step uses to start and stop it.
package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Broken is a simulated fault of a bad release, chosen with -broken.
type Broken string

// The faults a release can simulate. Each one must make a different step of a
// rolling deploy fail: start, verify or health check.
const (
	BrokenNone       Broken = ""
	BrokenNoStart    Broken = "nostart"     // exits 1 at once
	BrokenStaleToken Broken = "stale-token" // serves StaleToken, never the token file
	BrokenUnhealthy  Broken = "unhealthy"   // /healthz always answers 500
	BrokenErrors     Broken = "errors"      // every fifth request (-error-share) answers 500
)

var brokenModes = []Broken{BrokenNone, BrokenNoStart, BrokenStaleToken, BrokenUnhealthy, BrokenErrors}

// DefaultErrorShare is the share of requests -broken errors fails when
// -error-share is not given: a fifth, plain to see under load, yet the
// deploy token, the health check and /version still pass.
const DefaultErrorShare = 0.2

// EnvPrefix starts the environment variable of each setting flag:
// -token-file can also be given as DEMOAPP_TOKEN_FILE.
const EnvPrefix = "DEMOAPP_"

// Config is the parsed command line.
type Config struct {
	Listen          string
	Version         string
	TokenFile       string
	HealthFile      string
	PIDFile         string
	LogFile         string
	Broken          Broken
	ErrorShare      float64 // with -broken errors: the share answered 500
	ShutdownTimeout time.Duration
	StartDelay      time.Duration
	StartTimeout    time.Duration
	Daemon          bool
	// DaemonWait makes -daemon wait until the app listens (the default);
	// false returns once the process is started, like systemctl start of
	// a Type=simple unit.
	DaemonWait bool
	Stop       bool

	// TLSListen, with TLSCert and TLSKey, adds an HTTPS listener serving
	// the same endpoints, as an app's admin port does.
	TLSListen, TLSCert, TLSKey string
	// AuthFile holds user:password; when set, /token needs those basic
	// auth credentials.
	AuthFile string
}

// Parse reads the flags in args. Settings not given as flags come from the
// DEMOAPP_* variables that getenv returns (empty means unset), so flags win.
// Usage and flag errors are written to output.
func Parse(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	var c Config
	var broken string
	fs := flag.NewFlagSet("demoapp", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.Listen, "listen", "127.0.0.11:8081", "`address:port` to listen on; also sent as X-App-Host")
	fs.StringVar(&c.Version, "version", "v1", "version `string` to serve")
	fs.StringVar(&c.TokenFile, "token-file", "", "`file` read once at start; its trimmed content is served at /token")
	fs.StringVar(&c.HealthFile, "health-file", "", "while this `file` exists, /healthz answers 503 draining")
	fs.StringVar(&c.PIDFile, "pid-file", "", "`file` to write the pid to once listening; removed at exit")
	fs.StringVar(&c.LogFile, "log-file", "", "with -daemon: `file` the app's stdout and stderr are appended to")
	fs.StringVar(&c.TLSListen, "tls-listen", "", "`address:port` of an extra HTTPS listener with the same endpoints; needs -tls-cert and -tls-key")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate `file` of the HTTPS listener")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key `file` of the HTTPS listener")
	fs.StringVar(&c.AuthFile, "auth-file", "", "`file` holding user:password, read once at start; /token then needs them as basic auth")
	fs.StringVar(&broken, "broken", "", "simulate a bad release: nostart, stale-token, unhealthy or errors")
	fs.Float64Var(&c.ErrorShare, "error-share", 0, "with -broken errors: the `share` of requests answered with 500 (default 0.2)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may run after SIGTERM")
	fs.DurationVar(&c.StartDelay, "start-delay", 0, "sleep this long before listening, like a slow boot")
	fs.DurationVar(&c.StartTimeout, "start-timeout", 10*time.Second, "with -daemon: how long to wait for listening, after -start-delay")
	fs.BoolVar(&c.Daemon, "daemon", false, "start the app detached and exit 0 once it listens, 1 if it does not")
	fs.BoolVar(&c.DaemonWait, "daemon-wait", true, "with -daemon: wait until the app listens; false returns once the process is started, like systemctl start of a Type=simple unit")
	fs.BoolVar(&c.Stop, "stop", false, "send SIGTERM to the app in -pid-file and wait until it has exited")

	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: demoapp [flags]\n\nEach setting flag can also come from %sNAME, as DEMOAPP_TOKEN_FILE for\n-token-file; flags win. Flags:\n", EnvPrefix)
		fs.PrintDefaults()
	}

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		// -daemon and -stop are actions, not settings: from the environment
		// they would leak into the child that -daemon starts. -daemon-wait
		// only qualifies -daemon.
		if f.Name == "daemon" || f.Name == "daemon-wait" || f.Name == "stop" || envErr != nil {
			return
		}
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %v", name, v, err)
			}
		}
	})
	if envErr != nil {
		return Config{}, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, printedError{err}
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q; demoapp takes only flags", fs.Arg(0))
	}
	c.Broken = Broken(broken)
	if c.Broken == BrokenErrors && c.ErrorShare == 0 {
		c.ErrorShare = DefaultErrorShare
	}
	return c, c.validate()
}

func (c Config) validate() error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("-listen %q: want address:port such as 127.0.0.11:8081: %v", c.Listen, err)
	}
	// An empty host would listen on all interfaces and send an X-App-Host
	// that does not name the host the load balancer targets.
	if host == "" {
		return fmt.Errorf("-listen %q: give the address too, such as 127.0.0.11%s", c.Listen, c.Listen)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("-listen %q: port %q is not a number from 0 to 65535", c.Listen, port)
	} else if n == 0 && c.Daemon {
		return fmt.Errorf("-listen %q: -daemon needs a fixed port to wait for", c.Listen)
	}
	if (c.TLSListen == "") != (c.TLSCert == "") || (c.TLSListen == "") != (c.TLSKey == "") {
		return errors.New("-tls-listen, -tls-cert and -tls-key go together; give all three or none")
	}
	if c.TLSListen != "" {
		if host, _, err := net.SplitHostPort(c.TLSListen); err != nil || host == "" {
			return fmt.Errorf("-tls-listen %q: want address:port such as 127.0.0.11:8443", c.TLSListen)
		}
	}
	if c.Version == "" {
		return errors.New("-version must not be empty")
	}
	if !slices.Contains(brokenModes, c.Broken) {
		return fmt.Errorf("-broken %q: want one of nostart, stale-token, unhealthy, errors, or empty", c.Broken)
	}
	switch {
	case c.Broken != BrokenErrors && c.ErrorShare != 0:
		return fmt.Errorf("-error-share %v applies only with -broken errors", c.ErrorShare)
	case c.Broken == BrokenErrors && !(c.ErrorShare > 0 && c.ErrorShare <= 1):
		return fmt.Errorf("-error-share %v: want a share above 0 and at most 1, such as 0.2", c.ErrorShare)
	}
	if c.ShutdownTimeout <= 0 || c.StartTimeout <= 0 || c.StartDelay < 0 {
		return fmt.Errorf("-shutdown-timeout (%v) and -start-timeout (%v) must be positive, -start-delay (%v) not negative",
			c.ShutdownTimeout, c.StartTimeout, c.StartDelay)
	}
	switch {
	case c.Daemon && c.Stop:
		return errors.New("-daemon and -stop exclude each other; run -stop first, then -daemon")
	case !c.DaemonWait && !c.Daemon:
		return errors.New("-daemon-wait=false only qualifies -daemon; add -daemon")
	case c.Daemon && (c.PIDFile == "" || c.LogFile == ""):
		return errors.New("-daemon needs -pid-file (so -stop can find the app) and -log-file (where its output goes)")
	case c.Stop && c.PIDFile == "":
		return errors.New("-stop needs -pid-file, the file the running app wrote")
	}
	return nil
}

// printedError is an error the flag package has already printed, with the usage.
type printedError struct{ error }

func (e printedError) Unwrap() error { return e.error }

// childArgs are the flags that make the process -daemon starts use exactly
// this configuration, whatever its environment says.
func (c Config) childArgs() []string {
	return []string{
		"-listen=" + c.Listen,
		"-version=" + c.Version,
		"-token-file=" + c.TokenFile,
		"-health-file=" + c.HealthFile,
		"-pid-file=" + c.PIDFile,
		"-log-file=" + c.LogFile,
		"-tls-listen=" + c.TLSListen,
		"-tls-cert=" + c.TLSCert,
		"-tls-key=" + c.TLSKey,
		"-auth-file=" + c.AuthFile,
		"-broken=" + string(c.Broken),
		"-error-share=" + strconv.FormatFloat(c.ErrorShare, 'g', -1, 64),
		"-shutdown-timeout=" + c.ShutdownTimeout.String(),
		"-start-delay=" + c.StartDelay.String(),
		"-start-timeout=" + c.StartTimeout.String(),
	}
}
