package deploytoken

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"
)

func ownerOptions(want fileState) string {
	switch {
	case want.uid >= 0 && want.gid >= 0:
		return "owner/group"
	case want.uid >= 0:
		return "owner"
	}
	return "group"
}

func ownerText(uid, gid int) string {
	var parts []string
	if uid >= 0 {
		parts = append(parts, "uid "+strconv.Itoa(uid))
	}
	if gid >= 0 {
		parts = append(parts, "gid "+strconv.Itoa(gid))
	}
	return strings.Join(parts, ", ")
}

// lookupOwner resolves owner, a user name or a numeric uid.
func lookupOwner(name string) (int, error) {
	return lookupID("owner", "user", "uid", "passwd", name, func(n string) (string, error) {
		u, err := user.Lookup(n)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	})
}

// lookupGroup resolves group, a group name or a numeric gid.
func lookupGroup(name string) (int, error) {
	return lookupID("group", "group", "gid", "group", name, func(n string) (string, error) {
		g, err := user.LookupGroup(n)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	})
}

// lookupID reads the user or group database through os/user and then, for
// names it does not know, through getent: a static build reads only
// /etc/passwd and /etc/group, while service accounts may come from LDAP or
// sssd.
func lookupID(option, what, idName, db, name string, lookup func(string) (string, error)) (int, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return -1, fmt.Errorf("%s: the value is empty; give a %s name or a numeric %s, or omit %s", option, what, idName, option)
	}
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		if id == 1<<32-1 {
			return -1, fmt.Errorf("%s: %d is not a valid %s", option, id, idName)
		}
		return int(id), nil
	}
	id, err := lookup(name)
	if err != nil {
		id, err = getent(db, name)
		if errors.Is(err, errGetentSlow) {
			return -1, fmt.Errorf("%s: %v; give a numeric %s, or fix the host's name service", option, err, idName)
		}
	}
	if err != nil || id == "" {
		return -1, fmt.Errorf("%s: no %s named %q on this host; give an existing %s name or a numeric %s", option, what, name, what, idName)
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return -1, fmt.Errorf("%s: the %s database gives %q the %s %q, which is not a number", option, what, name, idName, id)
	}
	return n, nil
}

// getentTimeout bounds a getent call: a name service that does not answer
// (LDAP, sssd) must not hold the task for ever.
var getentTimeout = 5 * time.Second

// maxEntry bounds what is read of getent's answer, one database entry.
const maxEntry = 64 << 10

var errGetentSlow = errors.New("getent did not answer")

// getent returns the ID of name in a name service database, or "". Only
// the first line of the answer is kept; getent is ended once it is in.
func getent(db, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), getentTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "getent", db, name)
	cmd.WaitDelay = time.Second // a child of getent may hold its output open
	out := &firstLine{done: cancel}
	cmd.Stdout = out
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !out.full {
		return "", fmt.Errorf("%w: looking up %q in the %s database took more than %s", errGetentSlow, name, db, getentTimeout)
	}
	line, _, complete := strings.Cut(string(out.b), "\n")
	if !complete && err != nil {
		return "", err
	}
	fields := strings.Split(line, ":")
	if len(fields) < 3 || fields[0] != name {
		return "", nil
	}
	return fields[2], nil
}

// firstLine keeps what is written up to the first newline, at most
// maxEntry bytes, and calls done when it has it; the rest is discarded.
type firstLine struct {
	b    []byte
	full bool
	done func()
}

func (w *firstLine) Write(p []byte) (int, error) {
	if w.full {
		return len(p), nil
	}
	keep := p[:min(len(p), maxEntry-len(w.b))]
	if i := bytes.IndexByte(keep, '\n'); i >= 0 {
		keep = keep[:i+1]
	}
	w.b = append(w.b, keep...)
	if bytes.HasSuffix(w.b, []byte("\n")) || len(w.b) == maxEntry {
		w.full = true
		w.done()
	}
	return len(p), nil
}
