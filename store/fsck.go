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
	Object string // CHECKSUM.TYPE, or "ref NAME"
	Err    error
	Ref    string // the ref whose commit is missing, for such a problem
	// Commits are the complete commits reaching a content object.
	Commits []object.Checksum
}

// String words the problem as ostree's fsck does (scripts grep for it).
func (p Problem) String() string {
	switch {
	case p.Ref != "":
		return fmt.Sprintf("Loading commit for ref %s: %v", p.Ref, p.Err)
	case errors.Is(p.Err, ErrObjectMissing):
		return "Object missing: " + p.Object
	case len(p.Commits) > 0:
		cs := make([]string, len(p.Commits))
		for i, c := range p.Commits {
			cs[i] = c.String()
		}
		return fmt.Sprintf("In commits %s: fsck content object %s: %v", strings.Join(cs, ", "), strings.TrimSuffix(p.Object, ".file"), p.Err)
	}
	return fmt.Sprintf("%s: %v", p.Object, p.Err)
}

// FsckResult is what fsck checked and found.
type FsckResult struct {
	Commits  int
	Partial  int
	Objects  int
	Problems []Problem
	// Deleted are the corrupt objects deleted (FsckOptions.Delete), and
	// MarkedPartial the commits marked partial because an object they
	// reach is now missing.
	Deleted       []string
	MarkedPartial []object.Checksum
	// FsckPartial counts the partial commits an earlier fsck marked so:
	// corruption found and not yet repaired by a pull.
	FsckPartial int
}

// FsckOptions are fsck's choices beyond checking.
type FsckOptions struct {
	// Delete removes corrupt objects, so that a later pull fetches them
	// again; the commits reaching them are marked partial.
	Delete   bool
	Progress func(done, total int64)
}

// Fsck re-hashes every object reachable from every commit and ref, checks
// each metadata object's structure (including unsafe file names), and
// reports corrupt or missing objects by name. Partial commits are checked
// for what they hold; their missing objects are not errors.
func (r *Repo) Fsck(ctx context.Context, progress func(done, total int64)) (*FsckResult, error) {
	return r.FsckWith(ctx, FsckOptions{Progress: progress})
}

// FsckWith is Fsck with options. A complete commit that reaches a missing
// object, or one it deleted, is marked partial, as ostree's fsck does: a
// later pull then fetches what it lacks.
func (r *Repo) FsckWith(ctx context.Context, opts FsckOptions) (*FsckResult, error) {
	progress := opts.Progress
	if opts.Delete {
		unlock, err := r.Lock(ctx, LockExclusive)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	res := &FsckResult{}
	var mu sync.Mutex
	problem := func(name string, err error) {
		mu.Lock()
		res.Problems = append(res.Problems, Problem{Object: name, Err: err})
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
			mu.Lock()
			res.Problems = append(res.Problems, Problem{Object: "ref " + name, Ref: name,
				Err: fmt.Errorf("No such metadata object %s: %w", object.Name(c, object.TypeCommit), ErrObjectMissing)})
			mu.Unlock()
		}
	}
	todo := map[index.Ref]bool{} // value: may be missing (partial commit)
	bad := map[index.Ref]bool{}  // already reported by the tree walk
	reached := map[object.Checksum][]index.Ref{}
	var gone sync.Map // index.Ref: missing, or deleted as corrupt
	for _, c := range commits {
		partial := r.IsPartial(c)
		res.Commits++
		if partial {
			res.Partial++
			if r.fsckPartial(c) {
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
					problem(object.Name(ref.Checksum, ref.Type), err)
				}
				if errors.Is(err, ErrObjectMissing) {
					gone.Store(ref, true)
				}
				bad[ref] = true
			})
			if err != nil {
				return res, err
			}
		}
		if !partial {
			reached[c] = reach
		}
		for _, ref := range reach {
			if prev, ok := todo[ref]; !ok || prev {
				todo[ref] = partial
			}
		}
	}
	var delMu sync.Mutex
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
						problem(object.Name(ref.Checksum, ref.Type), err)
					}
					switch {
					case errors.Is(err, ErrObjectMissing):
						gone.Store(ref, true)
					case opts.Delete && errors.Is(err, ErrCorrupt):
						if derr := r.deleteCorrupt(ref); derr != nil {
							problem(object.Name(ref.Checksum, ref.Type), derr)
							break
						}
						gone.Store(ref, true)
						delMu.Lock()
						res.Deleted = append(res.Deleted, object.Name(ref.Checksum, ref.Type))
						delMu.Unlock()
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
	sort.Slice(res.Problems, func(i, j int) bool { return res.Problems[i].Object < res.Problems[j].Object })
	sort.Strings(res.Deleted)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	// Content problems name the complete commits reaching the object.
	files := map[string]int{}
	for i, p := range res.Problems {
		if strings.HasSuffix(p.Object, ".file") && !errors.Is(p.Err, ErrObjectMissing) {
			files[p.Object] = i
		}
	}
	for _, c := range commits {
		marked := false
		for _, ref := range reached[c] {
			if i, ok := files[object.Name(ref.Checksum, ref.Type)]; ok && ref.Type == object.TypeFile {
				res.Problems[i].Commits = append(res.Problems[i].Commits, c)
			}
			if _, ok := gone.Load(ref); ok && ref.Type != object.TypeCommit && !marked {
				if err := r.markFsckPartial(c); err != nil {
					return res, err
				}
				res.MarkedPartial = append(res.MarkedPartial, c)
				marked = true
			}
		}
	}
	return res, nil
}

// deleteCorrupt removes a corrupt object from the files and the index.
func (r *Repo) deleteCorrupt(ref index.Ref) error {
	if err := removeIfExists(r.ObjectPath(ref.Checksum, ref.Type)); err != nil {
		return fmt.Errorf("deleting %s: %w", object.Name(ref.Checksum, ref.Type), err)
	}
	idx, err := r.Index(context.Background())
	if err != nil {
		return err
	}
	return idx.Remove([]index.Ref{ref})
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
		return nil, mismatch(object.TypeDirTree, tree, sum)
	}
	t, err := object.ParseDirTree(b)
	if err != nil {
		return nil, corrupt(err)
	}
	return &t, nil
}
