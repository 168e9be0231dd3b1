package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"arbor/store/object"
)

// Every walk over a commit's dirtrees goes through this file. A few
// dirtrees that list each other many times over make millions of paths
// (ten objects, 16.7M directories), so there are two kinds of walk:
//
//   - Distinct visits each distinct dirtree once, for what does not depend
//     on where a directory is (what a commit reaches, fsck, a tree index,
//     a mount's prefetch): its cost and memory are those of the distinct
//     objects, however often they repeat.
//   - WalkPaths visits every path (ls -R, checkout, diff), or those its
//     visitor does not skip (exports): it streams, holding one dirtree
//     per level of the directory it is in, so its memory is depth × width.
//
// Both check their context at every directory, read dirtrees through a
// TreeReader (the repository, or a mount's source that fetches them), and
// refuse directories nested deeper than MaxTreeDepth.

// MaxTreeDepth is how deep directories may nest below a commit's root,
// whose dirtree is at depth 0: ostree's OSTREE_MAX_RECURSION.
const MaxTreeDepth = 256

// ErrTooDeep marks a directory nested deeper than MaxTreeDepth.
var ErrTooDeep = fmt.Errorf("directories nested more than %d deep", MaxTreeDepth)

// TreeReader reads dirtrees for a walk.
type TreeReader interface {
	DirTree(ctx context.Context, c object.Checksum) (*object.DirTree, error)
}

var _ TreeReader = (*Repo)(nil)

// DirTree reads a dirtree for a walk (see ReadDirTree).
func (r *Repo) DirTree(ctx context.Context, c object.Checksum) (*object.DirTree, error) {
	t, err := r.ReadDirTree(c)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// Root is where a walk starts: a commit's root directory or one inside it.
type Root struct {
	Commit     object.Checksum // named in errors; may be zero
	Path       string          // the directory's path in the commit ("/" or "" for its root)
	Tree, Meta object.Checksum
}

// RootOf is the root directory of a commit, for a walk.
func (r *Repo) RootOf(commit object.Checksum) (Root, error) {
	c, err := r.ReadCommit(commit)
	if err != nil {
		return Root{}, err
	}
	return Root{Commit: commit, Path: "/", Tree: c.RootTree, Meta: c.RootMeta}, nil
}

// NodeRoot is a directory node of a commit, for a walk.
func NodeRoot(commit object.Checksum, n Node) Root {
	return Root{Commit: commit, Path: n.Path, Tree: n.Tree, Meta: n.Meta}
}

// Dir is a directory a walk visits.
type Dir struct {
	Path       string // slash-separated, "/" for the commit's root
	Name       string // the last element of Path ("" for the root)
	Depth      int    // how many directories Path is below the commit's root
	Tree, Meta object.Checksum
	Entries    *object.DirTree // nil when the dirtree could not be read
}

func (root Root) dir() Dir {
	p := root.Path
	if p == "" {
		p = "/"
	}
	d := Dir{Path: p, Tree: root.Tree, Meta: root.Meta}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i+1 < len(p) {
			d.Depth++
			d.Name = p[i+1:]
		}
	}
	return d
}

func (d Dir) child(e object.DirEntry) Dir {
	return Dir{Path: childPath(d.Path, e.Name), Name: e.Name, Depth: d.Depth + 1, Tree: e.Tree, Meta: e.Meta}
}

// walkError names where in which commit a walk failed.
func walkError(commit object.Checksum, path string, err error) error {
	// A path as deep as MaxTreeDepth can be tens of kilobytes.
	const max = 1024
	if len(path) > max {
		path = path[:max/2] + "/…/" + path[len(path)-max/2:]
	}
	if commit.IsZero() {
		return fmt.Errorf("%s: %w", path, err)
	}
	return fmt.Errorf("commit %s: %s: %w", commit, path, err)
}

// Distinct is a walk that visits each distinct dirtree once, whatever
// paths it appears at, and each distinct dirmeta once. A directory is
// handed to Dir with the first path the walk met it at, which with one
// worker is its shallowest (the walk is breadth first); depth too is
// counted along that path, as ostree's traversal counts it.
type Distinct struct {
	// Workers read and visit that many directories at once (Dir and Meta
	// are then called concurrently); 0 or 1 walks in one goroutine, in a
	// deterministic order.
	Workers int
	// Dir is called once for each distinct dirtree, with its entries.
	Dir func(ctx context.Context, d Dir) error
	// Meta is called once for each distinct dirmeta, a directory's before
	// those of its subdirectories.
	Meta func(ctx context.Context, c object.Checksum) error
	// OnError decides about a directory that could not be read or is too
	// deep (err wraps ErrTooDeep): nil skips it and what only it reaches,
	// an error ends the walk. Unset, every such error ends the walk.
	OnError func(d Dir, err error) error
}

// Walk runs the walk from root.
func (w Distinct) Walk(ctx context.Context, src TreeReader, root Root) error {
	d := root.dir()
	q := &distinctQueue{trees: map[object.Checksum]struct{}{d.Tree: {}}, metas: map[object.Checksum]struct{}{d.Meta: {}}}
	q.cond = sync.NewCond(&q.mu)
	if w.Meta != nil {
		if err := w.Meta(ctx, d.Meta); err != nil {
			return err
		}
	}
	q.queue = append(q.queue, d)
	work := func() {
		for {
			d, ok := q.pop()
			if !ok {
				return
			}
			q.done(w.visit(ctx, src, root.Commit, q, d))
		}
	}
	n := max(w.Workers, 1)
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	return q.err
}

func (w Distinct) fail(commit object.Checksum, d Dir, err error) error {
	if w.OnError != nil {
		return w.OnError(d, err)
	}
	if errors.Is(err, ErrTooDeep) {
		return err
	}
	return walkError(commit, d.Path, err)
}

func (w Distinct) visit(ctx context.Context, src TreeReader, commit object.Checksum, q *distinctQueue, d Dir) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := src.DirTree(ctx, d.Tree)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return w.fail(commit, d, err)
	}
	d.Entries = t
	if w.Dir != nil {
		if err := w.Dir(ctx, d); err != nil {
			return err
		}
	}
	for _, e := range t.Dirs {
		if w.Meta != nil && q.first(q.metas, e.Meta) {
			if err := w.Meta(ctx, e.Meta); err != nil {
				return err
			}
		}
		if !q.first(q.trees, e.Tree) {
			continue
		}
		c := d.child(e)
		if c.Depth > MaxTreeDepth {
			if err := w.fail(commit, c, walkError(commit, c.Path, ErrTooDeep)); err != nil {
				return err
			}
			continue
		}
		q.push(c)
	}
	return nil
}

// distinctQueue holds the directories a Distinct walk has met but not yet
// visited, first in first out, and the checksums it has met.
type distinctQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []Dir
	busy   int // directories being visited
	err    error
	trees  map[object.Checksum]struct{}
	metas  map[object.Checksum]struct{}
	seenMu sync.Mutex
}

// first reports whether c is new to set, and records it.
func (q *distinctQueue) first(set map[object.Checksum]struct{}, c object.Checksum) bool {
	q.seenMu.Lock()
	defer q.seenMu.Unlock()
	if _, ok := set[c]; ok {
		return false
	}
	set[c] = struct{}{}
	return true
}

func (q *distinctQueue) push(d Dir) {
	q.mu.Lock()
	q.queue = append(q.queue, d)
	q.mu.Unlock()
	q.cond.Signal()
}

// pop waits for a directory; ok is false once the walk is over or failed.
func (q *distinctQueue) pop() (Dir, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.err == nil && len(q.queue) == 0 && q.busy > 0 {
		q.cond.Wait()
	}
	if q.err != nil || len(q.queue) == 0 {
		return Dir{}, false
	}
	d := q.queue[0]
	q.queue[0] = Dir{}
	q.queue = q.queue[1:]
	q.busy++
	return d, true
}

func (q *distinctQueue) done(err error) {
	q.mu.Lock()
	q.busy--
	if err != nil && q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	q.cond.Broadcast()
}

// SkipDir, returned by a PathVisitor's Enter, skips the directory: none
// of its files and subdirectories is visited, its Leave is not called,
// and the walk goes on with the rest: of a skipped directory, only its
// own dirtree is read.
var SkipDir = errors.New("skip this directory")

// PathVisitor is told of every directory and file of a path walk. S is
// what a directory hands to its entries, such as a checkout's open
// directory.
type PathVisitor[S any] interface {
	// Enter is called for a directory, with its entries, before them; it
	// may return SkipDir.
	Enter(ctx context.Context, parent S, d Dir) (S, error)
	// File is called for each file of a directory.
	File(ctx context.Context, s S, d Dir, f object.FileEntry) error
	// Leave is called after a directory's entries when Enter succeeded,
	// with the walk's first error below it (nil when all went well).
	Leave(ctx context.Context, s S, d Dir, err error) error
}

// PathPruner is a PathVisitor that can skip a directory before its
// dirtree is read: a walk comparing two commits needs nothing of one that
// did not change, not even its dirtree. For the walk's root, parent is
// WalkPaths' top.
type PathPruner[S any] interface {
	Prune(parent S, d Dir) bool
}

// WalkPaths visits root and every path below it, depth first: Enter for a
// directory, File for each of its files, then each subdirectory the same
// way, in stored (byte) order, which is ostree's. With parallel > 0, up
// to that many more goroutines walk subdirectories, so the calls come
// concurrently and in no set order. top is the parent handed to Enter
// for root.
func WalkPaths[S any](ctx context.Context, src TreeReader, root Root, parallel int, top S, v PathVisitor[S]) error {
	w := &pathWalk[S]{src: src, v: v, commit: root.Commit}
	w.prune, _ = v.(PathPruner[S])
	if parallel > 0 {
		w.slots = make(chan struct{}, parallel)
	}
	if err := w.dir(ctx, top, root.dir()); err != nil {
		return w.first(err)
	}
	return nil
}

type pathWalk[S any] struct {
	src    TreeReader
	v      PathVisitor[S]
	prune  PathPruner[S] // nil when v prunes nothing
	commit object.Checksum
	slots  chan struct{} // nil walks in one goroutine

	mu      sync.Mutex
	err     error       // the first error, which stops every goroutine
	stopped atomic.Bool // err is set: checked at every file, without the lock
}

// errStopped ends a goroutine's part of a walk that failed elsewhere.
var errStopped = errors.New("walk stopped")

func (w *pathWalk[S]) fail(err error) {
	w.mu.Lock()
	if w.err == nil && !errors.Is(err, errStopped) {
		w.err = err
		w.stopped.Store(true)
	}
	w.mu.Unlock()
}

// first is the walk's first error, err when none was recorded.
func (w *pathWalk[S]) first(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	return err
}

// check is what stops the walk before its next step.
func (w *pathWalk[S]) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.stopped.Load() {
		return errStopped
	}
	return nil
}

func (w *pathWalk[S]) dir(ctx context.Context, parent S, d Dir) (err error) {
	if err := w.check(ctx); err != nil {
		return err
	}
	if w.prune != nil && w.prune.Prune(parent, d) {
		return nil
	}
	if d.Depth > MaxTreeDepth {
		return walkError(w.commit, d.Path, ErrTooDeep)
	}
	t, err := w.src.DirTree(ctx, d.Tree)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return walkError(w.commit, d.Path, err)
	}
	d.Entries = t
	s, err := w.v.Enter(ctx, parent, d)
	if err == SkipDir {
		return nil
	}
	if err != nil {
		return err
	}
	defer func() {
		if lerr := w.v.Leave(ctx, s, d, err); err == nil {
			err = lerr
		}
	}()
	if w.slots == nil {
		for _, f := range t.Files {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := w.v.File(ctx, s, d, f); err != nil {
				return err
			}
		}
		for _, e := range t.Dirs {
			if err := w.dir(ctx, s, d.child(e)); err != nil {
				return err
			}
		}
		return nil
	}
	// Subdirectories go to other goroutines while slots are free, and are
	// walked here otherwise; a directory's files are all handled by one
	// goroutine, so goroutines do not contend for one directory.
	var wg sync.WaitGroup
	for _, e := range t.Dirs {
		c := d.child(e)
		select {
		case w.slots <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-w.slots }()
				if err := w.dir(ctx, s, c); err != nil {
					w.fail(err)
				}
			}()
		default:
			if err := w.dir(ctx, s, c); err != nil {
				w.fail(err)
			}
		}
	}
	for _, f := range t.Files {
		if err := w.check(ctx); err != nil {
			break
		}
		if err := w.v.File(ctx, s, d, f); err != nil {
			w.fail(err)
			break
		}
	}
	wg.Wait()
	return w.check(ctx)
}
