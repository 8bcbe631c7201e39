package app

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	defaults := Config{
		Listen:          "127.0.0.11:8081",
		Version:         "v1",
		ShutdownTimeout: 30 * time.Second,
		StartTimeout:    10 * time.Second,
		DaemonWait:      true,
	}
	with := func(f func(*Config)) Config {
		c := defaults
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", want: defaults},
		{
			name: "flags",
			args: []string{"-listen", "127.0.0.12:9000", "-version", "v2", "-token-file", "t", "-health-file", "h",
				"-pid-file", "p", "-broken", "stale-token", "-shutdown-timeout", "5s", "-start-delay", "1s"},
			want: with(func(c *Config) {
				c.Listen, c.Version, c.TokenFile, c.HealthFile, c.PIDFile = "127.0.0.12:9000", "v2", "t", "h", "p"
				c.Broken, c.ShutdownTimeout, c.StartDelay = BrokenStaleToken, 5*time.Second, time.Second
			}),
		},
		{
			name: "env fills in settings",
			env:  map[string]string{"DEMOAPP_VERSION": "v3", "DEMOAPP_START_DELAY": "2s", "DEMOAPP_BROKEN": "unhealthy"},
			want: with(func(c *Config) { c.Version, c.StartDelay, c.Broken = "v3", 2*time.Second, BrokenUnhealthy }),
		},
		{
			name: "errors fails a fifth by default",
			args: []string{"-broken", "errors"},
			want: with(func(c *Config) { c.Broken, c.ErrorShare = BrokenErrors, 0.2 }),
		},
		{
			name: "errors with its share from env",
			env:  map[string]string{"DEMOAPP_BROKEN": "errors", "DEMOAPP_ERROR_SHARE": "0.5"},
			want: with(func(c *Config) { c.Broken, c.ErrorShare = BrokenErrors, 0.5 }),
		},
		{
			name: "flag beats env",
			args: []string{"-version", "v4"},
			env:  map[string]string{"DEMOAPP_VERSION": "v3"},
			want: with(func(c *Config) { c.Version = "v4" }),
		},
		{
			name: "empty env is unset",
			env:  map[string]string{"DEMOAPP_START_DELAY": ""},
			want: defaults,
		},
		{
			name: "env cannot start a daemon",
			env:  map[string]string{"DEMOAPP_DAEMON": "true", "DEMOAPP_STOP": "true"},
			want: defaults,
		},
		{
			name: "daemon",
			args: []string{"-daemon", "-pid-file", "p", "-log-file", "l"},
			want: with(func(c *Config) { c.Daemon, c.PIDFile, c.LogFile = true, "p", "l" }),
		},
		{
			name: "daemon without waiting",
			args: []string{"-daemon", "-daemon-wait=false", "-pid-file", "p", "-log-file", "l"},
			want: with(func(c *Config) { c.Daemon, c.DaemonWait, c.PIDFile, c.LogFile = true, false, "p", "l" }),
		},
		{
			name: "env cannot change how a daemon starts",
			env:  map[string]string{"DEMOAPP_DAEMON_WAIT": "false"},
			want: defaults,
		},
		{name: "bad env duration", env: map[string]string{"DEMOAPP_START_DELAY": "soon"}, wantErr: `DEMOAPP_START_DELAY="soon": parse error`},
		{name: "unknown flag", args: []string{"-colour"}, wantErr: "flag provided but not defined: -colour"},
		{name: "argument", args: []string{"start"}, wantErr: `unexpected argument "start"`},
		{name: "tls without key", args: []string{"-tls-listen", "127.0.0.1:8443", "-tls-cert", "c"}, wantErr: "-tls-listen, -tls-cert and -tls-key go together"},
		{name: "tls without host", args: []string{"-tls-listen", ":8443", "-tls-cert", "c", "-tls-key", "k"}, wantErr: `-tls-listen ":8443": want address:port`},
		{name: "listen without port", args: []string{"-listen", "127.0.0.11"}, wantErr: "want address:port"},
		{name: "listen without host", args: []string{"-listen", ":8081"}, wantErr: "give the address too, such as 127.0.0.11:8081"},
		{name: "listen bad port", args: []string{"-listen", "127.0.0.1:http"}, wantErr: `port "http" is not a number`},
		{name: "empty version", args: []string{"-version="}, wantErr: "-version must not be empty"},
		{name: "unknown broken mode", args: []string{"-broken", "crash"}, wantErr: `-broken "crash": want one of`},
		{name: "error share without errors", args: []string{"-error-share", "0.2"}, wantErr: "-error-share 0.2 applies only with -broken errors"},
		{name: "error share above 1", args: []string{"-broken", "errors", "-error-share", "1.5"}, wantErr: "-error-share 1.5: want a share above 0 and at most 1"},
		{name: "negative error share", args: []string{"-broken", "errors", "-error-share", "-0.1"}, wantErr: "-error-share -0.1: want a share above 0"},
		{name: "zero shutdown timeout", args: []string{"-shutdown-timeout", "0s"}, wantErr: "must be positive"},
		{name: "negative start delay", args: []string{"-start-delay", "-1s"}, wantErr: "not negative"},
		{name: "daemon and stop", args: []string{"-daemon", "-stop", "-pid-file", "p", "-log-file", "l"}, wantErr: "exclude each other"},
		{name: "daemon without log file", args: []string{"-daemon", "-pid-file", "p"}, wantErr: "-daemon needs -pid-file"},
		{name: "daemon on port 0", args: []string{"-daemon", "-listen", "127.0.0.1:0", "-pid-file", "p", "-log-file", "l"}, wantErr: "needs a fixed port"},
		{name: "daemon-wait without daemon", args: []string{"-daemon-wait=false"}, wantErr: "-daemon-wait=false only qualifies -daemon"},
		{name: "stop without pid file", args: []string{"-stop"}, wantErr: "-stop needs -pid-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse() = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestChildArgs checks that the process -daemon starts gets the same
// configuration, even if its environment says otherwise.
func TestChildArgs(t *testing.T) {
	cfg := Config{
		Listen: "127.0.0.12:9000", Version: "v9", TokenFile: "t", HealthFile: "h", PIDFile: "p", LogFile: "l",
		TLSListen: "127.0.0.12:9443", TLSCert: "c", TLSKey: "k", AuthFile: "a",
		Broken: BrokenErrors, ErrorShare: 0.25, ShutdownTimeout: 3 * time.Second, StartDelay: 1500 * time.Millisecond,
		StartTimeout: 4 * time.Second, Daemon: true, DaemonWait: false,
	}
	env := map[string]string{"DEMOAPP_VERSION": "v0", "DEMOAPP_BROKEN": "nostart"}
	got, err := Parse(cfg.childArgs(), func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("Parse(childArgs()) error = %v", err)
	}
	want := cfg
	want.Daemon, want.DaemonWait = false, true
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(childArgs()) = %+v\nwant %+v", got, want)
	}
}
