package mountd

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"arbor/fs"
	"arbor/store"
	"arbor/store/object"
	"arbor/tests/hostile"
)

// countingSource is a mount's source over a local repository, counting
// what a background walk asks of it.
type countingSource struct {
	fs.StoreSource
	mu    sync.Mutex
	trees map[object.Checksum]int
	files map[object.Checksum]int
	// block, when set, holds every dirtree read until the walk's end.
	block bool
}

func (s *countingSource) DirTree(ctx context.Context, c object.Checksum) (*object.DirTree, error) {
	s.mu.Lock()
	s.trees[c]++
	s.mu.Unlock()
	if s.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.StoreSource.DirTree(ctx, c)
}

func (s *countingSource) warm(ctx context.Context, c object.Checksum) error {
	s.mu.Lock()
	s.files[c]++
	s.mu.Unlock()
	_, err := s.StoreSource.File(ctx, c)
	return err
}

func dagSource(t *testing.T) (*countingSource, *object.Commit) {
	t.Helper()
	r, err := store.Init(filepath.Join(t.TempDir(), "repo"), store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c, err := hostile.DAG{Fanout: 16, Levels: 6}.Commit(context.Background(), r, "dag")
	if err != nil {
		t.Fatal(err)
	}
	cm, err := r.ReadCommit(c)
	if err != nil {
		t.Fatal(err)
	}
	return &countingSource{StoreSource: fs.StoreSource{Repo: r}, trees: map[object.Checksum]int{}, files: map[object.Checksum]int{}}, cm
}

// TestPrefetchTreeReadsEachDirTreeOnce: the background walk of a mount of
// a DAG of 7 dirtrees and 16.7M directories reads 7 dirtrees and
// describes its one file once.
func TestPrefetchTreeReadsEachDirTreeOnce(t *testing.T) {
	src, cm := dagSource(t)
	p := &progress{}
	prefetchTree(context.Background(), src, cm.RootTree, cm.RootMeta, p)
	if !p.done.Load() || p.err.Load() != nil {
		t.Fatalf("prefetch done %v, error %v", p.done.Load(), p.err.Load())
	}
	if len(src.trees) != 7 {
		t.Errorf("%d distinct dirtrees read, want 7", len(src.trees))
	}
	for c, n := range src.trees {
		if n != 1 {
			t.Errorf("dirtree %s read %d times", c, n)
		}
	}
	if len(src.files) != 1 || p.files.Load() != 1 || p.dirs.Load() != 7 {
		t.Errorf("described %v, progress %d dirs %d files; want one file once, 7 dirs", src.files, p.dirs.Load(), p.files.Load())
	}
}

// TestPrefetchTreeStopsWithTheMount: a walk waiting on the network ends
// when its mount goes away (its context is cancelled).
func TestPrefetchTreeStopsWithTheMount(t *testing.T) {
	src, cm := dagSource(t)
	src.block = true
	ctx, cancel := context.WithCancel(context.Background())
	p := &progress{}
	ended := make(chan struct{})
	go func() {
		prefetchTree(ctx, src, cm.RootTree, cm.RootMeta, p)
		close(ended)
	}()
	cancel()
	select {
	case <-ended:
	case <-time.After(20 * time.Second):
		t.Fatal("the background walk did not end with its mount")
	}
	if p.err.Load() != nil {
		t.Errorf("an unmount is not a prefetch error: %v", p.err.Load())
	}
}
