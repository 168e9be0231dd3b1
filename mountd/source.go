package mountd

import (
	"context"
	"fmt"
	"time"

	"arbor/fetch"
	"arbor/fs"
	"arbor/store"
	"arbor/store/index"
	"arbor/store/object"
)

// lazySource reads a tree from the store and fetches what is missing from
// a remote on first use.
type lazySource struct {
	f       *fetch.Fetcher
	timeout time.Duration // how long a reader waits for one object
	// verifiedOnly serves no header before it is verified, even from a
	// remote that does not verify: a mount that honours setuid bits.
	verifiedOnly bool
	// life bounds background fetches (Background): the daemon's.
	life context.Context
}

func (s lazySource) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

var (
	_ fs.Source      = lazySource{}
	_ fs.LocalSource = lazySource{}
	_ fs.Prefetcher  = lazySource{}
)

// Background runs work in its own goroutine, bounded by the daemon's
// life and the source's timeout.
func (s lazySource) Background(work func(ctx context.Context)) {
	if s.life == nil {
		return
	}
	go func() {
		ctx, cancel := s.bound(s.life)
		defer cancel()
		work(ctx)
	}()
}

// FetchFile fetches c whole, unless it is stored.
func (s lazySource) FetchFile(ctx context.Context, c object.Checksum) error {
	return s.f.Fetch(ctx, index.Ref{Checksum: c, Type: object.TypeFile})
}

func (s lazySource) FileLocal(c object.Checksum) (fs.FileInfo, bool) {
	d, ok, err := s.f.DescribeLocal(c, s.verifiedOnly)
	if err != nil || !ok {
		return fs.FileInfo{}, false
	}
	return fs.FileInfo{FileHeader: d.Header, Size: d.Size}, true
}

func (s lazySource) Settle(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.f.WaitIndexes(ctx)
}

func (s lazySource) DirLocal(tree, meta object.Checksum) bool {
	return s.f.HasMeta(index.Ref{Checksum: tree, Type: object.TypeDirTree}) &&
		s.f.HasMeta(index.Ref{Checksum: meta, Type: object.TypeDirMeta})
}

// treeLocal says whether dirtree c is at hand, in the store or an index.
func (s lazySource) treeLocal(c object.Checksum) bool {
	return s.f.HasMeta(index.Ref{Checksum: c, Type: object.TypeDirTree})
}

func (s lazySource) DirTree(ctx context.Context, c object.Checksum) (*object.DirTree, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	b, err := s.f.ReadMeta(ctx, index.Ref{Checksum: c, Type: object.TypeDirTree})
	if err != nil {
		return nil, err
	}
	t, err := object.ParseDirTree(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", object.Name(c, object.TypeDirTree), err)
	}
	return &t, nil
}

func (s lazySource) DirMeta(ctx context.Context, c object.Checksum) (*object.DirMeta, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	b, err := s.f.ReadMeta(ctx, index.Ref{Checksum: c, Type: object.TypeDirMeta})
	if err != nil {
		return nil, err
	}
	m, err := object.ParseDirMeta(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", object.Name(c, object.TypeDirMeta), err)
	}
	return &m, nil
}

func (s lazySource) File(ctx context.Context, c object.Checksum) (fs.FileInfo, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	d, err := s.f.Describe(ctx, c, s.verifiedOnly)
	if err != nil {
		return fs.FileInfo{}, err
	}
	return fs.FileInfo{FileHeader: d.Header, Size: d.Size}, nil
}

// warm fetches, in the background, what a stat of c needs, where that is
// cheap.
func (s lazySource) warm(ctx context.Context, c object.Checksum) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.f.Warm(ctx, c, s.verifiedOnly)
}

func (s lazySource) Open(ctx context.Context, c object.Checksum) (fs.Data, error) {
	// Once fetched and checked, reads go straight to the object file
	// (a checked claim is gone, so nothing is left to compare).
	if f, err := s.f.OpenData(c); err == nil {
		return f, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ct, err := s.f.OpenContent(ctx, c)
	if err != nil {
		return nil, err
	}
	f := ct.File()
	if f == nil {
		ct.Close()
		return nil, fmt.Errorf("%s: %w: not a regular file in a bare-user store", object.Name(c, object.TypeFile), store.ErrCorrupt)
	}
	return f, nil
}
