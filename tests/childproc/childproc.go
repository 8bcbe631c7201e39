// Package childproc holds what the tests do with the daemons they start
// (HAProxy, sshd): tie each to the test's life, and wait until it is ready
// without outliving it.
package childproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrExited is returned by WaitReady when the process exits first.
var ErrExited = errors.New("exited before it was ready")

// WaitReady calls ready every 20ms until it returns nil, and returns nil
// then. It returns an error naming what, with ready's last error, when
// exited is closed, ctx ends or timeout passes first.
func WaitReady(ctx context.Context, what string, timeout time.Duration, exited <-chan struct{}, ready func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s %w (last error: %v)", what, ErrExited, err)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready within %v (last error: %v)", what, timeout, err)
			}
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// Listening is a check for WaitReady: addr accepts TCP connections.
func Listening(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	}
}
