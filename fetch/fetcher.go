package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
		claims: map[object.Checksum]Described{}}
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

// describe1 answers from what is here, or fetches the object's start and
// reports done=false so the caller looks again.
func (f *Fetcher) describe1(ctx context.Context, c object.Checksum) (Described, bool, error) {
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

// openLocal opens a content object already stored or staged.
func (f *Fetcher) openLocal(ctx context.Context, c object.Checksum) (*store.Content, error) {
	if ct, err := f.repo.OpenContent(c); err == nil || !errors.Is(err, store.ErrObjectMissing) {
		return ct, err
	}
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
