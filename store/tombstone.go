package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"arbor/store/atomic"
	"arbor/store/gvariant"
	"arbor/store/object"
)

// TombstonesEnabled says whether deleting a commit leaves a tombstone
// (core.tombstone-commits), which tells pullers the commit was deleted on
// purpose rather than lost.
func (r *Repo) TombstonesEnabled() bool {
	on, _ := r.Config().Bool("core", "tombstone-commits", false)
	return on
}

// EnableTombstones turns core.tombstone-commits on.
func (r *Repo) EnableTombstones() error {
	if r.TombstonesEnabled() {
		return nil
	}
	return r.EditConfig(func(f ConfigFile) error {
		f.Set("core", "tombstone-commits", "true")
		return nil
	})
}

var tTombstone = gvariant.MustType("a{sv}")

// tombstoneBytes is a tombstone's content: {"commit": <checksum>}.
func tombstoneBytes(c object.Checksum) ([]byte, error) {
	return gvariant.Encode(tTombstone, []any{[]any{"commit", gvariant.Variant{Type: gvariant.MustType("s"), Value: c.String()}}})
}

// WriteTombstone records that commit c was deleted on purpose.
func (r *Repo) WriteTombstone(c object.Checksum) error {
	b, err := tombstoneBytes(c)
	if err != nil {
		return err
	}
	p := r.ObjectPath(c, object.TypeTombstoneCommit)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("tombstone of %s: %w", c, err)
	}
	if err := atomic.WriteFile(p, b, 0o644, r.fsync); err != nil {
		return fmt.Errorf("tombstone of %s: %w", c, err)
	}
	return nil
}

// HasTombstone says whether commit c has a tombstone.
func (r *Repo) HasTombstone(c object.Checksum) (bool, error) {
	return r.HasObject(c, object.TypeTombstoneCommit)
}

// removeTombstone drops the tombstone of a commit that is stored again.
func (r *Repo) removeTombstone(c object.Checksum) error {
	if err := os.Remove(r.ObjectPath(c, object.TypeTombstoneCommit)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tombstone of %s: %w", c, err)
	}
	return nil
}

// MissingParents lists the parents of stored commits that are not stored
// themselves: history pruned away, which tombstones can mark as deleted.
func (r *Repo) MissingParents(ctx context.Context) ([]object.Checksum, error) {
	commits, err := r.Commits(ctx)
	if err != nil {
		return nil, err
	}
	have := map[object.Checksum]bool{}
	for _, c := range commits {
		have[c] = true
	}
	var out []object.Checksum
	seen := map[object.Checksum]bool{}
	for _, c := range commits {
		cm, err := r.ReadCommit(c)
		if err != nil {
			return nil, err
		}
		if p := cm.Parent; !p.IsZero() && !have[p] && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}
