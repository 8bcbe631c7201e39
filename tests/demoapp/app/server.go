package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Main runs demoapp with the flags in args and returns the exit code:
// 0 on success, 1 on failure, 2 on a usage error.
func Main(args []string, stderr io.Writer) int {
	logger := log.New(stderr, "demoapp: ", log.LstdFlags|log.Lmsgprefix)
	cfg, err := Parse(args, os.Getenv, stderr)
	var printed printedError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &printed):
		return 2
	case err != nil:
		logger.Print(err)
		return 2
	}

	switch {
	case cfg.Stop:
		err = Stop(cfg, logger)
	case cfg.Daemon:
		err = Daemon(cfg, logger)
	default:
		err = run(cfg, logger)
	}
	if err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}

func run(cfg Config, logger *log.Logger) error {
	if cfg.Broken == BrokenNoStart {
		return fmt.Errorf("release %s is broken (-broken nostart): refusing to start", cfg.Version)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s, err := Start(ctx, cfg, logger)
	if errors.Is(err, context.Canceled) {
		logger.Printf("stopped before listening (%v)", context.Cause(ctx))
		return nil
	}
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Server is an app that listens but does not serve yet.
type Server struct {
	cfg    Config
	app    *App
	ln     net.Listener
	tlsLn  net.Listener // nil without -tls-listen
	srv    *http.Server
	logger *log.Logger
}

// Start reads the token file, waits out -start-delay, listens and then writes
// the pid file, so that a pid file naming a process means it is listening.
// It returns ctx's error if ctx ends during the delay.
func Start(ctx context.Context, cfg Config, logger *log.Logger) (*Server, error) {
	a := &App{
		Version:    cfg.Version,
		HealthFile: cfg.HealthFile,
		Broken:     cfg.Broken,
		ErrorShare: cfg.ErrorShare,
		PID:        os.Getpid(),
		Started:    time.Now(),
	}
	logger.Printf("starting version %s (pid %d, -start-delay %v)", a.Version, a.PID, cfg.StartDelay)
	var err error
	if cfg.TokenFile != "" {
		token, err := readToken(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		a.Token = token
	}
	if cfg.AuthFile != "" {
		if a.AuthUser, a.AuthPassword, err = readAuth(cfg.AuthFile); err != nil {
			return nil, err
		}
	}
	var tlsConf *tls.Config
	if cfg.TLSListen != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if cfg.StartDelay > 0 {
		t := time.NewTimer(cfg.StartDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w; is the previous process still running? stop it with -stop", cfg.Listen, err)
	}
	// With port 0 only the listener knows the real address.
	a.Host = ln.Addr().String()
	var tlsLn net.Listener
	if tlsConf != nil {
		l, err := net.Listen("tcp", cfg.TLSListen)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen on %s: %w; is the previous process still running? stop it with -stop", cfg.TLSListen, err)
		}
		tlsLn = tls.NewListener(l, tlsConf)
	}
	if cfg.PIDFile != "" {
		if err := writePIDFile(cfg.PIDFile, a.PID); err != nil {
			ln.Close()
			if tlsLn != nil {
				tlsLn.Close()
			}
			return nil, err
		}
	}
	logger.Printf("listening on %s", a.Host)
	if tlsLn != nil {
		logger.Printf("listening on %s (HTTPS)", tlsLn.Addr())
	}
	return &Server{
		cfg:   cfg,
		app:   a,
		ln:    ln,
		tlsLn: tlsLn,
		srv: &http.Server{
			Handler:           a.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          logger,
		},
		logger: logger,
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.app.Host }

// Serve answers requests until ctx ends. Then it stops accepting connections,
// lets in-flight requests finish within -shutdown-timeout and removes the pid
// file. It returns an error if requests had to be cut off.
func (s *Server) Serve(ctx context.Context) error {
	lns := []net.Listener{s.ln}
	if s.tlsLn != nil {
		lns = append(lns, s.tlsLn)
	}
	served := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { served <- s.srv.Serve(ln) }()
	}
	select {
	case err := <-served:
		s.srv.Close()
		for range lns[1:] {
			<-served
		}
		s.removePIDFile()
		return fmt.Errorf("serve on %s: %w", s.app.Host, err)
	case <-ctx.Done():
	}

	s.logger.Printf("shutting down (%v); in-flight requests have %v to finish", context.Cause(ctx), s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	for range lns {
		<-served
	}
	if err != nil {
		s.srv.Close()
		s.removePIDFile()
		return fmt.Errorf("requests still running after -shutdown-timeout %v were cut off: %w", s.cfg.ShutdownTimeout, err)
	}
	s.removePIDFile()
	s.logger.Print("stopped")
	return nil
}

func (s *Server) removePIDFile() {
	if s.cfg.PIDFile == "" {
		return
	}
	if err := removePIDFile(s.cfg.PIDFile, s.app.PID); err != nil {
		s.logger.Print(err)
	}
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read -token-file: %w; the deploy writes it before starting the app", err)
	}
	token := strings.TrimSpace(string(b))
	// An empty token could never prove which process answers.
	if token == "" {
		return "", fmt.Errorf("-token-file %s is empty; the deploy must write a fresh token before starting the app", path)
	}
	return token, nil
}

// readAuth reads user:password from path, trailing newline aside.
func readAuth(path string) (user, pass string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("read -auth-file: %w", err)
	}
	user, pass, ok := strings.Cut(strings.TrimRight(string(b), "\r\n"), ":")
	if !ok || user == "" || pass == "" {
		return "", "", fmt.Errorf("-auth-file %s: want one line user:password", path)
	}
	return user, pass, nil
}
