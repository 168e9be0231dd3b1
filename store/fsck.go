package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"arbor/store/index"
	"arbor/store/object"
	"arbor/store/refs"
)

// Problem is one thing fsck found wrong.
type Problem struct {
	Object string // CHECKSUM.TYPE, or a ref name
	Err    error
}

func (p Problem) String() string { return fmt.Sprintf("%s: %v", p.Object, p.Err) }

// FsckResult is what fsck checked and found.
type FsckResult struct {
	Commits  int
	Partial  int
	Objects  int
	Problems []Problem
}

// Fsck re-hashes every object reachable from every commit and ref, checks
// each metadata object's structure (including unsafe file names), and
// reports corrupt or missing objects by name. Partial commits are checked
// for what they hold; their missing objects are not errors.
func (r *Repo) Fsck(ctx context.Context, progress func(done, total int64)) (*FsckResult, error) {
	res := &FsckResult{}
	var mu sync.Mutex
	problem := func(name string, err error) {
		mu.Lock()
		res.Problems = append(res.Problems, Problem{name, err})
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
		}
		reach, err := r.Reach(ctx, c)
		if err != nil {
			// Some dirtree is missing or bad: walk again, naming each bad
			// dirtree and checking everything still reachable.
			reach = r.tolerantReach(c, func(ref index.Ref, err error) {
				if !partial || !errors.Is(err, ErrObjectMissing) {
					problem(object.Name(ref.Checksum, ref.Type), err)
				}
				bad[ref] = true
			})
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
						problem(object.Name(ref.Checksum, ref.Type), err)
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
	return res, ctx.Err()
}

// ErrCorrupt marks an object whose bytes do not match its name.
var ErrCorrupt = errors.New("corrupted object")

// VerifyObject re-hashes one object and checks its structure.
func (r *Repo) VerifyObject(ref index.Ref) error {
	if ref.Type != object.TypeFile {
		b, err := r.ReadMeta(ref.Checksum, ref.Type)
		if err != nil {
			return err
		}
		return checkMeta(ref, b)
	}
	ct, err := r.OpenContent(ref.Checksum)
	if err != nil {
		if errors.Is(err, ErrObjectMissing) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer ct.Close()
	h := object.NewContentHash(&ct.Header)
	n, err := io.Copy(h, ct.Reader)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if uint64(n) != ct.Size {
		return fmt.Errorf("%w: %d bytes, header says %d", ErrCorrupt, n, ct.Size)
	}
	if got := object.SumHash(h); got != ref.Checksum {
		return fmt.Errorf("%w: checksum is %s", ErrCorrupt, got)
	}
	return nil
}

// tolerantReach walks a commit's tree without stopping at bad dirtrees:
// each one is reported and its subtree skipped. It returns every object it
// could reach, the bad dirtrees included.
func (r *Repo) tolerantReach(commit object.Checksum, report func(index.Ref, error)) []index.Ref {
	seen := map[index.Ref]bool{{Checksum: commit, Type: object.TypeCommit}: true}
	c, err := r.ReadCommit(commit)
	if err != nil {
		report(index.Ref{Checksum: commit, Type: object.TypeCommit}, err)
		return []index.Ref{{Checksum: commit, Type: object.TypeCommit}}
	}
	var visit func(tree, meta object.Checksum)
	visit = func(tree, meta object.Checksum) {
		seen[index.Ref{Checksum: meta, Type: object.TypeDirMeta}] = true
		ref := index.Ref{Checksum: tree, Type: object.TypeDirTree}
		if seen[ref] {
			return
		}
		seen[ref] = true
		b, err := r.ReadMeta(tree, object.TypeDirTree)
		if err == nil && object.Sha256(b) != tree {
			err = fmt.Errorf("%w: checksum is %s", ErrCorrupt, object.Sha256(b))
		}
		var t object.DirTree
		if err == nil {
			if t, err = object.ParseDirTree(b); err != nil {
				err = fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
		}
		if err != nil {
			report(ref, err)
			return
		}
		for _, f := range t.Files {
			seen[index.Ref{Checksum: f.Checksum, Type: object.TypeFile}] = true
		}
		for _, d := range t.Dirs {
			visit(d.Tree, d.Meta)
		}
	}
	visit(c.RootTree, c.RootMeta)
	out := make([]index.Ref, 0, len(seen))
	for ref := range seen {
		out = append(out, ref)
	}
	return out
}
