// Package hostile commits trees meant to hurt whatever walks them: a few
// dirtrees that list each other many times over (exponentially many paths
// from a handful of objects), and directories nested too deep. Tests of
// every walk build their input here.
package hostile

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"arbor/store"
	"arbor/store/object"
)

// FileName is the file in the deepest directory of a Chain, and of a
// DAG that names none.
const FileName = "f"

// DAG is a tree of Levels+1 distinct dirtrees: each lists the next one
// Fanout times, as directories named a, b, c, ..., and the last holds one
// file, named File (FileName if empty). It has Fanout^Levels directories
// at its bottom (16 and 6 make 16.7M). Extra, when set, is the path of one
// more file ("a/a/new"), which makes new dirtrees along its way only.
type DAG struct {
	Fanout, Levels int
	Extra          []string
	File           string
}

// Name is the name of the i-th directory of a DAG's dirtree.
func Name(i int) string {
	if i < 26 {
		return string(rune('a' + i))
	}
	return fmt.Sprintf("z%04d", i)
}

// Commit writes the DAG's objects and a commit of it on branch.
func (g DAG) Commit(ctx context.Context, r *store.Repo, branch string) (object.Checksum, error) {
	return commit(ctx, r, branch, func(w *writer) (object.Checksum, error) {
		return g.tree(w, g.Levels, g.Extra)
	})
}

// Graft commits the tree of commit base with the DAG in it at dir (a
// slash-separated path, its directories made where missing; what was at
// dir is replaced), as a hostile release of an app would hold it in one
// place (export/share/icons) among ordinary files.
func (g DAG) Graft(ctx context.Context, r *store.Repo, base object.Checksum, dir, branch string) (object.Checksum, error) {
	bc, err := r.ReadCommit(base)
	if err != nil {
		return object.Zero, err
	}
	return commit(ctx, r, branch, func(w *writer) (object.Checksum, error) {
		dag, err := g.tree(w, g.Levels, g.Extra)
		if err != nil {
			return object.Zero, err
		}
		return graft(w, r, bc.RootTree, strings.Split(strings.Trim(dir, "/"), "/"), dag)
	})
}

// graft writes a copy of the dirtree tree (none if zero) with sub at path.
func graft(w *writer, r *store.Repo, tree object.Checksum, path []string, sub object.Checksum) (object.Checksum, error) {
	var t object.DirTree
	if !tree.IsZero() {
		var err error
		if t, err = r.ReadDirTree(tree); err != nil {
			return object.Zero, err
		}
	}
	name, at := path[0], -1
	files := t.Files[:0:0]
	for _, f := range t.Files {
		if f.Name != name {
			files = append(files, f)
		}
	}
	t.Files = files
	for i, d := range t.Dirs {
		if d.Name == name {
			at = i
		}
	}
	if at < 0 {
		t.Dirs = append(t.Dirs, object.DirEntry{Name: name, Meta: w.meta})
		sort.Slice(t.Dirs, func(i, j int) bool { return t.Dirs[i].Name < t.Dirs[j].Name })
		for i, d := range t.Dirs {
			if d.Name == name {
				at = i
			}
		}
	}
	if len(path) == 1 {
		t.Dirs[at].Tree = sub
		return w.tree(t)
	}
	below, err := graft(w, r, t.Dirs[at].Tree, path[1:], sub)
	if err != nil {
		return object.Zero, err
	}
	t.Dirs[at].Tree = below
	return w.tree(t)
}

// tree writes the dirtree of a DAG level whose path goes on along extra.
func (g DAG) tree(w *writer, level int, extra []string) (object.Checksum, error) {
	var t object.DirTree
	if level == 0 {
		name := g.File
		if name == "" {
			name = FileName
		}
		t.Files = []object.FileEntry{{Name: name, Checksum: w.file}}
	} else {
		below, err := w.level(g, level-1)
		if err != nil {
			return object.Zero, err
		}
		for i := 0; i < g.Fanout; i++ {
			t.Dirs = append(t.Dirs, object.DirEntry{Name: Name(i), Tree: below, Meta: w.meta})
		}
	}
	switch {
	case len(extra) == 1:
		t.Files = append(t.Files, object.FileEntry{Name: extra[0], Checksum: w.file})
		sortFiles(t.Files)
	case len(extra) > 1:
		for i := range t.Dirs {
			if t.Dirs[i].Name == extra[0] {
				sub, err := g.tree(w, level-1, extra[1:])
				if err != nil {
					return object.Zero, err
				}
				t.Dirs[i].Tree = sub
			}
		}
	}
	return w.tree(t)
}

func sortFiles(fs []object.FileEntry) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Name < fs[j-1].Name; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// Chain commits a tree of Depth directories named d, each inside the
// last, the deepest holding one file: its deepest directory is at depth
// Depth below the root.
func Chain(ctx context.Context, r *store.Repo, branch string, depth int) (object.Checksum, error) {
	return commit(ctx, r, branch, func(w *writer) (object.Checksum, error) {
		c, err := w.tree(object.DirTree{Files: []object.FileEntry{{Name: FileName, Checksum: w.file}}})
		for i := 0; i < depth && err == nil; i++ {
			c, err = w.tree(object.DirTree{Dirs: []object.DirEntry{{Name: "d", Tree: c, Meta: w.meta}}})
		}
		return c, err
	})
}

// writer writes a hostile tree's objects in one transaction.
type writer struct {
	txn    *store.Txn
	file   object.Checksum // the one content object
	meta   object.Checksum // the one dirmeta
	levels map[int]object.Checksum
}

// level is the plain dirtree of a DAG level, written once.
func (w *writer) level(g DAG, level int) (object.Checksum, error) {
	if c, ok := w.levels[level]; ok {
		return c, nil
	}
	c, err := g.tree(w, level, nil)
	if err == nil {
		w.levels[level] = c
	}
	return c, err
}

func (w *writer) tree(t object.DirTree) (object.Checksum, error) {
	return w.txn.WriteMeta(object.TypeDirTree, t.Marshal())
}

func commit(ctx context.Context, r *store.Repo, branch string, root func(*writer) (object.Checksum, error)) (object.Checksum, error) {
	txn, err := r.Begin(ctx)
	if err != nil {
		return object.Zero, err
	}
	defer txn.Abort()
	w := &writer{txn: txn, levels: map[int]object.Checksum{}}
	h := object.FileHeader{Mode: object.ModeRegular | 0o644}
	payload := []byte("hostile\n")
	w.file = object.ContentChecksum(&h, payload)
	if err := txn.AddContent(w.file, &h, uint64(len(payload)), bytes.NewReader(payload)); err != nil {
		return object.Zero, err
	}
	if w.meta, err = txn.WriteMeta(object.TypeDirMeta, object.DirMeta{Mode: 0o40755}.Marshal()); err != nil {
		return object.Zero, err
	}
	tree, err := root(w)
	if err != nil {
		return object.Zero, err
	}
	c := object.Commit{Subject: "hostile", Timestamp: 1700000000, RootTree: tree, RootMeta: w.meta}
	cb, err := c.Marshal()
	if err != nil {
		return object.Zero, err
	}
	sum, err := txn.WriteMeta(object.TypeCommit, cb)
	if err != nil {
		return object.Zero, err
	}
	if err := txn.Commit(); err != nil {
		return object.Zero, err
	}
	if branch != "" {
		if err := r.SetRef(branch, sum); err != nil {
			return object.Zero, err
		}
	}
	return sum, nil
}

// Distinct is how many dirtrees a DAG without Extra has.
func (g DAG) Distinct() int { return g.Levels + 1 }
