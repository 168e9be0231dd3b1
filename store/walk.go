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

// Walk calls fn for n and, depth first, everything below it.
func (r *Repo) Walk(n Node, fn func(Node) error) error {
	if err := fn(n); err != nil {
		return err
	}
	if !n.IsDir {
		return nil
	}
	kids, err := r.Children(n)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := r.Walk(k, fn); err != nil {
			return err
		}
	}
	return nil
}

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
	indexed := map[object.Checksum]object.DirTree{}
	if partial {
		indexed = r.indexedTrees(commit)
	}
	seen := map[index.Ref]struct{}{{Checksum: commit, Type: object.TypeCommit}: {}}
	var mu sync.Mutex
	add := func(ref index.Ref) bool {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen[ref]; ok {
			return false
		}
		seen[ref] = struct{}{}
		return true
	}
	sem := make(chan struct{}, 2*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	var visit func(tree, meta object.Checksum)
	visit = func(tree, meta object.Checksum) {
		defer wg.Done()
		add(index.Ref{Checksum: meta, Type: object.TypeDirMeta})
		if !add(index.Ref{Checksum: tree, Type: object.TypeDirTree}) {
			return
		}
		sem <- struct{}{}
		t, err := r.ReadDirTree(tree)
		<-sem
		if err != nil && partial && errors.Is(err, ErrObjectMissing) {
			// A lazily mounted commit's dirtrees may live in its tree
			// index only; what they reach is held too.
			it, ok := indexed[tree]
			if !ok {
				return
			}
			t, err = it, nil
		}
		if err != nil {
			once.Do(func() { firstErr = err })
			return
		}
		for _, f := range t.Files {
			add(index.Ref{Checksum: f.Checksum, Type: object.TypeFile})
		}
		for _, d := range t.Dirs {
			wg.Add(1)
			go visit(d.Tree, d.Meta)
		}
	}
	wg.Add(1)
	visit(c.RootTree, c.RootMeta)
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("reading the tree of commit %s: %w", commit, firstErr)
	}
	refs := make([]index.Ref, 0, len(seen))
	for ref := range seen {
		refs = append(refs, ref)
	}
	if !partial {
		if err := idx.SetReach(commit, refs); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
	}
	return refs, nil
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
