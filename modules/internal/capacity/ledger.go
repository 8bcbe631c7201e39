package capacity

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// The ledger of a pool lists its reservations: targets a run has counted
// and is about to take out by other means than this host's drain (the
// health file of method health, made on the app host). A count excludes
// them, as if they were out already, so the hosts of a batch cannot all go
// on one count. It sits beside the pool's lock and is read and written
// only under it; an entry lapses at its expiry, so a killed run blocks
// the pool no longer than its drain timeout.

// Reservation is one target a run is about to take out of a pool.
type Reservation struct {
	Target  string    `json:"target"` // the target's identity, as the caller forms it
	Holder  string    `json:"holder"` // who reserved it, for messages
	Expires time.Time `json:"expires"`
}

// maxLedger bounds a ledger's read: a few hundred entries at most.
const maxLedger = 256 << 10

type ledgerFile struct {
	Reservations []Reservation `json:"reservations"`
}

func (h *Held) ledgerPath(k Key) (string, error) {
	if h == nil || !h.ids[k.ID] {
		return "", fmt.Errorf("the ledger of %s is read and written only under its lock", k.What)
	}
	return filepath.Join(h.dir, k.ID+".ledger"), nil
}

// Reservations returns the pool's reservations live at now.
func (h *Held) Reservations(k Key, now time.Time) ([]Reservation, error) {
	path, err := h.ledgerPath(k)
	if err != nil {
		return nil, err
	}
	rs, err := readLedger(path)
	return live(rs, now), err
}

// Reserve records r in the pool's ledger, replacing an entry of the same
// target, and drops the entries expired at now.
func (h *Held) Reserve(k Key, r Reservation, now time.Time) error {
	return h.rewrite(k, now, func(rs []Reservation) []Reservation {
		rs = slices.DeleteFunc(rs, func(e Reservation) bool { return e.Target == r.Target })
		return append(rs, r)
	})
}

// Unreserve drops target's entry from the pool's ledger, and the entries
// expired at now. It reports whether target had a live entry.
func (h *Held) Unreserve(k Key, target string, now time.Time) (bool, error) {
	had := false
	err := h.rewrite(k, now, func(rs []Reservation) []Reservation {
		return slices.DeleteFunc(rs, func(e Reservation) bool {
			had = had || e.Target == target
			return e.Target == target
		})
	})
	return had, err
}

func (h *Held) rewrite(k Key, now time.Time, edit func([]Reservation) []Reservation) error {
	path, err := h.ledgerPath(k)
	if err != nil {
		return err
	}
	rs, err := readLedger(path)
	if err != nil {
		return err
	}
	rs = edit(live(rs, now))
	if len(rs) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot clear the reservations of %s: %w", k.What, err)
		}
		return nil
	}
	if err := writeLedger(path, rs); err != nil {
		return fmt.Errorf("cannot record the reservations of %s: %w", k.What, err)
	}
	return nil
}

func live(rs []Reservation, now time.Time) []Reservation {
	return slices.DeleteFunc(rs, func(r Reservation) bool { return !now.Before(r.Expires) })
}

// readLedger reads a ledger, refusing one that is a symlink, not a
// regular file, not private to this user, or too large; a missing ledger
// is empty.
func readLedger(path string) ([]Reservation, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case errors.Is(err, syscall.ELOOP):
		return nil, fmt.Errorf("lock path %s is a symlink; remove it", path)
	case err != nil:
		return nil, fmt.Errorf("cannot read the reservations in %s: %w", path, err)
	}
	defer f.Close()
	if err := privateFile(f, path); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxLedger+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the reservations in %s: %w", path, err)
	}
	if len(data) > maxLedger {
		return nil, fmt.Errorf("the reservations in %s are larger than %d bytes; remove the file", path, maxLedger)
	}
	var l ledgerFile
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("the reservations in %s are not valid (%v); remove the file", path, err)
	}
	return l.Reservations, nil
}

// writeLedger replaces the ledger at once: a temporary file in the same
// directory, renamed over it.
func writeLedger(path string, rs []Reservation) error {
	data, err := json.Marshal(ledgerFile{Reservations: rs})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ledger-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
