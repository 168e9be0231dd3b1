package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"arbor/store/index"
	"arbor/store/object"
	"arbor/store/refs"
)

// Problem is one thing fsck found wrong.
type Problem struct {
	Object  string // CHECKSUM.TYPE, or a ref name
	Err     error
	Commits []object.Checksum // the commits that reach the object, when it is one
	Deleted bool              // the corrupt object was deleted (FsckOptions.Delete)

	ref    index.Ref
	object bool // ref is set
}

func (p Problem) String() string {
	if len(p.Commits) == 0 {
		return fmt.Sprintf("%s: %v", p.Object, p.Err)
	}
	names := make([]string, len(p.Commits))
	for i, c := range p.Commits {
		names[i] = c.String()
	}
	return fmt.Sprintf("In commits %s: %s: %v", strings.Join(names, ", "), p.Object, p.Err)
}

// FsckResult is what fsck checked and found.
type FsckResult struct {
	Commits int
	Partial int
	// FsckPartial counts the partial commits that are partial because
	// fsck deleted objects of theirs: the repository stays corrupt until
	// they are fetched again.
	FsckPartial int
	// Marked are the commits this fsck marked partial, having deleted
	// objects they reach.
	Marked   []object.Checksum
	Objects  int
	Problems []Problem
}

// FsckOptions change what fsck does about what it finds.
type FsckOptions struct {
	// Delete removes corrupt objects and marks the commits that reach
	// them partial, so that a pull fetches them again.
	Delete bool
}

// Fsck re-hashes every object reachable from every commit and ref, checks
// each metadata object's structure (including unsafe file names), and
// reports corrupt or missing objects by name. Partial commits are checked
// for what they hold; their missing objects are not errors.
func (r *Repo) Fsck(ctx context.Context, progress func(done, total int64)) (*FsckResult, error) {
	return r.FsckWith(ctx, FsckOptions{}, progress)
}

// FsckWith is Fsck with options.
func (r *Repo) FsckWith(ctx context.Context, opts FsckOptions, progress func(done, total int64)) (*FsckResult, error) {
	res := &FsckResult{}
	var mu sync.Mutex
	problem := func(name string, err error) {
		mu.Lock()
		res.Problems = append(res.Problems, Problem{Object: name, Err: err})
		mu.Unlock()
	}
	objProblem := func(ref index.Ref, err error) {
		mu.Lock()
		res.Problems = append(res.Problems, Problem{Object: object.Name(ref.Checksum, ref.Type), Err: err, ref: ref, object: true})
		mu.Unlock()
	}
	all, err := r.Refs()
	if err != nil {
		return nil, err
	}
	commits, err := r.Commits(ctx)
	if err != nil {
		return nil, err
	}
	have := map[object.Checksum]bool{}
	for _, c := range commits {
		have[c] = true
	}
	for _, name := range refs.SortedNames(all) {
		if c := all[name]; !have[c] {
			problem("ref "+name, fmt.Errorf("points to missing commit %s", c))
		}
	}
	todo := map[index.Ref]bool{} // value: may be missing (partial commit)
	bad := map[index.Ref]bool{}  // already reported by the tree walk
	for _, c := range commits {
		partial := r.IsPartial(c)
		res.Commits++
		if partial {
			res.Partial++
			if r.PartialByFsck(c) {
				res.FsckPartial++
			}
		}
		reach, err := r.Reach(ctx, c)
		if err != nil && ctx.Err() != nil {
			return res, ctx.Err()
		}
		if err != nil {
			// Some dirtree is missing or bad: walk again, naming each bad
			// dirtree and checking everything still reachable.
			reach, err = r.tolerantReach(ctx, verifiedTrees{r}, c, func(ref index.Ref, err error) {
				if !partial || !errors.Is(err, ErrObjectMissing) {
					objProblem(ref, err)
				}
				bad[ref] = true
			})
			if err != nil {
				return res, err
			}
		}
		for _, ref := range reach {
			if prev, ok := todo[ref]; !ok || prev {
				todo[ref] = partial
			}
		}
	}
	list := make([]index.Ref, 0, len(todo))
	for ref := range todo {
		if !bad[ref] {
			list = append(list, ref)
		}
	}
	res.Objects = len(list)
	var done atomic.Int64
	var wg sync.WaitGroup
	work := make(chan index.Ref)
	for i := 0; i < 2*runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ref := range work {
				if err := r.VerifyObject(ref); err != nil {
					if !(todo[ref] && errors.Is(err, ErrObjectMissing)) {
						objProblem(ref, err)
					}
				}
				n := done.Add(1)
				if progress != nil && n%256 == 0 {
					progress(n, int64(len(list)))
				}
			}
		}()
	}
	for _, ref := range list {
		if ctx.Err() != nil {
			break
		}
		work <- ref
	}
	close(work)
	wg.Wait()
	if progress != nil {
		progress(done.Load(), int64(len(list)))
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if err := r.attributeProblems(ctx, commits, res.Problems); err != nil {
		return res, err
	}
	if opts.Delete {
		if err := r.deleteCorrupt(ctx, res); err != nil {
			return res, err
		}
	}
	sort.Slice(res.Problems, func(i, j int) bool { return res.Problems[i].Object < res.Problems[j].Object })
	return res, nil
}

// attributeProblems names, for each bad object, the commits reaching it.
// Only a fsck that found something walks the commits a second time.
func (r *Repo) attributeProblems(ctx context.Context, commits []object.Checksum, probs []Problem) error {
	at := map[index.Ref]int{}
	for i, p := range probs {
		if p.object {
			at[p.ref] = i
		}
	}
	if len(at) == 0 {
		return nil
	}
	for _, c := range commits {
		reach, err := r.Reach(ctx, c)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if reach, err = r.tolerantReach(ctx, verifiedTrees{r}, c, func(index.Ref, error) {}); err != nil {
				return err
			}
		}
		for _, ref := range reach {
			if i, ok := at[ref]; ok {
				probs[i].Commits = append(probs[i].Commits, c)
			}
		}
	}
	return nil
}

// deleteCorrupt removes the corrupt objects fsck found (missing ones are
// already gone) and marks the commits reaching them partial, by fsck.
func (r *Repo) deleteCorrupt(ctx context.Context, res *FsckResult) error {
	idx, err := r.Index(ctx)
	if err != nil {
		return err
	}
	var gone []index.Ref
	marked := map[object.Checksum]bool{}
	for i := range res.Problems {
		p := &res.Problems[i]
		if !p.object || errors.Is(p.Err, ErrObjectMissing) {
			continue
		}
		if err := removeIfExists(r.ObjectPath(p.ref.Checksum, p.ref.Type)); err != nil {
			return fmt.Errorf("deleting %s: %w", p.Object, err)
		}
		p.Deleted = true
		gone = append(gone, p.ref)
		for _, c := range p.Commits {
			if c == p.ref.Checksum && p.ref.Type == object.TypeCommit {
				continue
			}
			marked[c] = true
		}
	}
	if err := idx.Remove(gone); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	for c := range marked {
		if err := r.setPartial(c, partialByFsck); err != nil {
			return fmt.Errorf("marking commit %s partial: %w", c, err)
		}
		res.Marked = append(res.Marked, c)
	}
	sort.Slice(res.Marked, func(i, j int) bool { return res.Marked[i].String() < res.Marked[j].String() })
	return nil
}

// ErrCorrupt marks an object whose bytes do not match its name.
var ErrCorrupt = errors.New("corrupted object")

// VerifyObject re-hashes one object and checks its structure.
func (r *Repo) VerifyObject(ref index.Ref) error {
	return r.verifyAt(ref, r.ObjectPath(ref.Checksum, ref.Type))
}

// tolerantReach walks a commit's tree without stopping at bad dirtrees:
// each one is reported and its subtree skipped. It returns every object it
// could reach, the bad dirtrees included. report is called with no other
// call of it under way.
func (r *Repo) tolerantReach(ctx context.Context, src TreeReader, commit object.Checksum, report func(index.Ref, error)) ([]index.Ref, error) {
	commitRef := index.Ref{Checksum: commit, Type: object.TypeCommit}
	seen := map[index.Ref]bool{commitRef: true}
	c, err := r.ReadCommit(commit)
	if err != nil {
		report(commitRef, err)
		return []index.Ref{commitRef}, nil
	}
	var mu sync.Mutex
	w := Distinct{
		Workers: 2 * runtime.GOMAXPROCS(0),
		Meta: func(_ context.Context, m object.Checksum) error {
			mu.Lock()
			seen[index.Ref{Checksum: m, Type: object.TypeDirMeta}] = true
			mu.Unlock()
			return nil
		},
		Dir: func(_ context.Context, d Dir) error {
			mu.Lock()
			defer mu.Unlock()
			seen[index.Ref{Checksum: d.Tree, Type: object.TypeDirTree}] = true
			for _, f := range d.Entries.Files {
				seen[index.Ref{Checksum: f.Checksum, Type: object.TypeFile}] = true
			}
			return nil
		},
		OnError: func(d Dir, err error) error {
			ref := index.Ref{Checksum: d.Tree, Type: object.TypeDirTree}
			mu.Lock()
			defer mu.Unlock()
			seen[ref] = true
			report(ref, err)
			return nil
		},
	}
	if err := w.Walk(ctx, src, Root{Commit: commit, Tree: c.RootTree, Meta: c.RootMeta}); err != nil {
		return nil, err
	}
	out := make([]index.Ref, 0, len(seen))
	for ref := range seen {
		out = append(out, ref)
	}
	return out, nil
}

// verifiedTrees reads dirtrees re-hashing each, so that fsck names a
// corrupt one instead of walking what it says.
type verifiedTrees struct{ r *Repo }

func (v verifiedTrees) DirTree(_ context.Context, tree object.Checksum) (*object.DirTree, error) {
	b, err := v.r.ReadMeta(tree, object.TypeDirTree)
	if err != nil {
		return nil, err
	}
	if sum := object.Sha256(b); sum != tree {
		return nil, fmt.Errorf("%w: checksum is %s", ErrCorrupt, sum)
	}
	t, err := object.ParseDirTree(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &t, nil
}
