package store

import (
	"os"
)

// Change is one difference between two trees.
type Change struct {
	Kind byte // 'M' modified, 'D' deleted, 'A' added
	Path string
}

// Diff compares two directory nodes, skipping subtrees whose checksums
// match. Modifications come first, then deletions, then additions, as
// ostree diff prints them.
func (r *Repo) Diff(a, b Node) ([]Change, error) {
	var mod, del, add []Change
	var walk func(a, b Node) error
	walk = func(a, b Node) error {
		if a.Tree == b.Tree {
			if a.Meta != b.Meta {
				mod = append(mod, Change{'M', b.Path})
			}
			return nil
		}
		if a.Meta != b.Meta {
			mod = append(mod, Change{'M', b.Path})
		}
		ak, err := r.Children(a)
		if err != nil {
			return err
		}
		bk, err := r.Children(b)
		if err != nil {
			return err
		}
		bm := map[string]Node{}
		for _, n := range bk {
			bm[n.Path] = n
		}
		am := map[string]bool{}
		for _, x := range ak {
			am[x.Path] = true
			y, ok := bm[x.Path]
			switch {
			case !ok || x.IsDir != y.IsDir:
				del = append(del, Change{'D', x.Path})
				if ok {
					add = append(add, Change{'A', y.Path})
				}
			case x.IsDir:
				if err := walk(x, y); err != nil {
					return err
				}
			case x.File != y.File:
				mod = append(mod, Change{'M', x.Path})
			}
		}
		for _, y := range bk {
			if !am[y.Path] {
				add = append(add, Change{'A', y.Path})
			}
		}
		return nil
	}
	if err := walk(a, b); err != nil {
		return nil, err
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
