package mountd

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"arbor/fetch/httpc"
	"arbor/store"
	"arbor/store/index"
	"arbor/store/object"
)

// prefetchWorkers is how many objects a mount's profile prefetch fetches
// at once: what the app is about to read, as urgent as its own reads.
const prefetchWorkers = 16

// walkWorkers is how many a background walk of the whole tree fetches at
// once: half of a remote's connections, so that the reads an app waits
// on are never queued behind it (over a 50 ms link a queued read waits a
// round trip or more for a connection).
const walkWorkers = httpc.DefaultMaxConnsPerHost / 2

// progress counts a background walk.
type progress struct {
	dirs, files atomic.Int64 // described so far
	profile     atomic.Int64 // profile files fetched
	done        atomic.Bool
	err         atomic.Value // first error, a string
}

// prefetchProfile fetches, whole, the files a previous mount of the same
// source read first, resolved by path in this commit.
func prefetchProfile(ctx context.Context, src lazySource, rootTree object.Checksum, paths []string, p *progress) {
	work := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < prefetchWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range work {
				c, ok := resolveFile(ctx, src, rootTree, path)
				if !ok {
					continue
				}
				if src.f.Fetch(ctx, index.Ref{Checksum: c, Type: object.TypeFile}) == nil {
					p.profile.Add(1)
				}
			}
		}()
	}
	for _, path := range paths {
		select {
		case work <- path:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
}

func resolveFile(ctx context.Context, src lazySource, tree object.Checksum, path string) (object.Checksum, bool) {
	parts := strings.Split(path, "/")
	for i, name := range parts {
		dt, err := src.DirTree(ctx, tree)
		if err != nil {
			return object.Checksum{}, false
		}
		if i == len(parts)-1 {
			for _, f := range dt.Files {
				if f.Name == name {
					return f.Checksum, true
				}
			}
			return object.Checksum{}, false
		}
		found := false
		for _, d := range dt.Dirs {
			if d.Name == name {
				tree, found = d.Tree, true
				break
			}
		}
		if !found {
			return object.Checksum{}, false
		}
	}
	return object.Checksum{}, false
}

// treeSource is what a background walk reads: a mount's lazy source.
type treeSource interface {
	store.TreeReader
	DirMeta(ctx context.Context, c object.Checksum) (*object.DirMeta, error)
	// warm fetches what a stat of a file will need, where that is cheap.
	warm(ctx context.Context, c object.Checksum) error
}

var _ treeSource = lazySource{}

// prefetchTree walks the whole commit, each distinct directory once, breadth
// first: every dirtree and dirmeta, then every file's header (and all of
// each small file), so that listing and stat never wait on the network
// afterwards. It ends when ctx does (the mount goes away). Errors are
// recorded and the walk goes on past them.
func prefetchTree(ctx context.Context, src treeSource, rootTree, rootMeta object.Checksum, p *progress) {
	defer p.done.Store(true)
	fail := func(err error) {
		p.err.CompareAndSwap(nil, err.Error())
	}
	var mu sync.Mutex
	var files []object.Checksum
	seen := map[object.Checksum]bool{}
	w := store.Distinct{
		Workers: walkWorkers,
		Meta: func(ctx context.Context, c object.Checksum) error {
			if _, err := src.DirMeta(ctx, c); err != nil && ctx.Err() == nil {
				fail(err)
			}
			return nil
		},
		Dir: func(_ context.Context, d store.Dir) error {
			p.dirs.Add(1)
			mu.Lock()
			defer mu.Unlock()
			for _, f := range d.Entries.Files {
				if !seen[f.Checksum] {
					seen[f.Checksum] = true
					files = append(files, f.Checksum)
				}
			}
			return nil
		},
		OnError: func(_ store.Dir, err error) error {
			fail(err)
			return nil
		},
	}
	if err := w.Walk(ctx, src, store.Root{Tree: rootTree, Meta: rootMeta}); err != nil {
		if ctx.Err() == nil {
			fail(err)
		}
		return
	}
	seen = nil
	warmFiles(ctx, src, files, p)
}

// warmFiles fetches what a stat of each file needs (all of a small file),
// counting them in p.
func warmFiles(ctx context.Context, src treeSource, files []object.Checksum, p *progress) {
	work := make(chan object.Checksum)
	var wg sync.WaitGroup
	for range walkWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if err := src.warm(ctx, c); err != nil {
					if ctx.Err() == nil {
						p.err.CompareAndSwap(nil, err.Error())
					}
				} else {
					p.files.Add(1)
				}
			}
		}()
	}
	for _, c := range files {
		select {
		case work <- c:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
}
