package benchkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Base is the collection of an earlier commit, built from that commit's own
// tree with its own Makefile and installed into a collections path of its
// own, to run beside the checkout's in one benchmark.
type Base struct {
	Commit          string // full hash
	Tarball         string
	CollectionsPath string // holds ansible_collections/zerodowntime/rolling
}

// BaseBuildTimeout bounds the build of an earlier commit's collection: its
// make collection cross-compiles every platform and may first fetch the
// Go modules that commit needs through the module proxy.
const BaseBuildTimeout = 20 * time.Minute

var hexRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// BaseCacheDir is where the build of commit (a full hash) is kept:
// ~/.cache/zerodowntime_rolling/bench-<first 7 hex digits>, with the full
// hash in its file "commit" (a different commit with the same prefix
// rebuilds it).
func BaseCacheDir(cacheHome, commit string) (string, error) {
	if !hexRE.MatchString(commit) {
		return "", fmt.Errorf("commit %q is not a full 40-digit hash", commit)
	}
	return filepath.Join(cacheHome, "zerodowntime_rolling", "bench-"+commit[:7]), nil
}

// BuildBase returns the collection of rev (a commit of the repository at
// root), building it on first use: git archive of that commit into a
// temporary directory, its make collection there, and an ansible-galaxy
// install of the tarball, all kept under BaseCacheDir so that later runs
// take it as it is. Concurrent callers wait for one build (a file lock).
// The error says which step failed and keeps the end of its output.
func BuildBase(ctx context.Context, root, rev string) (*Base, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--verify", rev+"^{commit}").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("commit %s: git rev-parse: %v: %s", rev, err, tail(out))
	}
	commit := strings.TrimSpace(string(out))
	cacheHome, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	dir, err := BaseCacheDir(cacheHome, commit)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	b := &Base{Commit: commit, CollectionsPath: filepath.Join(dir, "collections")}
	if got, _ := os.ReadFile(filepath.Join(dir, "commit")); strings.TrimSpace(string(got)) == commit {
		matches, _ := filepath.Glob(filepath.Join(dir, "zerodowntime-rolling-*.tar.gz"))
		_, err := os.Stat(filepath.Join(b.CollectionsPath, "ansible_collections", "zerodowntime", "rolling", "MANIFEST.json"))
		if len(matches) == 1 && err == nil {
			b.Tarball = matches[0]
			return b, nil
		}
	}
	// Anything there is a build of another commit or a cut one.
	for _, p := range []string{"commit", "collections"} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			return nil, err
		}
	}
	old, _ := filepath.Glob(filepath.Join(dir, "zerodowntime-rolling-*.tar.gz"))
	for _, o := range old {
		os.Remove(o)
	}

	src, err := os.MkdirTemp("", "zdt-base-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(src)
	if err := archive(ctx, root, commit, src); err != nil {
		return nil, err
	}
	mk := exec.CommandContext(ctx, "make", "-s", "collection")
	mk.Dir = src
	// Its own Makefile names its own tarball.
	mk.Env = withoutEnv(os.Environ(), "ZDT_COLLECTION", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
	if out, err := mk.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("commit %s: make collection in its tree: %v: %s", commit[:7], err, tail(out))
	}
	built, _ := filepath.Glob(filepath.Join(src, "collection", "zerodowntime-rolling-*.tar.gz"))
	if len(built) != 1 {
		return nil, fmt.Errorf("commit %s: make collection left %d tarballs in collection/, want 1", commit[:7], len(built))
	}
	b.Tarball = filepath.Join(dir, filepath.Base(built[0]))
	if err := copyFile(built[0], b.Tarball); err != nil {
		return nil, err
	}
	staging := b.CollectionsPath + ".staging"
	os.RemoveAll(staging)
	if out, err := exec.CommandContext(ctx, "ansible-galaxy", "collection", "install", "--force", "-p", staging, b.Tarball).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("commit %s: ansible-galaxy collection install: %v: %s", commit[:7], err, tail(out))
	}
	if err := os.Rename(staging, b.CollectionsPath); err != nil {
		return nil, err
	}
	// Written last: its presence says the rest is complete.
	if err := os.WriteFile(filepath.Join(dir, "commit"), []byte(commit+"\n"), 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

// archive writes commit's tree into dir (git archive | tar -x).
func archive(ctx context.Context, root, commit, dir string) error {
	git := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", commit)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", dir)
	pipe, err := git.StdoutPipe()
	if err != nil {
		return err
	}
	untar.Stdin = pipe
	var gitErr, tarErr strings.Builder
	git.Stderr, untar.Stderr = &gitErr, &tarErr
	if err := git.Start(); err != nil {
		return err
	}
	if err := untar.Run(); err != nil {
		_ = git.Wait()
		return fmt.Errorf("commit %s: tar -x of git archive: %v: %s", commit[:7], err, tarErr.String())
	}
	if err := git.Wait(); err != nil {
		return fmt.Errorf("commit %s: git archive: %v: %s", commit[:7], err, gitErr.String())
	}
	return nil
}

// withoutEnv is env less the variables named.
func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			if k == n {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := to + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, to)
}

// tail is the last 2000 bytes of a command's output, for an error.
func tail(out []byte) string {
	s := strings.TrimSpace(string(out))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
