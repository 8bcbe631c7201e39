// Command lbsim runs the load balancer simulator: it prints one JSON line
// with its endpoints and credentials, then serves until SIGTERM or SIGINT.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

//go:embed default.yml
var defaultConfig []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "lbsim:", err)
		os.Exit(1)
	}
}

// run starts the simulator, prints the startup line on stdout and blocks
// until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lbsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML or JSON config `file` (default: the embedded default.yml)")
	verbose := fs.Bool("v", false, "log state changes to stderr")
	printDefault := fs.Bool("print-default-config", false, "print the embedded default config and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *printDefault {
		_, err := stdout.Write(defaultConfig)
		return err
	}
	var cfg *sim.Config
	var err error
	if *path == "" {
		cfg, err = sim.Parse(defaultConfig)
	} else {
		cfg, err = sim.Load(*path)
	}
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	s, err := sim.Start(ctx, cfg, sim.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))))
	if err != nil {
		return err
	}
	defer s.Close()
	line, err := json.Marshal(s.Endpoints())
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}
