package store

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"arbor/store/index"
	"arbor/store/object"
)

// DiffDir compares a commit's tree with a directory as it would be
// committed with opts (its ownership and xattr options), reporting
// changes as Diff does. The directory's objects are written only to a
// transaction that is dropped afterwards: the repository is left as it
// was.
func (r *Repo) DiffDir(ctx context.Context, a object.Checksum, dir string, opts CommitOptions, fn func(Change) error) error {
	ra, err := r.RootOf(a)
	if err != nil {
		return err
	}
	t, err := r.Begin(ctx)
	if err != nil {
		return err
	}
	defer t.Abort()
	workers := 2*runtime.GOMAXPROCS(0) + 2
	cm := &committer{ctx: ctx, t: t, opts: &opts, sem: make(chan struct{}, workers), reach: map[index.Ref]struct{}{},
		own: r.ownDirs(), trees: map[object.Checksum]object.DirTree{}}
	tree, meta, err := cm.source(TreeSource{Dir: dir})
	if err != nil {
		return fmt.Errorf("diff %s: %w", dir, err)
	}
	return diff(ctx, committedTrees{cm}, ra, Root{Path: "/", Tree: tree, Meta: meta}, func(ch Change) error {
		if ch.Kind == 'A' {
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
