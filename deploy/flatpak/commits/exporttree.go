package commits

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"arbor/deploy/flatpak/exports"
	"arbor/store"
	"arbor/store/object"
)

// exportTree is a commit's export/ directory in the store, as
// exports.Build walks it: through the store's path walk, which reads no
// dirtree below a directory Build skips, and from the files' objects, so
// that nothing of the app's is written out but what Build exports.
type exportTree struct {
	r      *store.Repo
	commit object.Checksum
	root   store.Node // the export/ directory
}

var (
	_ exports.Source              = exportTree{}
	_ store.PathVisitor[struct{}] = exportVisitor{}
	_ exports.Entry               = exportEntry{}
)

func (t exportTree) Walk(ctx context.Context, visit func(exports.Entry) error) error {
	return store.WalkPaths(ctx, t.r, store.NodeRoot(t.commit, t.root), 0, struct{}{}, exportVisitor{t: t, visit: visit})
}

// rel is a path of the commit relative to its export/ directory.
func (t exportTree) rel(p string) string { return strings.TrimPrefix(p, t.root.Path+"/") }

type exportVisitor struct {
	t     exportTree
	visit func(exports.Entry) error
}

func (v exportVisitor) Enter(_ context.Context, _ struct{}, d store.Dir) (struct{}, error) {
	if d.Path == v.t.root.Path {
		return struct{}{}, nil
	}
	err := v.visit(exportEntry{tree: v.t, path: v.t.rel(d.Path), typ: exports.Directory})
	if errors.Is(err, fs.SkipDir) {
		return struct{}{}, store.SkipDir
	}
	return struct{}{}, err
}

// File describes a file from its object's header, which says what it is
// without reading (or following) it.
func (v exportVisitor) File(_ context.Context, _ struct{}, d store.Dir, f object.FileEntry) error {
	e := exportEntry{tree: v.t, path: v.t.rel(d.Path + "/" + f.Name), sum: f.Checksum}
	h, size, err := v.t.r.StatContent(f.Checksum)
	if err != nil {
		return fmt.Errorf("commit %s: %s: %w", v.t.commit, d.Path+"/"+f.Name, err)
	}
	switch h.Mode & object.ModeTypeMask {
	case object.ModeRegular:
		e.typ, e.size = exports.Regular, int64(size)
	case object.ModeSymlink:
		e.typ = exports.Symlink
	default:
		e.typ = exports.Special
	}
	return v.visit(e)
}

func (exportVisitor) Leave(_ context.Context, _ struct{}, _ store.Dir, err error) error { return err }

type exportEntry struct {
	tree exportTree
	path string
	typ  exports.FileType
	size int64
	sum  object.Checksum
}

func (e exportEntry) Path() string           { return e.path }
func (e exportEntry) Type() exports.FileType { return e.typ }
func (e exportEntry) Size() int64            { return e.size }

// Read reads the file's object, checked as it is opened: a regular file,
// and no larger than limit.
func (e exportEntry) Read(_ context.Context, limit int64) ([]byte, error) {
	if e.typ != exports.Regular {
		return nil, errors.New("not a regular file")
	}
	ct, err := e.tree.r.OpenContent(e.sum)
	if err != nil {
		return nil, err
	}
	defer ct.Close()
	if ct.Header.Mode&object.ModeTypeMask != object.ModeRegular {
		return nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(ct, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("over the limit of %d bytes", limit)
	}
	return b, nil
}
