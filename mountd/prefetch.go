package mountd

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"arbor/store/index"
	"arbor/store/object"
)

// prefetchWorkers is how many objects a mount's background walk fetches
// at once.
const prefetchWorkers = 16

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

// prefetchTree walks the whole commit breadth-first: every dirtree and
// dirmeta, then every file's header (and all of each small file), so
// that listing and stat never wait on the network afterwards.
func prefetchTree(ctx context.Context, src lazySource, rootTree, rootMeta object.Checksum, p *progress) {
	defer p.done.Store(true)
	fail := func(err error) {
		p.err.CompareAndSwap(nil, err.Error())
	}
	type dirJob struct{ tree, meta object.Checksum }
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		dirs    = []dirJob{{rootTree, rootMeta}}
		files   []object.Checksum
		seen    = map[object.Checksum]bool{}
		busy    int
		stopped bool
	)
	go func() {
		<-ctx.Done()
		mu.Lock()
		stopped = true
		cond.Broadcast()
		mu.Unlock()
	}()
	var wg sync.WaitGroup
	for w := 0; w < prefetchWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for !stopped && len(dirs) == 0 && len(files) == 0 && busy > 0 {
					cond.Wait()
				}
				if stopped || len(dirs) == 0 && len(files) == 0 {
					cond.Broadcast()
					mu.Unlock()
					return
				}
				busy++
				var d dirJob
				var f object.Checksum
				isDir := len(dirs) > 0
				if isDir {
					d, dirs = dirs[0], dirs[1:]
				} else {
					f, files = files[len(files)-1], files[:len(files)-1]
				}
				mu.Unlock()

				var newDirs []dirJob
				var newFiles []object.Checksum
				if isDir {
					if _, err := src.DirMeta(ctx, d.meta); err != nil {
						fail(err)
					}
					if dt, err := src.DirTree(ctx, d.tree); err != nil {
						fail(err)
					} else {
						p.dirs.Add(1)
						for _, e := range dt.Dirs {
							newDirs = append(newDirs, dirJob{e.Tree, e.Meta})
						}
						for _, e := range dt.Files {
							newFiles = append(newFiles, e.Checksum)
						}
					}
				} else if err := src.warm(ctx, f); err != nil {
					fail(err)
				} else {
					p.files.Add(1)
				}

				mu.Lock()
				busy--
				dirs = append(dirs, newDirs...)
				for _, c := range newFiles {
					if !seen[c] {
						seen[c] = true
						files = append(files, c)
					}
				}
				cond.Broadcast()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
