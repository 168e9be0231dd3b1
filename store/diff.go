package store

import (
	"os"
)

// Change is one difference between two trees.
type Change struct {
	Kind byte // 'M' modified, 'D' deleted, 'A' added
	Path string
}

// Diff compares two directory nodes as ostree diff does, skipping subtrees
// whose checksums match: a changed file, a changed directory mode or a
// change between file and directory is 'M'; a deleted directory is one 'D';
// an added directory is 'A' with everything in it. Modifications come
// first, then deletions, then additions, each in tree order.
func (r *Repo) Diff(a, b Node) ([]Change, error) {
	var mod, del, add []Change
	var added func(n Node) error
	added = func(n Node) error {
		add = append(add, Change{'A', n.Path})
		if !n.IsDir {
			return nil
		}
		kids, err := r.Children(n)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := added(k); err != nil {
				return err
			}
		}
		return nil
	}
	var walk func(a, b Node) error
	walk = func(a, b Node) error {
		ak, err := r.Children(a)
		if err != nil {
			return err
		}
		bk, err := r.Children(b)
		if err != nil {
			return err
		}
		bm := make(map[string]Node, len(bk))
		for _, n := range bk {
			bm[n.Path] = n
		}
		for _, x := range ak {
			y, ok := bm[x.Path]
			delete(bm, x.Path)
			switch {
			case !ok:
				del = append(del, Change{'D', x.Path})
			case x.IsDir != y.IsDir:
				mod = append(mod, Change{'M', x.Path})
			case !x.IsDir:
				if x.File != y.File {
					mod = append(mod, Change{'M', x.Path})
				}
			default:
				if x.Meta != y.Meta {
					mod = append(mod, Change{'M', x.Path})
				}
				if x.Tree != y.Tree {
					if err := walk(x, y); err != nil {
						return err
					}
				}
			}
		}
		for _, y := range bk {
			if _, ok := bm[y.Path]; ok {
				if err := added(y); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if a.Tree != b.Tree {
		if err := walk(a, b); err != nil {
			return nil, err
		}
	}
	return append(append(mod, del...), add...), nil
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
