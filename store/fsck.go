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
	refs, err := r.Refs()
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
	for _, name := range SortedRefNames(refs) {
		if c := refs[name]; !have[c] {
			problem("ref "+name, fmt.Errorf("points to missing commit %s", c))
		}
	}
	todo := map[index.Ref]bool{} // value: may be missing (partial commit)
	for _, c := range commits {
		partial := r.IsPartial(c)
		res.Commits++
		if partial {
			res.Partial++
		}
		reach, err := r.Reach(ctx, c)
		if err != nil {
			// An unreadable tree is itself corruption; the objects at fault
			// are named by the per-object checks below where possible.
			if !partial || !errors.Is(err, ErrObjectMissing) {
				problem(object.Name(c, object.TypeCommit), err)
			}
			reach = []index.Ref{{Checksum: c, Type: object.TypeCommit}}
		}
		for _, ref := range reach {
			if prev, ok := todo[ref]; !ok || prev {
				todo[ref] = partial
			}
		}
	}
	list := make([]index.Ref, 0, len(todo))
	for ref := range todo {
		list = append(list, ref)
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
		if got := object.Sha256(b); got != ref.Checksum {
			return fmt.Errorf("%w: checksum is %s", ErrCorrupt, got)
		}
		switch ref.Type {
		case object.TypeCommit:
			_, err = object.ParseCommit(b)
		case object.TypeDirTree:
			_, err = object.ParseDirTree(b)
		case object.TypeDirMeta:
			_, err = object.ParseDirMeta(b)
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil
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
