package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"arbor/store/object"
)

// DiffSide is one side of a diff: a commit, or a directory on disk
// (Dir set) read as it would be committed.
type DiffSide struct {
	Commit object.Checksum
	Dir    string
}

// DiffSides reports the changes from a to b, either of which may be a
// directory; noXattrs leaves the directories' xattrs out.
func (r *Repo) DiffSides(ctx context.Context, a, b DiffSide, noXattrs bool, fn func(Change) error) error {
	mem := memTrees{r: r, trees: map[object.Checksum]*object.DirTree{}}
	var roots [2]Root
	for i, s := range []DiffSide{a, b} {
		if s.Dir == "" {
			root, err := r.RootOf(s.Commit)
			if err != nil {
				return err
			}
			roots[i] = root
			continue
		}
		tree, meta, err := mem.hashDir(ctx, s.Dir, noXattrs, 0)
		if err != nil {
			return err
		}
		roots[i] = Root{Path: "/", Tree: tree, Meta: meta}
	}
	return diff(ctx, mem, roots[0], roots[1], fn)
}

// memTrees are the dirtrees of directories hashed for a diff, in front
// of the repository's.
type memTrees struct {
	r     *Repo
	trees map[object.Checksum]*object.DirTree
}

func (m memTrees) DirTree(ctx context.Context, c object.Checksum) (*object.DirTree, error) {
	if t, ok := m.trees[c]; ok {
		return t, nil
	}
	return m.r.DirTree(ctx, c)
}

// hashDir computes the dirtree and dirmeta checksums dir would commit to,
// writing nothing.
func (m memTrees) hashDir(ctx context.Context, dir string, noXattrs bool, depth int) (object.Checksum, object.Checksum, error) {
	if err := ctx.Err(); err != nil {
		return object.Zero, object.Zero, err
	}
	if depth > MaxTreeDepth {
		return object.Zero, object.Zero, fmt.Errorf("%s: %w", dir, ErrTooDeep)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return object.Zero, object.Zero, fmt.Errorf("%s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return object.Zero, object.Zero, fmt.Errorf("%s: not a directory", dir)
	}
	dm := object.DirMeta{Mode: st.Mode, UID: st.Uid, GID: st.Gid}
	if !noXattrs {
		xs, err := pathXattrs(dir, false)
		if err != nil {
			return object.Zero, object.Zero, fmt.Errorf("%s: %w", dir, err)
		}
		dm.Xattrs = xs
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return object.Zero, object.Zero, fmt.Errorf("reading directory %s: %w", dir, err)
	}
	var t object.DirTree
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			tc, mc, err := m.hashDir(ctx, p, noXattrs, depth+1)
			if err != nil {
				return object.Zero, object.Zero, err
			}
			t.Dirs = append(t.Dirs, object.DirEntry{Name: e.Name(), Tree: tc, Meta: mc})
			continue
		}
		c, err := hashFile(p, noXattrs)
		if err != nil {
			return object.Zero, object.Zero, err
		}
		t.Files = append(t.Files, object.FileEntry{Name: e.Name(), Checksum: c})
	}
	b := t.Marshal()
	tc := object.Sha256(b)
	m.trees[tc] = &t
	return tc, object.Sha256(dm.Marshal()), nil
}

// hashFile is the content checksum of a regular file or symlink on disk.
func hashFile(p string, noXattrs bool) (object.Checksum, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return object.Zero, fmt.Errorf("%s: %w", p, err)
	}
	h := object.FileHeader{Mode: st.Mode, UID: st.Uid, GID: st.Gid}
	if !noXattrs {
		xs, err := pathXattrs(p, false)
		if err != nil {
			return object.Zero, fmt.Errorf("%s: %w", p, err)
		}
		h.Xattrs = xs
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return object.Zero, fmt.Errorf("%s: %w", p, err)
		}
		h.Target = target
		return object.ContentChecksum(&h, nil), nil
	case unix.S_IFREG:
		f, err := os.Open(p)
		if err != nil {
			return object.Zero, fmt.Errorf("%s: %w", p, err)
		}
		defer f.Close()
		hs := object.NewContentHash(&h)
		if _, err := io.Copy(hs, f); err != nil {
			return object.Zero, fmt.Errorf("reading %s: %w", p, err)
		}
		return object.SumHash(hs), nil
	}
	return object.Zero, unsupported(p, modeType(st.Mode))
}
