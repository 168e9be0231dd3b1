package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"arbor/store/index"
	"arbor/store/object"
	"arbor/store/refs"
)

// PruneOptions follow ostree prune's flags.
type PruneOptions struct {
	// RefsOnly keeps only commits reachable from refs (within Depth).
	RefsOnly bool
	// Depth is how many parents of each ref to keep; -1 keeps all.
	Depth int
	// KeepYoungerThan, when set, deletes commits older than it that no ref
	// points at directly.
	KeepYoungerThan time.Time
	// DryRun (--no-prune) reports without deleting.
	DryRun bool
	// NoWait gives up at once, with ErrLocked, when another process is
	// writing to the repository, instead of waiting for it.
	NoWait bool
	// DeleteCommit, when set, is a commit to delete first (leaving a
	// tombstone); a commit a ref points at is refused.
	DeleteCommit object.Checksum
	// RetainDepth gives refs a depth of their own instead of Depth; the
	// commits it keeps are kept whatever KeepYoungerThan says.
	RetainDepth map[string]int
	// OnlyBranches, when set, limits pruning to these refs: every other
	// keeps its whole history (unless RetainDepth says otherwise).
	OnlyBranches []string
	// CommitOnly deletes only commit objects, leaving what they reached
	// to a later prune.
	CommitOnly bool
}

// ErrLocked is returned by a prune that would have had to wait.
var ErrLocked = errors.New("the repository is busy")

// PruneResult is what prune deleted (or would delete).
type PruneResult struct {
	Total, Deleted int
	Freed          int64
	DeletedCommits []object.Checksum
}

// Prune deletes objects no kept commit reaches. It holds the exclusive
// repo lock, so no ostree or arbor writer runs meanwhile.
func (r *Repo) Prune(ctx context.Context, opts PruneOptions) (*PruneResult, error) {
	lctx := ctx
	if opts.NoWait {
		var cancel context.CancelFunc
		lctx, cancel = context.WithCancel(ctx)
		cancel() // one attempt
	}
	unlock, err := r.Lock(lctx, LockExclusive)
	if err != nil {
		if opts.NoWait && ctx.Err() == nil {
			return nil, fmt.Errorf("prune: %w", ErrLocked)
		}
		return nil, err
	}
	defer unlock()
	idx, err := r.Index(ctx)
	if err != nil {
		return nil, err
	}
	all, err := r.pruneRoots()
	if err != nil {
		return nil, err
	}
	if !opts.DeleteCommit.IsZero() && !opts.DryRun {
		if err := r.deleteCommit(ctx, all, opts.DeleteCommit); err != nil {
			return nil, err
		}
	}
	commits, err := r.Commits(ctx)
	if err != nil {
		return nil, err
	}
	heads := map[object.Checksum]bool{}
	for _, c := range all {
		heads[c] = true
	}
	retain := map[string]int{}
	for n, d := range opts.RetainDepth {
		retain[n] = d
	}
	for _, b := range opts.OnlyBranches {
		if _, ok := all[b]; !ok {
			return nil, fmt.Errorf("Refspec '%s' not found", b)
		}
	}
	if len(opts.OnlyBranches) > 0 {
		for n := range all {
			if _, ok := retain[n]; !ok && !slices.Contains(opts.OnlyBranches, n) {
				retain[n] = -1
			}
		}
	}
	keep := map[object.Checksum]bool{}
	protected := map[object.Checksum]bool{} // kept by RetainDepth
	// left is the most history below a commit a walk has kept, so a
	// walk stops where an earlier one kept at least as much.
	left := map[object.Checksum]int{}
	// Each ref keeps its head and Depth parents (or its own depth).
	for _, name := range refs.SortedNames(all) {
		c := all[name]
		limit, retained := retain[name]
		if !retained {
			limit = opts.Depth
		}
		for depth := 0; limit < 0 || depth <= limit; depth++ {
			rest := math.MaxInt
			if limit >= 0 {
				rest = limit - depth
			}
			if l, ok := left[c]; ok && l >= rest && (!retained || protected[c]) {
				break
			}
			left[c] = max(left[c], rest)
			if retained {
				protected[c] = true
			}
			cm, err := r.ReadCommit(c)
			if errors.Is(err, ErrObjectMissing) && depth > 0 {
				break // history already pruned
			}
			if err != nil {
				return nil, fmt.Errorf("ref %s: %w", name, err)
			}
			keep[c] = true
			if cm.Parent.IsZero() {
				break
			}
			c = cm.Parent
		}
	}
	// Refs given depths of their own mean only what refs reach is kept.
	if !opts.RefsOnly && len(opts.RetainDepth) == 0 && len(opts.OnlyBranches) == 0 {
		for _, c := range commits {
			keep[c] = true
		}
	}
	if !opts.KeepYoungerThan.IsZero() {
		cut := uint64(opts.KeepYoungerThan.Unix())
		for c := range keep {
			if heads[c] || protected[c] {
				continue
			}
			cm, err := r.ReadCommit(c)
			if err != nil {
				return nil, err
			}
			if cm.Timestamp < cut {
				delete(keep, c)
			}
		}
	}
	live := map[index.Ref]bool{}
	for c := range keep {
		if opts.CommitOnly {
			live[index.Ref{Checksum: c, Type: object.TypeCommit}] = true
			continue
		}
		reach, err := r.Reach(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", c, err)
		}
		for _, ref := range reach {
			live[ref] = true
		}
	}
	res := &PruneResult{}
	var dead []index.Entry
	err = idx.Objects(func(e index.Entry) error {
		if e.Type == object.TypeCommitMeta || e.Type == object.TypeTombstoneCommit {
			return nil // goes with its commit; outlives it
		}
		res.Total++
		if live[e.Ref] {
			return nil
		}
		if e.Type == object.TypeCommit || !opts.CommitOnly && (e.Type == object.TypeFile || e.Type.IsMeta()) {
			dead = append(dead, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Commits first, so no commit is ever left pointing at deleted objects.
	var gone []index.Ref
	for pass := 0; pass < 2; pass++ {
		for _, e := range dead {
			if (e.Type == object.TypeCommit) != (pass == 0) {
				continue
			}
			res.Deleted++
			res.Freed += e.Size
			if e.Type == object.TypeCommit {
				res.DeletedCommits = append(res.DeletedCommits, e.Checksum)
			}
			if opts.DryRun {
				continue
			}
			removed, err := r.removeObject(e.Ref)
			gone = append(gone, removed...)
			if err == nil && e.Type == object.TypeCommit && r.TombstonesEnabled() {
				err = r.WriteTombstone(e.Checksum)
			}
			if err != nil {
				return res, err
			}
		}
	}
	if err := idx.Remove(gone); err != nil {
		return res, fmt.Errorf("index: %w", err)
	}
	return res, nil
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// pruneRoots are the refs whose commits a prune keeps: every ref, and the
// mirrored refs of other collections, named "(COLLECTION, REF)".
func (r *Repo) pruneRoots() (map[string]object.Checksum, error) {
	all, err := r.Refs()
	if err != nil {
		return nil, err
	}
	mirrors, err := r.refs().Mirrors()
	if err != nil {
		return nil, err
	}
	for cr, c := range mirrors {
		all["("+cr.Collection+", "+cr.Ref+")"] = c
	}
	return all, nil
}

// deleteCommit deletes a commit no root points at, with its detached
// metadata, and leaves its tombstone, turning tombstones on as ostree does.
func (r *Repo) deleteCommit(ctx context.Context, roots map[string]object.Checksum, c object.Checksum) error {
	for _, name := range refs.SortedNames(roots) {
		if roots[name] == c {
			return fmt.Errorf("Commit '%s' is referenced by '%s'", c, name)
		}
	}
	if err := r.EnableTombstones(); err != nil {
		return err
	}
	removed, err := r.removeObject(index.Ref{Checksum: c, Type: object.TypeCommit})
	if err != nil {
		return err
	}
	idx, err := r.Index(ctx)
	if err != nil {
		return err
	}
	if err := idx.Remove(removed); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return r.WriteTombstone(c)
}

// RemoveObjects deletes objects from the store and its index: what a
// repair found corrupt, to be fetched again.
func (r *Repo) RemoveObjects(ctx context.Context, refs []index.Ref) error {
	idx, err := r.Index(ctx)
	if err != nil {
		return err
	}
	var gone []index.Ref
	var errs []error
	for _, x := range refs {
		removed, err := r.removeObject(x)
		gone = append(gone, removed...)
		errs = append(errs, err)
	}
	if err := idx.Remove(gone); err != nil {
		errs = append(errs, fmt.Errorf("index: %w", err))
	}
	return errors.Join(errs...)
}

// removeObject deletes one object's file (a commit's detached metadata
// and partial mark with it) and returns what the index must forget.
func (r *Repo) removeObject(x index.Ref) ([]index.Ref, error) {
	if err := removeIfExists(r.ObjectPath(x.Checksum, x.Type)); err != nil {
		return nil, fmt.Errorf("deleting %s: %w", object.Name(x.Checksum, x.Type), err)
	}
	gone := []index.Ref{x}
	if x.Type == object.TypeCommit {
		if err := removeIfExists(r.ObjectPath(x.Checksum, object.TypeCommitMeta)); err != nil {
			return gone, fmt.Errorf("deleting %s: %w", object.Name(x.Checksum, object.TypeCommitMeta), err)
		}
		removeIfExists(filepath.Join(r.path, "state", x.Checksum.String()+".commitpartial"))
		gone = append(gone, index.Ref{Checksum: x.Checksum, Type: object.TypeCommitMeta})
	}
	return gone, nil
}
