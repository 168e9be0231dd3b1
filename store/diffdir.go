package store

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"arbor/store/index"
	"arbor/store/object"
)

// DiffSide is one side of a diff: a commit, or a directory on disk
// (Dir set), read as it would be committed.
type DiffSide struct {
	Commit object.Checksum
	Dir    string
}

// DiffDir reports the changes from commit a to directory dir as it would
// be committed with opts (ownership, xattrs), writing nothing.
func (r *Repo) DiffDir(ctx context.Context, a object.Checksum, dir string, opts CommitOptions, fn func(Change) error) error {
	return r.DiffSides(ctx, DiffSide{Commit: a}, DiffSide{Dir: dir}, opts, fn)
}

// DiffSides reports the changes from a to b, either of which may be a
// directory, read by the committer and staged in a transaction that is
// thrown away: nothing is written to the repository.
func (r *Repo) DiffSides(ctx context.Context, a, b DiffSide, opts CommitOptions, fn func(Change) error) error {
	t, err := r.Begin(ctx)
	if err != nil {
		return err
	}
	defer t.Abort()
	workers := 2*runtime.GOMAXPROCS(0) + 2
	cm := &committer{ctx: ctx, t: t, opts: &opts, sem: make(chan struct{}, workers), reach: map[index.Ref]struct{}{},
		own: r.ownDirs(), trees: map[object.Checksum]object.DirTree{}}
	var roots [2]Root
	for i, s := range []DiffSide{a, b} {
		if s.Dir == "" {
			if roots[i], err = r.RootOf(s.Commit); err != nil {
				return err
			}
			continue
		}
		tree, meta, err := cm.source(TreeSource{Dir: s.Dir})
		if err != nil {
			return fmt.Errorf("diff %s: %w", s.Dir, err)
		}
		roots[i] = Root{Path: "/", Tree: tree, Meta: meta}
	}
	return diff(ctx, committedTrees{cm}, roots[0], roots[1], func(ch Change) error {
		if ch.Kind == 'A' && b.Dir != "" {
			// As ostree prints them: what only the directory has is
			// named relative to it, the rest by its path in the commit.
			ch.Path = strings.TrimPrefix(ch.Path, "/")
		}
		return fn(ch)
	})
}

// committedTrees reads the dirtrees a committer wrote, then the repository's.
type committedTrees struct{ cm *committer }

func (c committedTrees) DirTree(_ context.Context, tree object.Checksum) (*object.DirTree, error) {
	t, err := c.cm.readTree(tree)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
