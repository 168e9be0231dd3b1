package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"arbor/store"
	"arbor/store/index"
	"arbor/store/object"
	"arbor/tests/hostile"
)

// exponential has 16^6 = 16.7M directories at its bottom from 7 dirtrees.
var exponential = hostile.DAG{Fanout: 16, Levels: 6}

func hostileRepo(t *testing.T, mode store.Mode) *store.Repo {
	t.Helper()
	r, err := store.Init(filepath.Join(t.TempDir(), "repo"), mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func commitDAG(t *testing.T, r *store.Repo, g hostile.DAG) object.Checksum {
	t.Helper()
	c, err := g.Commit(context.Background(), r, "dag")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// counting counts the dirtree reads of a walk, by checksum.
type counting struct {
	src store.TreeReader
	mu  sync.Mutex
	n   map[object.Checksum]int
}

func count(src store.TreeReader) *counting {
	return &counting{src: src, n: map[object.Checksum]int{}}
}

func (c *counting) DirTree(ctx context.Context, sum object.Checksum) (*object.DirTree, error) {
	c.mu.Lock()
	c.n[sum]++
	c.mu.Unlock()
	return c.src.DirTree(ctx, sum)
}

func (c *counting) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

// once fails t unless every dirtree was read exactly once, want of them.
func (c *counting) once(t *testing.T, want int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for sum, n := range c.n {
		if n != 1 {
			t.Errorf("dirtree %s read %d times", sum, n)
		}
	}
	if len(c.n) != want {
		t.Errorf("%d distinct dirtrees read, want %d", len(c.n), want)
	}
}

// countingMeta counts the reads of a tree index's build.
type countingMeta struct {
	r *store.Repo
	n map[index.Ref]int
}

func (c *countingMeta) ReadMeta(sum object.Checksum, typ object.Type) ([]byte, error) {
	c.n[index.Ref{Checksum: sum, Type: typ}]++
	return c.r.ReadMeta(sum, typ)
}

// TestDistinctWalksOfAHostileDAG: the walks whose result does not depend
// on paths read each of the DAG's 7 dirtrees once, not 16.7M times.
func TestDistinctWalksOfAHostileDAG(t *testing.T) {
	r := hostileRepo(t, store.ModeArchive)
	c := commitDAG(t, r, exponential)
	root, err := r.RootOf(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := exponential.Distinct()
	for _, tc := range []struct {
		name string
		walk func(src store.TreeReader) (objects int, err error)
	}{
		{"reach", func(src store.TreeReader) (int, error) {
			refs, err := store.ReachWith(ctx, src, root)
			return len(refs), err
		}},
		{"fsck-tolerant", func(src store.TreeReader) (int, error) {
			refs, err := r.TolerantReachWith(ctx, func(store.TreeReader) store.TreeReader { return src }, c,
				func(ref index.Ref, err error) { t.Errorf("%v: %v", ref, err) })
			return len(refs), err
		}},
		{"distinct-one-worker", func(src store.TreeReader) (int, error) {
			n := 0
			err := store.Distinct{Dir: func(context.Context, store.Dir) error { n++; return nil }}.Walk(ctx, src, root)
			return n + 3, err // + commit, dirmeta, file
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := count(r)
			n, err := tc.walk(src)
			if err != nil {
				t.Fatal(err)
			}
			src.once(t, want)
			// The commit, 7 dirtrees, one dirmeta, one file.
			if n != want+3 {
				t.Errorf("walk found %d objects, want %d", n, want+3)
			}
		})
	}
	t.Run("tree-index", func(t *testing.T) {
		src := &countingMeta{r: r, n: map[index.Ref]int{}}
		b, err := r.BuildTreeIndexWith(ctx, src, c)
		if err != nil {
			t.Fatal(err)
		}
		for ref, n := range src.n {
			if n != 1 {
				t.Errorf("%v read %d times", ref, n)
			}
		}
		ti, err := store.ParseTreeIndex(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(ti.Meta) != want+1 || len(ti.Files) != 1 {
			t.Errorf("tree index has %d metadata objects and %d files, want %d and 1", len(ti.Meta), len(ti.Files), want+1)
		}
	})
	t.Run("fsck", func(t *testing.T) {
		res, err := r.Fsck(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Problems) != 0 || res.Objects != want+3 {
			t.Errorf("fsck checked %d objects and found %v, want %d and none", res.Objects, res.Problems, want+3)
		}
	})
}

// TestFsckNamesABadDirTreeOnceInADAG: a dirtree met 16^5 times is one
// problem, found by reading it once.
func TestFsckNamesABadDirTreeOnceInADAG(t *testing.T) {
	r := hostileRepo(t, store.ModeArchive)
	c := commitDAG(t, r, exponential)
	leaf, err := r.Lookup(c, strings.Repeat("/a", exponential.Levels))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.ObjectPath(leaf.Tree, object.TypeDirTree), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := r.Fsck(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || res.Problems[0].Object != object.Name(leaf.Tree, object.TypeDirTree) {
		t.Errorf("fsck found %v, want one problem with %s", res.Problems, object.Name(leaf.Tree, object.TypeDirTree))
	}
}

// cancelAfter is a context cancelled by the n-th call of its tick.
func cancelAfter(n int) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	return ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if n--; n == 0 {
			cancel()
		}
	}
}

// withinBound fails t if a walk that should stop at a cancel ran on: the
// walks here have 16.7M directories, which take hours.
func withinBound(t *testing.T, start time.Time) {
	t.Helper()
	if d := time.Since(start); d > time.Minute {
		t.Errorf("the walk went on %v after its cancel", d)
	}
}

// TestPathWalksOfAHostileDAGStopOnCancel: the walks that visit every path
// stream the DAG's 16.7M directories and stop at a cancel.
func TestPathWalksOfAHostileDAGStopOnCancel(t *testing.T) {
	r := hostileRepo(t, store.ModeBareUser)
	c := commitDAG(t, r, exponential)
	root, err := r.RootNode(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("walk", func(t *testing.T) {
		ctx, tick := cancelAfter(10000)
		start := time.Now()
		n := 0
		err := r.Walk(ctx, c, root, func(store.Node) error { n++; tick(); return nil })
		withinBound(t, start)
		if !errors.Is(err, context.Canceled) || n != 10000 {
			t.Errorf("walk ended after %d nodes with %v, want 10000 and a cancel", n, err)
		}
	})
	t.Run("diff", func(t *testing.T) {
		// Against a tree of its file only, everything else is added.
		other, err := hostile.Chain(context.Background(), r, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		ctx, tick := cancelAfter(10000)
		start := time.Now()
		n := 0
		err = r.Diff(ctx, other, c, func(store.Change) error { n++; tick(); return nil })
		withinBound(t, start)
		if !errors.Is(err, context.Canceled) || n != 10000 {
			t.Errorf("diff ended after %d changes with %v, want 10000 and a cancel", n, err)
		}
	})
	t.Run("checkout", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "out")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var start time.Time
		var once sync.Once
		err := r.Checkout(ctx, c, dest, store.CheckoutOptions{UserMode: true, Progress: func(files int64) {
			if files > 1000 {
				once.Do(func() { start = time.Now(); cancel() })
			}
		}})
		if start.IsZero() {
			t.Fatalf("checkout ended before its cancel: %v", err)
		}
		withinBound(t, start)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), dest) || !strings.Contains(err.Error(), "incomplete") {
			t.Errorf("cancelled checkout returned %v, want a cancel naming %s as incomplete", err, dest)
		}
		// Not claimed as done: the top directory never got its mode.
		st, err := os.Stat(dest)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("cancelled checkout's top directory has mode %v, want 0700 (incomplete)", st.Mode().Perm())
		}
	})
}

// TestDiffOfAHostileDAG: identical subtrees are skipped, so a DAG against
// itself or a one-file change reads a few dirtrees.
func TestDiffOfAHostileDAG(t *testing.T) {
	r := hostileRepo(t, store.ModeArchive)
	c := commitDAG(t, r, exponential)
	extra := []string{"c", "a", "new"}
	changed, err := hostile.DAG{Fanout: exponential.Fanout, Levels: exponential.Levels, Extra: extra}.Commit(context.Background(), r, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		a, b object.Checksum
		want []store.Change
	}{
		{"itself", c, c, nil},
		{"added", c, changed, []store.Change{{Kind: 'A', Path: "/c/a/new"}}},
		{"deleted", changed, c, []store.Change{{Kind: 'D', Path: "/c/a/new"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := count(r)
			ra, err := r.RootOf(tc.a)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := r.RootOf(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			var got []store.Change
			err = store.DiffWith(context.Background(), src, ra, rb, func(ch store.Change) error {
				got = append(got, ch)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("diff: %v, want %v", got, tc.want)
			}
			// Three passes (M, D, A), each reading both sides along the
			// changed path only.
			if max := 3 * 2 * (len(extra) - 1 + 1); src.total() > max {
				t.Errorf("diff read %d dirtrees, want at most %d", src.total(), max)
			}
		})
	}
}

// TestTooDeepIsRefused: every walk refuses directories nested deeper
// than ostree's limit, naming the commit and the path, and accepts the
// limit itself.
func TestTooDeepIsRefused(t *testing.T) {
	r := hostileRepo(t, store.ModeBareUser)
	ctx := context.Background()
	ok, err := hostile.Chain(ctx, r, "ok", store.MaxTreeDepth)
	if err != nil {
		t.Fatal(err)
	}
	deep, err := hostile.Chain(ctx, r, "deep", store.MaxTreeDepth+1)
	if err != nil {
		t.Fatal(err)
	}
	flat, err := hostile.Chain(ctx, r, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for _, tc := range []struct {
		name string
		walk func(c object.Checksum) error
	}{
		{"reach", func(c object.Checksum) error { _, err := r.Reach(ctx, c); return err }},
		{"walk", func(c object.Checksum) error {
			n, err := r.RootNode(c)
			if err != nil {
				return err
			}
			return r.Walk(ctx, c, n, func(store.Node) error { return nil })
		}},
		{"checkout", func(c object.Checksum) error {
			return r.Checkout(ctx, c, filepath.Join(tmp, c.String()), store.CheckoutOptions{UserMode: true})
		}},
		{"diff", func(c object.Checksum) error {
			return r.Diff(ctx, flat, c, func(store.Change) error { return nil })
		}},
		{"tree-index", func(c object.Checksum) error { _, err := r.BuildTreeIndex(context.Background(), c); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.walk(ok); err != nil {
				t.Errorf("%d deep: %v", store.MaxTreeDepth, err)
			}
			err := tc.walk(deep)
			if !errors.Is(err, store.ErrTooDeep) || !strings.Contains(err.Error(), deep.String()) ||
				!strings.Contains(err.Error(), "/d/d/") {
				t.Errorf("%d deep: %v, want %v naming the commit and path", store.MaxTreeDepth+1, err, store.ErrTooDeep)
			}
		})
	}
	t.Run("fsck", func(t *testing.T) {
		res, err := r.Fsck(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Problems) != 1 || !errors.Is(res.Problems[0].Err, store.ErrTooDeep) {
			t.Errorf("fsck found %v, want the one too deep directory", res.Problems)
		}
	})
}

// skipper skips the directories of a path walk at depth skip, counting
// what it is told of.
type skipper struct {
	skip                  int
	enters, leaves, files atomic.Int64
}

func (v *skipper) Enter(_ context.Context, _ struct{}, d store.Dir) (struct{}, error) {
	v.enters.Add(1)
	if d.Depth == v.skip {
		return struct{}{}, store.SkipDir
	}
	return struct{}{}, nil
}

func (v *skipper) File(context.Context, struct{}, store.Dir, object.FileEntry) error {
	v.files.Add(1)
	return nil
}

func (v *skipper) Leave(_ context.Context, _ struct{}, _ store.Dir, err error) error {
	v.leaves.Add(1)
	return err
}

// TestPathWalkSkipsDirectories: a directory whose Enter returns SkipDir
// is not walked into, so a walk of the 16.7M-directory DAG that skips at
// depth 2 reads 1+16+256 dirtrees, in one goroutine or several.
func TestPathWalkSkipsDirectories(t *testing.T) {
	r := hostileRepo(t, store.ModeBareUser)
	c := commitDAG(t, r, exponential)
	root, err := r.RootOf(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		skip, parallel int
		enters, leaves int64
	}{
		{skip: 0, enters: 1},
		{skip: 2, enters: 1 + 16 + 256, leaves: 1 + 16},
		{skip: 2, parallel: 4, enters: 1 + 16 + 256, leaves: 1 + 16},
	} {
		src := count(r)
		v := &skipper{skip: tc.skip}
		if err := store.WalkPaths(context.Background(), src, root, tc.parallel, struct{}{}, store.PathVisitor[struct{}](v)); err != nil {
			t.Fatalf("skip at %d: %v", tc.skip, err)
		}
		if v.enters.Load() != tc.enters || v.leaves.Load() != tc.leaves || v.files.Load() != 0 || int64(src.total()) != tc.enters {
			t.Errorf("skip at %d, %d goroutines: %d enters, %d leaves, %d files, %d dirtrees read; want %d, %d, 0, %d",
				tc.skip, tc.parallel, v.enters.Load(), v.leaves.Load(), v.files.Load(), src.total(), tc.enters, tc.leaves, tc.enters)
		}
	}
}
