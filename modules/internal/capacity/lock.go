// Package capacity keeps min_healthy true across the drains of a batch: a
// lock per load-balancer pool on the host the module runs on, held from the
// count of healthy targets until the load balancer shows the target out,
// and the count itself, with the wait for capacity to come back.
//
// The lock serializes drains of one pool started on one host by one user:
// the forks of an ansible-playbook run, delegate_to the same host, and
// rollouts started by hand there. Drains run from other machines or users,
// and other tools changing the pool, are not covered.
package capacity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Key names one pool's lock: ID is a hash of the pool's identity, What is
// how messages name the pool ("load balancer web-lb").
type Key struct {
	ID   string
	What string
}

// NewKey is the key of the pool that parts identify (provider, endpoint,
// id, ...), named what in messages.
func NewKey(what string, parts ...string) Key {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return Key{ID: hex.EncodeToString(sum[:16]), What: what}
}

// Lock polls: a holder keeps a lock for a count and one change (seconds),
// so a waiter looks again soon, and backs off up to lockPollMax.
const (
	lockPollMin = 20 * time.Millisecond
	lockPollMax = 500 * time.Millisecond
	// MaxLockWait bounds a Lock whose context has no deadline.
	MaxLockWait = 10 * time.Minute
)

// Dir returns the per-user lock directory, creating it: under the user's
// cache directory, else under the temporary directory with the user's id
// in its name. A directory that is a symlink, owned by someone else or
// writable by group or others is refused.
func Dir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return secureDirs(os.TempDir(), "zerodowntime_rolling-"+strconv.Itoa(os.Getuid()), "locks")
	}
	return secureDirs(base, "zerodowntime_rolling", "locks")
}

// secureDirs creates each of names in turn below base, 0700, and checks it.
func secureDirs(base string, names ...string) (string, error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("cannot create the lock directory: %w", err)
	}
	dir := base
	for _, n := range names {
		dir = filepath.Join(dir, n)
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("cannot create the lock directory: %w", err)
		}
		fi, err := os.Lstat(dir)
		if err != nil {
			return "", fmt.Errorf("cannot use the lock directory: %w", err)
		}
		if err := private(dir, fi); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// private refuses a lock directory or file another user could swap or
// write: a symlink, not owned by this user, or group/other-writable.
func private(path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("lock path %s is a symlink; remove it", path)
	case !ok || int(st.Uid) != os.Getuid():
		return fmt.Errorf("lock path %s is not owned by this user (uid %d); remove it", path, os.Getuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("lock path %s is writable by group or others (mode %04o); remove it or chmod go-w", path, fi.Mode().Perm())
	}
	return nil
}

// privateFile refuses an open lock or ledger file that is not a regular
// file, or not private to this user.
func privateFile(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("lock path %s is not a regular file; remove it", path)
	}
	return private(path, fi)
}

// Held is a set of pool locks; Release frees them.
type Held struct {
	files []*os.File
	dir   string
	ids   map[string]bool // the keys held, for their ledgers
}

// Release frees the locks. It may be called more than once, and on nil.
func (h *Held) Release() {
	if h == nil {
		return
	}
	for _, f := range h.files {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	h.files, h.ids = nil, nil
}

// Lock takes the locks of keys in dir, in the order of their IDs so that
// two runs locking the same pools cannot deadlock, polling each until ctx
// ends. owner ("pid 42, lb_drain of target web1") is written into each
// lock taken, for the message of whoever waits for it.
func Lock(ctx context.Context, dir, owner string, keys ...Key) (*Held, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, MaxLockWait)
		defer cancel()
	}
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(a, b Key) int { return strings.Compare(a.ID, b.ID) })
	keys = slices.CompactFunc(keys, func(a, b Key) bool { return a.ID == b.ID })
	h := &Held{dir: dir, ids: map[string]bool{}}
	for _, k := range keys {
		f, err := lockOne(ctx, filepath.Join(dir, k.ID+".lock"), k, owner)
		if err != nil {
			h.Release()
			return nil, err
		}
		h.files = append(h.files, f)
		h.ids[k.ID] = true
	}
	return h, nil
}

func lockOne(ctx context.Context, path string, k Key, owner string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open the lock of %s: %w", k.What, err)
	}
	if err := privateFile(f, path); err != nil {
		f.Close()
		return nil, err
	}
	start := time.Now()
	delay := lockPollMin
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("cannot lock %s: %w", k.What, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			holder := readHolder(f)
			f.Close()
			return nil, fmt.Errorf("waited %s for the lock of %s on this host, held by %s; that task still counts or takes out a target of the same pool: %w",
				time.Since(start).Round(time.Millisecond), k.What, holder, context.Cause(ctx))
		case <-t.C:
		}
		delay = min(2*delay, lockPollMax)
	}
	// Only the holder writes: who holds it, for the message of a waiter.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(owner), 0)
	}
	return f, nil
}

// readHolder reads who holds the lock f, bounded.
func readHolder(f *os.File) string {
	buf := make([]byte, 256)
	n, _ := f.ReadAt(buf, 0)
	if s := strings.TrimSpace(strings.ToValidUTF8(string(buf[:n]), "?")); s != "" {
		return s
	}
	return "another task"
}
