package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"arbor/fetch/httpc"
	"arbor/store"
	"arbor/store/index"
	"arbor/store/object"
)

// Fetcher brings single objects into the store on demand, for lazy mounts:
// concurrent requests for one object cause one download, every object is
// verified before anyone can read it, and objects are published in
// batches (one syncfs for many) while readers use them straight away from
// the staging area.
type Fetcher struct {
	repo    *store.Repo
	src     Source
	group   httpc.Group
	timeout time.Duration

	// mu guards txn: fetches and reads hold it shared; only closing an
	// idle transaction takes it exclusively.
	mu       sync.RWMutex
	txn      *store.Txn
	lastUsed atomic.Int64 // unix nanoseconds of the last fetch
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	objects, pending atomic.Int64

	// claims are headers read from the start of objects not yet fetched
	// whole: they answer stat before the content is here, and are checked
	// against the verified object when it arrives.
	claimsMu sync.Mutex
	claims   map[object.Checksum]Described
	decomp   object.Decompressor

	// indexed holds dirtrees and dirmetas from tree indexes, checked
	// against their checksums, until they are written to the store.
	indexedMu sync.Mutex
	indexed   map[index.Ref][]byte
	loaded    map[object.Checksum]bool // commits whose tree index was loaded
	loading   map[object.Checksum]chan struct{}
}

// Described is a content object's header and size.
type Described struct {
	Header object.FileHeader
	Size   uint64
}

// prefixSource fetches the beginning of a content object.
type prefixSource interface {
	ContentPrefix(ctx context.Context, c object.Checksum, n int64) ([]byte, bool, error)
}

// describePrefix is how much of an object Describe asks for: its header,
// and the whole of most small files.
const describePrefix = 8 << 10

// FetcherStats are a fetcher's counters.
type FetcherStats struct {
	Objects  int64 `json:"objects_fetched"` // stored whole
	Bytes    int64 `json:"bytes_fetched"`   // body bytes received
	Requests int64 `json:"requests"`        // HTTP requests (retries included)
	Pending  int64 `json:"objects_pending"` // being fetched now
}

// lazyFlushEvery bounds how long a fetched object stays staged; idleClose is
// how long an unused transaction keeps the repo's shared lock.
const (
	lazyFlushEvery = time.Second
	idleClose      = 3 * time.Second
)

// NewFetcher fetches from a configured remote. timeout bounds each fetch
// (0: one minute), so a reader of an unreachable object gets an error
// rather than waiting forever.
func NewFetcher(r *store.Repo, remote string, timeout time.Duration) (*Fetcher, error) {
	rm, err := LoadRemote(r, remote)
	if err != nil {
		return nil, err
	}
	src, err := newHTTPSource(rm)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	f := &Fetcher{repo: r, src: src, timeout: timeout, stop: make(chan struct{}), done: make(chan struct{}),
		claims: map[object.Checksum]Described{}, indexed: map[index.Ref][]byte{}, loaded: map[object.Checksum]bool{},
		loading: map[object.Checksum]chan struct{}{}}
	go f.flusher()
	return f, nil
}

// Stats returns the fetcher's counters.
func (f *Fetcher) Stats() FetcherStats {
	st := FetcherStats{Objects: f.objects.Load(), Pending: f.pending.Load()}
	if r, ok := f.src.(interface{ Received() (int64, int64) }); ok {
		st.Bytes, st.Requests = r.Received()
	}
	return st
}

// Close publishes what is staged and stops the fetcher.
func (f *Fetcher) Close() error {
	f.stopOnce.Do(func() { close(f.stop) })
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closeTxn()
}

func (f *Fetcher) closeTxn() error {
	if f.txn == nil {
		return nil
	}
	err := f.txn.Commit()
	f.txn = nil
	return err
}

func (f *Fetcher) flusher() {
	defer close(f.done)
	t := time.NewTicker(lazyFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		f.mu.RLock()
		if f.txn != nil {
			f.txn.Flush() // an error leaves the objects staged; Commit retries
		}
		f.mu.RUnlock()
		if time.Since(time.Unix(0, f.lastUsed.Load())) > idleClose {
			f.mu.Lock()
			if f.txn != nil && time.Since(time.Unix(0, f.lastUsed.Load())) > idleClose {
				f.closeTxn()
			}
			f.mu.Unlock()
		}
	}
}

// begin returns the open transaction, starting one if needed, with f.mu
// held shared; the caller must RUnlock.
func (f *Fetcher) begin(ctx context.Context) (*store.Txn, error) {
	f.lastUsed.Store(time.Now().UnixNano())
	f.mu.RLock()
	if f.txn != nil {
		return f.txn, nil
	}
	f.mu.RUnlock()
	f.mu.Lock()
	if f.txn == nil {
		txn, err := f.repo.Begin(ctx)
		if err != nil {
			f.mu.Unlock()
			return nil, err
		}
		f.txn = txn
	}
	f.mu.Unlock()
	return f.begin(ctx)
}

// Fetch makes sure the object is in the store (staged or published).
// Every write of an object by this fetcher runs under its name in the
// group, so once no fetch of it is in flight, what is stored is whole.
func (f *Fetcher) Fetch(ctx context.Context, ref index.Ref) error {
	key := object.Name(ref.Checksum, ref.Type)
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		txn, err := f.begin(ctx)
		if err != nil {
			return err
		}
		has, err := txn.Stored(ref)
		f.mu.RUnlock()
		if err != nil || has {
			return err
		}
		if attempt == 3 {
			return fmt.Errorf("%s: %w", key, store.ErrObjectMissing)
		}
		f.pending.Add(1)
		// The fetch in flight may be Describe's, which stores only a small
		// object: then go round and fetch it whole.
		_, err = f.group.Do(ctx, key, func(ctx context.Context) ([]byte, error) {
			ctx, cancel := context.WithTimeout(ctx, f.timeout)
			defer cancel()
			return nil, f.fetch1(ctx, ref)
		})
		f.pending.Add(-1)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("%s: no answer in time: %w", key, err)
		}
		if err != nil {
			return err
		}
	}
}

func (f *Fetcher) fetch1(ctx context.Context, ref index.Ref) error {
	key := object.Name(ref.Checksum, ref.Type)
	txn, err := f.begin(ctx)
	if err != nil {
		return err
	}
	defer f.mu.RUnlock()
	if has, err := txn.Stored(ref); err != nil || has {
		return err
	}
	if ref.Type == object.TypeFile {
		h, size, body, err := f.src.Content(ctx, ref.Checksum)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		defer body.Close()
		if err := txn.AddContent(ref.Checksum, h, size, body); err != nil {
			return err
		}
	} else {
		b, err := f.src.Meta(ctx, ref)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if err := txn.AddMeta(ref, b); err != nil {
			return err
		}
	}
	f.objects.Add(1)
	return nil
}

// ReadMeta fetches a metadata object if needed and returns its bytes.
func (f *Fetcher) ReadMeta(ctx context.Context, ref index.Ref) ([]byte, error) {
	// A loaded tree index answers from memory, before any file is tried.
	if b, ok := f.fromIndex(ref); ok {
		return b, nil
	}
	if b, err := f.repo.ReadMeta(ref.Checksum, ref.Type); err == nil || !errors.Is(err, store.ErrObjectMissing) {
		return b, err
	}
	if err := f.Fetch(ctx, ref); err != nil {
		return nil, err
	}
	txn, err := f.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	return txn.ReadMeta(ref)
}

// OpenData opens a published regular object's file for reading, when
// no header claim about it is still waiting to be checked.
func (f *Fetcher) OpenData(c object.Checksum) (*os.File, error) {
	f.claimsMu.Lock()
	_, claimed := f.claims[c]
	f.claimsMu.Unlock()
	if claimed {
		return nil, fmt.Errorf("%s: its header is still to be checked", object.Name(c, object.TypeFile))
	}
	return f.repo.OpenData(c)
}

// OpenContent fetches a content object if needed and opens it.
func (f *Fetcher) OpenContent(ctx context.Context, c object.Checksum) (*store.Content, error) {
	ct, err := f.openContent(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := f.checkClaim(c, ct); err != nil {
		ct.Close()
		return nil, err
	}
	return ct, nil
}

func (f *Fetcher) openContent(ctx context.Context, c object.Checksum) (*store.Content, error) {
	if ct, err := f.repo.OpenContent(c); err == nil || !errors.Is(err, store.ErrObjectMissing) {
		return ct, err
	}
	if err := f.Fetch(ctx, index.Ref{Checksum: c, Type: object.TypeFile}); err != nil {
		return nil, err
	}
	txn, err := f.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	return txn.OpenContent(c)
}

// LoadTreeIndexAsync fetches, in the background, the tree index the
// remote publishes for a commit, if it has one: every dirtree and dirmeta
// of the commit and every file's header in one request. done learns
// whether there was one. A copy is kept in the repository for later
// mounts; the metadata stays in memory, answering before the store.
func (f *Fetcher) LoadTreeIndexAsync(ctx context.Context, commit object.Checksum, done func(bool, error)) {
	run, wait := f.startIndex(commit)
	go func() {
		if run == nil {
			done(f.waitIndex(ctx, commit, wait))
			return
		}
		done(run(ctx))
	}()
}

// startIndex registers a load of commit's tree index and returns the
// function that does it, or, when one is loading or loaded, nil and what
// to wait on (nil when loaded).
func (f *Fetcher) startIndex(commit object.Checksum) (func(context.Context) (bool, error), chan struct{}) {
	f.indexedMu.Lock()
	defer f.indexedMu.Unlock()
	if f.loaded[commit] {
		return nil, nil
	}
	if w, ok := f.loading[commit]; ok {
		return nil, w
	}
	ch := make(chan struct{})
	f.loading[commit] = ch
	return func(ctx context.Context) (bool, error) {
		defer func() {
			f.indexedMu.Lock()
			delete(f.loading, commit)
			close(ch)
			f.indexedMu.Unlock()
		}()
		return f.loadTreeIndex(ctx, commit)
	}, nil
}

func (f *Fetcher) waitIndex(ctx context.Context, commit object.Checksum, wait chan struct{}) (bool, error) {
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	f.indexedMu.Lock()
	defer f.indexedMu.Unlock()
	return f.loaded[commit], nil
}

func (f *Fetcher) loadTreeIndex(ctx context.Context, commit object.Checksum) (bool, error) {
	ts, ok := f.src.(interface {
		TreeIndex(ctx context.Context, c object.Checksum) ([]byte, error)
	})
	if !ok {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	// A copy kept from an earlier mount serves offline and saves the fetch.
	local := filepath.Join(f.repo.Path(), store.TreeIndexPath(commit))
	b, err := os.ReadFile(local)
	fetched := false
	if err != nil {
		b, err = ts.TreeIndex(ctx, commit)
		if errors.Is(err, httpc.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		fetched = true
	}
	ti, err := store.ParseTreeIndex(b)
	if err != nil {
		return false, fmt.Errorf("%s: %w", store.TreeIndexPath(commit), err)
	}
	f.indexedMu.Lock()
	for _, m := range ti.Meta {
		f.indexed[m.Ref] = m.Data
	}
	f.loaded[commit] = true
	f.indexedMu.Unlock()
	f.claimsMu.Lock()
	for _, fi := range ti.Files {
		if _, ok := f.claims[fi.Checksum]; !ok {
			f.claims[fi.Checksum] = Described{Header: fi.Header, Size: fi.Size}
		}
	}
	f.claimsMu.Unlock()
	if fetched {
		// Kept whole rather than as thousands of object files: that is
		// one write, and a later mount reads it back in one go.
		if err := f.repo.WriteExtensionFile(store.TreeIndexPath(commit), b); err != nil {
			return true, err
		}
	}
	return true, nil
}

// fromIndex answers from a loaded tree index. It does not wait for one
// being loaded: the first read after a mount should not wait for the
// whole index, and the few objects fetched twice meanwhile cost less.
func (f *Fetcher) fromIndex(ref index.Ref) ([]byte, bool) {
	f.indexedMu.Lock()
	defer f.indexedMu.Unlock()
	b, ok := f.indexed[ref]
	return b, ok
}

// checkClaim compares a verified object with the header Describe gave out
// for it before it was fetched.
func (f *Fetcher) checkClaim(c object.Checksum, ct *store.Content) error {
	f.claimsMu.Lock()
	d, ok := f.claims[c]
	f.claimsMu.Unlock()
	if !ok {
		return nil
	}
	if d.Size != ct.Size || !sameHeader(&d.Header, &ct.Header) {
		return fmt.Errorf("%s: %w: its header differs from the one served before the object",
			object.Name(c, object.TypeFile), store.ErrCorrupt)
	}
	f.claimsMu.Lock()
	delete(f.claims, c)
	f.claimsMu.Unlock()
	return nil
}

func sameHeader(a, b *object.FileHeader) bool {
	if a.UID != b.UID || a.GID != b.GID || a.Mode != b.Mode || a.Target != b.Target || len(a.Xattrs) != len(b.Xattrs) {
		return false
	}
	for i := range a.Xattrs {
		if a.Xattrs[i].Name != b.Xattrs[i].Name || string(a.Xattrs[i].Value) != string(b.Xattrs[i].Value) {
			return false
		}
	}
	return true
}

// Describe returns a content object's header and size. An object that is
// not local is not fetched whole: its first bytes are, which hold the
// header and, for most small files, everything (then it is verified and
// stored). A header read that way is checked when the object is fetched.
func (f *Fetcher) Describe(ctx context.Context, c object.Checksum) (Described, error) {
	for attempt := 0; ; attempt++ {
		d, done, err := f.describe1(ctx, c)
		if done || err != nil {
			return d, err
		}
		if attempt == 3 {
			return Described{}, fmt.Errorf("%s: %w", object.Name(c, object.TypeFile), store.ErrObjectMissing)
		}
	}
}

// DescribeLocal answers Describe without the network when it can: from a
// header already claimed (a tree index, the start of the object) or from
// the object in the store.
func (f *Fetcher) DescribeLocal(c object.Checksum) (Described, bool, error) {
	f.claimsMu.Lock()
	d, ok := f.claims[c]
	f.claimsMu.Unlock()
	if ok {
		return d, true, nil
	}
	h, size, err := f.repo.StatContent(c)
	if err == nil {
		return Described{Header: h, Size: size}, true, nil
	}
	if !errors.Is(err, store.ErrObjectMissing) {
		return Described{}, false, err
	}
	return Described{}, false, nil
}

// describe1 answers from what is here, or fetches the object's start and
// reports done=false so the caller looks again.
func (f *Fetcher) describe1(ctx context.Context, c object.Checksum) (Described, bool, error) {
	if d, ok, err := f.DescribeLocal(c); ok || err != nil {
		return d, true, err
	}
	if h, size, err := f.repo.StatContent(c); err == nil {
		return Described{Header: h, Size: size}, true, nil
	} else if !errors.Is(err, store.ErrObjectMissing) {
		return Described{}, true, err
	}
	if ct, err := f.openLocal(ctx, c); err == nil {
		defer ct.Close()
		return Described{Header: ct.Header, Size: ct.Size}, true, nil
	} else if !errors.Is(err, store.ErrObjectMissing) {
		return Described{}, true, err
	}
	f.claimsMu.Lock()
	d, ok := f.claims[c]
	f.claimsMu.Unlock()
	if ok {
		return d, true, nil
	}
	ps, ok := f.src.(prefixSource)
	if !ok {
		ct, err := f.OpenContent(ctx, c)
		if err != nil {
			return Described{}, true, err
		}
		defer ct.Close()
		return Described{Header: ct.Header, Size: ct.Size}, true, nil
	}
	key := object.Name(c, object.TypeFile)
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	f.pending.Add(1)
	defer f.pending.Add(-1)
	_, err := f.group.Do(ctx, key, func(ctx context.Context) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, f.timeout)
		defer cancel()
		data, complete, err := ps.ContentPrefix(ctx, c, describePrefix)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		h, size, payload, err := f.decomp.ReadArchive(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", key, store.ErrCorrupt, err)
		}
		defer payload.Close()
		if err := h.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w: %v", key, store.ErrCorrupt, err)
		}
		if !complete {
			f.claimsMu.Lock()
			f.claims[c] = Described{Header: h, Size: size}
			f.claimsMu.Unlock()
			return nil, nil
		}
		txn, err := f.begin(ctx)
		if err != nil {
			return nil, err
		}
		defer f.mu.RUnlock()
		if err := txn.AddContent(c, &h, size, payload); err != nil {
			return nil, err
		}
		f.objects.Add(1)
		return nil, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return Described{}, true, fmt.Errorf("%s: no answer in time: %w", key, err)
		}
		return Described{}, true, err
	}
	return Described{}, false, nil
}

// openLocal opens a content object staged by this fetcher.
func (f *Fetcher) openLocal(ctx context.Context, c object.Checksum) (*store.Content, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.txn != nil {
		if ok, err := f.txn.Stored(index.Ref{Checksum: c, Type: object.TypeFile}); err != nil || ok {
			if err != nil {
				return nil, err
			}
			return f.txn.OpenContent(c)
		}
	}
	return nil, fmt.Errorf("%s: %w", object.Name(c, object.TypeFile), store.ErrObjectMissing)
}
