package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"arbor/store/index"
	"arbor/store/object"
)

// Node is one entry of a committed tree: a directory (Tree and Meta set)
// or a file (File set).
type Node struct {
	Path  string // slash-separated, "/" for the root
	IsDir bool
	File  object.Checksum
	Tree  object.Checksum
	Meta  object.Checksum
}

// RootNode returns the root directory of a commit.
func (r *Repo) RootNode(commit object.Checksum) (Node, error) {
	c, err := r.ReadCommit(commit)
	if err != nil {
		return Node{}, err
	}
	return Node{Path: "/", IsDir: true, Tree: c.RootTree, Meta: c.RootMeta}, nil
}

// Lookup finds a path inside a commit.
func (r *Repo) Lookup(commit object.Checksum, path string) (Node, error) {
	n, err := r.RootNode(commit)
	if err != nil {
		return Node{}, err
	}
	parts, err := cleanRel(path)
	if err != nil {
		return Node{}, err
	}
	for i, name := range parts {
		if !n.IsDir {
			return Node{}, fmt.Errorf("%s: not a directory", n.Path)
		}
		t, err := r.ReadDirTree(n.Tree)
		if err != nil {
			return Node{}, err
		}
		next, ok := findChild(t, n.Path, name)
		if !ok {
			return Node{}, fmt.Errorf("%s: no such file or directory in commit %s", "/"+joinParts(parts[:i+1]), commit)
		}
		n = next
	}
	return n, nil
}

func joinParts(p []string) string {
	s := ""
	for i, x := range p {
		if i > 0 {
			s += "/"
		}
		s += x
	}
	return s
}

func childPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

func findChild(t object.DirTree, dir, name string) (Node, bool) {
	for _, f := range t.Files {
		if f.Name == name {
			return Node{Path: childPath(dir, name), File: f.Checksum}, true
		}
	}
	for _, d := range t.Dirs {
		if d.Name == name {
			return Node{Path: childPath(dir, name), IsDir: true, Tree: d.Tree, Meta: d.Meta}, true
		}
	}
	return Node{}, false
}

// Children lists a directory node's entries: files then directories, each
// in byte order as stored, which is the order ostree lists them in.
func (r *Repo) Children(n Node) ([]Node, error) {
	t, err := r.ReadDirTree(n.Tree)
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(t.Dirs)+len(t.Files))
	for _, f := range t.Files {
		out = append(out, Node{Path: childPath(n.Path, f.Name), File: f.Checksum})
	}
	for _, d := range t.Dirs {
		out = append(out, Node{Path: childPath(n.Path, d.Name), IsDir: true, Tree: d.Tree, Meta: d.Meta})
	}
	return out, nil
}

// Walk calls fn for n and every path below it in a commit, depth first:
// a directory, its files, then each subdirectory and what is below it,
// in stored order (ostree ls -R's). It streams, reading one dirtree per
// level, and stops when ctx is done.
func (r *Repo) Walk(ctx context.Context, commit object.Checksum, n Node, fn func(Node) error) error {
	if !n.IsDir {
		return fn(n)
	}
	return WalkPaths(ctx, r, NodeRoot(commit, n), 0, struct{}{}, nodeVisitor(fn))
}

// nodeVisitor hands a path walk's directories and files to fn as nodes.
type nodeVisitor func(Node) error

func (fn nodeVisitor) Enter(_ context.Context, _ struct{}, d Dir) (struct{}, error) {
	return struct{}{}, fn(Node{Path: d.Path, IsDir: true, Tree: d.Tree, Meta: d.Meta})
}

func (fn nodeVisitor) File(_ context.Context, _ struct{}, d Dir, f object.FileEntry) error {
	return fn(Node{Path: childPath(d.Path, f.Name), File: f.Checksum})
}

func (fn nodeVisitor) Leave(context.Context, struct{}, Dir, error) error { return nil }

// IsPartial reports whether a commit is marked as not yet complete.
func (r *Repo) IsPartial(commit object.Checksum) bool {
	_, err := os.Stat(filepath.Join(r.path, "state", commit.String()+".commitpartial"))
	return err == nil
}

// Reach returns every object a commit reaches, the commit included. The set
// comes from the index when recorded, else from reading the dirtrees (in
// parallel, each distinct subtree once); a complete result is recorded.
func (r *Repo) Reach(ctx context.Context, commit object.Checksum) ([]index.Ref, error) {
	idx, err := r.Index(ctx)
	if err != nil {
		return nil, err
	}
	if refs, ok, err := idx.Reach(commit); err != nil || ok {
		return refs, err
	}
	c, err := r.ReadCommit(commit)
	if err != nil {
		return nil, err
	}
	// A partial commit reaches what it has: its missing dirtrees end the
	// walk there, as in ostree's traversal of partial commits.
	partial := r.IsPartial(commit)
	var src TreeReader = r
	if partial {
		// A lazily mounted commit's dirtrees may live in its tree index
		// only; what they reach is held too.
		src = treeIndexFallback{r, r.indexedTrees(commit)}
	}
	refs, err := reach(ctx, src, Root{Commit: commit, Tree: c.RootTree, Meta: c.RootMeta}, partial)
	if err != nil {
		return nil, err
	}
	if !partial {
		if err := idx.SetReach(commit, refs); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
	}
	return refs, nil
}

// reach collects what the tree at root reaches, and the commit; when
// partial, missing dirtrees end the walk where they are.
func reach(ctx context.Context, src TreeReader, root Root, partial bool) ([]index.Ref, error) {
	var mu sync.Mutex
	seen := map[index.Ref]struct{}{{Checksum: root.Commit, Type: object.TypeCommit}: {}}
	add := func(c object.Checksum, t object.Type) {
		seen[index.Ref{Checksum: c, Type: t}] = struct{}{}
	}
	w := Distinct{
		Workers: 2 * runtime.GOMAXPROCS(0),
		Meta: func(_ context.Context, c object.Checksum) error {
			mu.Lock()
			add(c, object.TypeDirMeta)
			mu.Unlock()
			return nil
		},
		Dir: func(_ context.Context, d Dir) error {
			mu.Lock()
			defer mu.Unlock()
			add(d.Tree, object.TypeDirTree)
			for _, f := range d.Entries.Files {
				add(f.Checksum, object.TypeFile)
			}
			return nil
		},
	}
	if partial {
		w.OnError = func(d Dir, err error) error {
			if errors.Is(err, ErrTooDeep) {
				return err
			}
			if !errors.Is(err, ErrObjectMissing) {
				return walkError(root.Commit, d.Path, err)
			}
			mu.Lock()
			add(d.Tree, object.TypeDirTree)
			mu.Unlock()
			return nil
		}
	}
	if err := w.Walk(ctx, src, root); err != nil {
		return nil, err
	}
	refs := make([]index.Ref, 0, len(seen))
	for ref := range seen {
		refs = append(refs, ref)
	}
	return refs, nil
}

// treeIndexFallback reads dirtrees from the repository, and those it lacks
// from a tree index.
type treeIndexFallback struct {
	r       *Repo
	indexed map[object.Checksum]object.DirTree
}

func (s treeIndexFallback) DirTree(ctx context.Context, c object.Checksum) (*object.DirTree, error) {
	t, err := s.r.DirTree(ctx, c)
	if errors.Is(err, ErrObjectMissing) {
		if it, ok := s.indexed[c]; ok {
			return &it, nil
		}
	}
	return t, err
}

// Commits lists every commit object in the repository.
func (r *Repo) Commits(ctx context.Context) ([]object.Checksum, error) {
	idx, err := r.Index(ctx)
	if err != nil {
		return nil, err
	}
	var out []object.Checksum
	err = idx.Objects(func(e index.Entry) error {
		if e.Type == object.TypeCommit {
			out = append(out, e.Checksum)
		}
		return nil
	})
	return out, err
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrObjectMissing)
}

// indexedTrees are the dirtrees of a commit's tree index kept in the
// repository (by a lazy mount), if there is one.
func (r *Repo) indexedTrees(commit object.Checksum) map[object.Checksum]object.DirTree {
	out := map[object.Checksum]object.DirTree{}
	b, err := os.ReadFile(filepath.Join(r.path, TreeIndexPath(commit)))
	if err != nil {
		return out
	}
	ti, err := ParseTreeIndex(b)
	if err != nil {
		return out
	}
	for _, m := range ti.Meta {
		if m.Ref.Type != object.TypeDirTree {
			continue
		}
		if t, err := object.ParseDirTree(m.Data); err == nil {
			out[m.Ref.Checksum] = t
		}
	}
	return out
}

// ReadFile reads a regular file of a commit's tree whole, refusing one of
// more than max bytes (its bytes come from a repository, maybe a
// stranger's).
func (r *Repo) ReadFile(commit object.Checksum, path string, max int64) ([]byte, error) {
	n, err := r.Lookup(commit, path)
	if err != nil {
		return nil, err
	}
	if n.IsDir {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	ct, err := r.OpenContent(n.File)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer ct.Close()
	if ct.Header.IsSymlink() {
		return nil, fmt.Errorf("%s is a symlink", path)
	}
	b, err := io.ReadAll(io.LimitReader(ct, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}
