package store

import (
	"context"
	"os"

	"arbor/store/object"
)

// Change is one difference between two trees.
type Change struct {
	Kind byte // 'M' modified, 'D' deleted, 'A' added
	Path string
}

// Diff compares the trees of two commits as ostree diff does, skipping
// subtrees whose checksums match: a changed file, a changed directory mode
// or a change between file and directory is 'M'; a deleted directory is
// one 'D'; an added directory is 'A' with everything in it. Modifications
// come first, then deletions, then additions, each in tree order. The
// changes stream to fn: each kind is a walk of its own over the subtrees
// that differ, holding one dirtree per level and side.
func (r *Repo) Diff(ctx context.Context, a, b object.Checksum, fn func(Change) error) error {
	ra, err := r.RootOf(a)
	if err != nil {
		return err
	}
	rb, err := r.RootOf(b)
	if err != nil {
		return err
	}
	return diff(ctx, r, ra, rb, fn)
}

func diff(ctx context.Context, src TreeReader, a, b Root, fn func(Change) error) error {
	if a.Tree == b.Tree {
		return nil
	}
	for _, kind := range []byte{'M', 'D', 'A'} {
		df := differ{src: src, a: a.Commit, b: b.Commit, kind: kind, fn: fn}
		if err := df.dirs(ctx, a.dir(), b.dir()); err != nil {
			return err
		}
	}
	return nil
}

// differ is one pass of a diff, reporting changes of one kind.
type differ struct {
	src  TreeReader
	a, b object.Checksum // the commits, named in errors
	kind byte
	fn   func(Change) error
}

// diffEntry is a file or directory of one side.
type diffEntry struct {
	dir        bool
	file       object.Checksum
	tree, meta object.Checksum
}

func entries(t *object.DirTree) map[string]diffEntry {
	m := make(map[string]diffEntry, len(t.Files)+len(t.Dirs))
	for _, f := range t.Files {
		m[f.Name] = diffEntry{file: f.Checksum}
	}
	for _, d := range t.Dirs {
		m[d.Name] = diffEntry{dir: true, tree: d.Tree, meta: d.Meta}
	}
	return m
}

// dirs compares two directories of the same path whose trees differ.
func (df *differ) dirs(ctx context.Context, a, b Dir) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.Depth > MaxTreeDepth {
		return walkError(df.b, b.Path, ErrTooDeep)
	}
	ta, err := df.src.DirTree(ctx, a.Tree)
	if err != nil {
		return walkError(df.a, a.Path, err)
	}
	tb, err := df.src.DirTree(ctx, b.Tree)
	if err != nil {
		return walkError(df.b, b.Path, err)
	}
	inB := entries(tb)
	// a's entries in its order: files, then directories.
	for i := 0; i < len(ta.Files)+len(ta.Dirs); i++ {
		var name string
		var x diffEntry
		if i < len(ta.Files) {
			f := ta.Files[i]
			name, x = f.Name, diffEntry{file: f.Checksum}
		} else {
			d := ta.Dirs[i-len(ta.Files)]
			name, x = d.Name, diffEntry{dir: true, tree: d.Tree, meta: d.Meta}
		}
		y, ok := inB[name]
		var err error
		switch {
		case !ok:
			err = df.report('D', childPath(a.Path, name))
		case x.dir != y.dir:
			err = df.report('M', childPath(a.Path, name))
		case !x.dir:
			if x.file != y.file {
				err = df.report('M', childPath(a.Path, name))
			}
		default:
			if x.meta != y.meta {
				err = df.report('M', childPath(a.Path, name))
			}
			if err == nil && x.tree != y.tree {
				de := object.DirEntry{Name: name}
				ca, cb := a.child(de), b.child(de)
				ca.Tree, ca.Meta, cb.Tree, cb.Meta = x.tree, x.meta, y.tree, y.meta
				err = df.dirs(ctx, ca, cb)
			}
		}
		if err != nil {
			return err
		}
	}
	if df.kind != 'A' {
		return nil
	}
	inA := entries(ta)
	for _, f := range tb.Files {
		if _, ok := inA[f.Name]; !ok {
			if err := df.fn(Change{'A', childPath(b.Path, f.Name)}); err != nil {
				return err
			}
		}
	}
	for _, d := range tb.Dirs {
		if _, ok := inA[d.Name]; ok {
			continue
		}
		added := Root{Commit: df.b, Path: childPath(b.Path, d.Name), Tree: d.Tree, Meta: d.Meta}
		err := WalkPaths(ctx, df.src, added, 0, struct{}{}, nodeVisitor(func(n Node) error {
			return df.fn(Change{'A', n.Path})
		}))
		if err != nil {
			return err
		}
	}
	return nil
}

// report hands a change of this pass's kind to fn.
func (df *differ) report(kind byte, path string) error {
	if kind != df.kind {
		return nil
	}
	return df.fn(Change{kind, path})
}

// Reindex throws the index away and rebuilds it from the object files.
func (r *Repo) Reindex() error {
	if r.idx != nil {
		return r.idx.Rebuild()
	}
	if err := os.RemoveAll(r.IndexDir()); err != nil {
		return err
	}
	return nil
}
