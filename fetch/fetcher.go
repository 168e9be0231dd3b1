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
	"arbor/store/gpg"
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

	// verify is the remote's gpg-verify: then only what is bound to the
	// commit by a checksum or a signature is served, never a header the
	// server merely claims. keyring holds the remote's keys.
	verify      bool
	keyring     *gpg.Keyring
	fingerprint string // the remote's, when the fetcher was made

	// claims are headers of objects not yet fetched whole, from a tree
	// index or the start of the object: they answer stat before the
	// content is here, and are checked against the verified object when
	// it arrives.
	claimsMu sync.Mutex
	claims   map[object.Checksum]claim
	decomp   object.Decompressor

	// indexed holds dirtrees and dirmetas from tree indexes, checked
	// against their checksums, until they are written to the store.
	indexedMu sync.Mutex
	indexed   map[index.Ref][]byte
	loaded    map[object.Checksum]bool // commits whose tree index was loaded: whether it was signed
	loading   map[object.Checksum]chan struct{}
}

// Described is a content object's header and size.
type Described struct {
	Header object.FileHeader
	Size   uint64
}

// claim is a header served before its object is here. A verified one
// comes from a tree index whose signature verified with the remote's keys;
// the others are only the server's word, served where the remote does not
// verify and the mount allows it.
type claim struct {
	Described
	verified bool
}

// prefixSource fetches the beginning of a content object.
type prefixSource interface {
	ContentPrefix(ctx context.Context, c object.Checksum, n int64) ([]byte, bool, error)
}

// describePrefix is how much of an object a stat a program waits on asks
// for: its header, and the whole of most small files (95% of a python
// library's sources and bytecode), since a read most often follows.
// warmPrefix is what a background walk asks for, which reads nothing.
const (
	describePrefix = 32 << 10
	warmPrefix     = 8 << 10
)

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
	keyring, err := rm.Keyring(r)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	f := &Fetcher{repo: r, src: src, timeout: timeout, stop: make(chan struct{}), done: make(chan struct{}),
		verify: rm.GPGVerify || signVerifies(r, rm.Name), keyring: keyring, fingerprint: rm.Fingerprint(r),
		claims: map[object.Checksum]claim{}, indexed: map[index.Ref][]byte{}, loaded: map[object.Checksum]bool{},
		loading: map[object.Checksum]chan struct{}{}}
	go f.flusher()
	return f, nil
}

// Fingerprint is its remote's fingerprint (Remote.Fingerprint) when the
// fetcher was made.
func (f *Fetcher) Fingerprint() string { return f.fingerprint }

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

// HasMeta reports whether ReadMeta would answer without the network.
func (f *Fetcher) HasMeta(ref index.Ref) bool {
	if _, ok := f.fromIndex(ref); ok {
		return true
	}
	if ok, err := f.repo.HasObject(ref.Checksum, ref.Type); err == nil && ok {
		return true
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.txn == nil {
		return false
	}
	ok, err := f.txn.Stored(ref)
	return err == nil && ok
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
	if _, ok := f.loaded[commit]; ok {
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

// WaitIndexes waits for the tree indexes being loaded now, which answer
// every entry of a listing at once.
func (f *Fetcher) WaitIndexes(ctx context.Context) error {
	f.indexedMu.Lock()
	var waits []chan struct{}
	for _, w := range f.loading {
		waits = append(waits, w)
	}
	f.indexedMu.Unlock()
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
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
	_, ok := f.loaded[commit]
	return ok, nil
}

// TreeIndexSigned reports whether the tree index loaded for commit had a
// signature that verified.
func (f *Fetcher) TreeIndexSigned(commit object.Checksum) bool {
	f.indexedMu.Lock()
	defer f.indexedMu.Unlock()
	return f.loaded[commit]
}

// treeIndexSource is a source that publishes tree indexes.
type treeIndexSource interface {
	TreeIndex(ctx context.Context, c object.Checksum) ([]byte, error)
	TreeIndexSig(ctx context.Context, c object.Checksum) ([]byte, error)
}

func (f *Fetcher) loadTreeIndex(ctx context.Context, commit object.Checksum) (bool, error) {
	ts, ok := f.src.(treeIndexSource)
	if !ok {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	// A copy kept from an earlier mount serves offline and saves the
	// fetch; it is checked as the remote's would be.
	if ti, verified, ok := keptTreeIndex(f.repo, commit, f.checkTreeIndex); ok {
		f.install(commit, ti, verified)
		return true, nil
	}
	b, sig, err := fetchTreeIndex(ctx, ts, commit)
	if errors.Is(err, httpc.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ti, verified, err := f.checkTreeIndex(commit, b, sig)
	if err != nil {
		return false, err
	}
	f.install(commit, ti, verified)
	return true, keepTreeIndex(f.repo, commit, b, sig)
}

// keptTreeIndex is the tree index kept in the repository for commit,
// once check passes it; ok is false when there is none or it does not
// check (a crash can cut one short: it is not synced).
func keptTreeIndex(r *store.Repo, commit object.Checksum, check func(commit object.Checksum, b, sig []byte) (*store.TreeIndex, bool, error)) (ti *store.TreeIndex, verified, ok bool) {
	b, err := os.ReadFile(filepath.Join(r.Path(), store.TreeIndexPath(commit)))
	if err != nil {
		return nil, false, false
	}
	sig, _ := os.ReadFile(filepath.Join(r.Path(), store.TreeIndexSigPath(commit)))
	ti, verified, err = check(commit, b, sig)
	return ti, verified, err == nil
}

// keepTreeIndex keeps a checked tree index in the repository, for later
// mounts. Kept whole rather than as thousands of object files: that is one
// write, and a later mount reads it back in one go. The signature first,
// so that a kept index is never without the one it came with; should a
// crash undo that (neither is synced), the index is refused when read,
// as any kept index is that does not check, and fetched again.
func keepTreeIndex(r *store.Repo, commit object.Checksum, b, sig []byte) error {
	if sig != nil {
		if err := r.KeepExtensionFile(store.TreeIndexSigPath(commit), sig); err != nil {
			return err
		}
	} else if err := os.Remove(filepath.Join(r.Path(), store.TreeIndexSigPath(commit))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return r.KeepExtensionFile(store.TreeIndexPath(commit), b)
}

// fetchTreeIndex fetches an index and its signature together; a missing
// signature is nil.
func fetchTreeIndex(ctx context.Context, ts treeIndexSource, commit object.Checksum) ([]byte, []byte, error) {
	var sig []byte
	var sigErr error
	got := make(chan struct{})
	go func() {
		defer close(got)
		sig, sigErr = ts.TreeIndexSig(ctx, commit)
		if errors.Is(sigErr, httpc.ErrNotFound) {
			sig, sigErr = nil, nil
		}
	}()
	b, err := ts.TreeIndex(ctx, commit)
	<-got
	if err != nil {
		return nil, nil, err
	}
	if sigErr != nil {
		return nil, nil, fmt.Errorf("%s: %w", store.TreeIndexSigPath(commit), sigErr)
	}
	return b, sig, nil
}

// ErrUnsignedIndex marks a tree index a verifying remote publishes
// without a signature its keys verify.
var ErrUnsignedIndex = errors.New("tree index without a valid signature")

// checkTreeIndex parses an index and decides whether its file headers are
// verified: on a verifying remote they must be, or the index is refused.
func (f *Fetcher) checkTreeIndex(commit object.Checksum, b, sig []byte) (*store.TreeIndex, bool, error) {
	return checkTreeIndex(f.keyring, f.verify, commit, b, sig)
}

// checkTreeIndex is Fetcher.checkTreeIndex for a remote with keyring
// whose gpg-verify is verify.
func checkTreeIndex(keyring *gpg.Keyring, verify bool, commit object.Checksum, b, sig []byte) (*store.TreeIndex, bool, error) {
	name := store.TreeIndexPath(commit)
	verified := false
	switch {
	case sig != nil && keyring.Len() > 0:
		if err := verifySigs(keyring, b, sig); err != nil {
			return nil, false, fmt.Errorf("%s: %w: %v", name, store.ErrForgedIndex, err)
		}
		verified = true
	case verify && sig == nil:
		return nil, false, fmt.Errorf("%s: %w: it is not signed, and the remote verifies signatures", name, ErrUnsignedIndex)
	case verify:
		return nil, false, fmt.Errorf("%s: %w: the remote has no trusted keys", name, ErrUnsignedIndex)
	}
	ti, err := store.ParseTreeIndex(b)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	return ti, verified, nil
}

// install makes an index's objects and headers answer.
func (f *Fetcher) install(commit object.Checksum, ti *store.TreeIndex, verified bool) {
	f.indexedMu.Lock()
	for _, m := range ti.Meta {
		f.indexed[m.Ref] = m.Data
	}
	f.loaded[commit] = verified
	f.indexedMu.Unlock()
	f.claimsMu.Lock()
	for _, fi := range ti.Files {
		if old, ok := f.claims[fi.Checksum]; !ok || verified && !old.verified {
			f.claims[fi.Checksum] = claim{Described{Header: fi.Header, Size: fi.Size}, verified}
		}
	}
	f.claimsMu.Unlock()
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

// Describe returns a content object's header and size. Where the server's
// word may be served (the remote does not verify, and not verifiedOnly),
// an object that is not local is not fetched whole: its first bytes are,
// which hold the header and, for most small files, everything (then it is
// verified and stored); a header read that way is checked when the object
// is fetched. Otherwise the answer is a verified header: from the store,
// a signed tree index, or the object fetched whole.
func (f *Fetcher) Describe(ctx context.Context, c object.Checksum, verifiedOnly bool) (Described, error) {
	for attempt := 0; ; attempt++ {
		d, done, err := f.describe1(ctx, c, verifiedOnly)
		if done || err != nil {
			return d, err
		}
		if attempt == 3 {
			return Described{}, fmt.Errorf("%s: %w", object.Name(c, object.TypeFile), store.ErrObjectMissing)
		}
	}
}

// DescribeLocal answers Describe without the network when it can: from a
// header already claimed (a tree index, the start of the object) that may
// be served, or from the object in the store. An object here outranks a
// claim no signature vouches for: that costs such a claim a look at the
// store, once per file and mount (the kernel keeps attributes an hour),
// and only on a remote that does not verify.
func (f *Fetcher) DescribeLocal(c object.Checksum, verifiedOnly bool) (Described, bool, error) {
	f.claimsMu.Lock()
	cl, claimed := f.claims[c]
	f.claimsMu.Unlock()
	if claimed && cl.verified {
		return cl.Described, true, nil
	}
	h, size, err := f.repo.StatContent(c)
	if err == nil {
		return Described{Header: h, Size: size}, true, nil
	}
	if !errors.Is(err, store.ErrObjectMissing) {
		return Described{}, false, err
	}
	if claimed {
		if ct, err := f.openLocal(context.Background(), c); err == nil {
			defer ct.Close()
			return Described{Header: ct.Header, Size: ct.Size}, true, nil
		}
	}
	if d, ok := f.usableClaim(c, verifiedOnly); ok {
		return d, true, nil
	}
	return Described{}, false, nil
}

// usableClaim is the claim about c that may be served: a verified one, or
// any where the server's word is allowed.
func (f *Fetcher) usableClaim(c object.Checksum, verifiedOnly bool) (Described, bool) {
	f.claimsMu.Lock()
	cl, ok := f.claims[c]
	f.claimsMu.Unlock()
	if !ok || !cl.verified && (verifiedOnly || f.verify) {
		return Described{}, false
	}
	return cl.Described, true
}

// describe1 answers from what is here, or fetches the object's start and
// reports done=false so the caller looks again.
func (f *Fetcher) describe1(ctx context.Context, c object.Checksum, verifiedOnly bool) (Described, bool, error) {
	if d, ok, err := f.DescribeLocal(c, verifiedOnly); ok || err != nil {
		return d, true, err
	}
	if ct, err := f.openLocal(ctx, c); err == nil {
		defer ct.Close()
		return Described{Header: ct.Header, Size: ct.Size}, true, nil
	} else if !errors.Is(err, store.ErrObjectMissing) {
		return Described{}, true, err
	}
	if _, ok := f.src.(prefixSource); !ok || verifiedOnly || f.verify {
		// Only the whole object is verified.
		ct, err := f.OpenContent(ctx, c)
		if err != nil {
			return Described{}, true, err
		}
		defer ct.Close()
		return Described{Header: ct.Header, Size: ct.Size}, true, nil
	}
	if err := f.probe(ctx, c, true, describePrefix); err != nil {
		return Described{}, true, err
	}
	return Described{}, false, nil
}

// Warm fetches what a later stat of a content object needs, as far as
// that is cheap: its first bytes, stored when they are the whole object.
// The header they hold is kept as a claim only where the server's word
// may be served; otherwise a large object is left for its first use.
func (f *Fetcher) Warm(ctx context.Context, c object.Checksum, verifiedOnly bool) error {
	if _, ok, err := f.DescribeLocal(c, verifiedOnly); ok || err != nil {
		return err
	}
	if _, ok := f.src.(prefixSource); !ok {
		return nil
	}
	return f.probe(ctx, c, !verifiedOnly && !f.verify, warmPrefix)
}

// probe fetches the first n bytes of a content object: all of a small
// one, which is verified and stored; of a large one, the header, which is
// kept as a claim when keep says so.
func (f *Fetcher) probe(ctx context.Context, c object.Checksum, keep bool, n int64) error {
	ps := f.src.(prefixSource)
	key := object.Name(c, object.TypeFile)
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	f.pending.Add(1)
	defer f.pending.Add(-1)
	_, err := f.group.Do(ctx, key, func(ctx context.Context) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, f.timeout)
		defer cancel()
		data, complete, err := ps.ContentPrefix(ctx, c, n)
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
			if h.IsSymlink() && keep {
				// A symlink is its header alone, served only once its
				// checksum is checked: fetch it whole.
				return nil, f.fetch1(ctx, index.Ref{Checksum: c, Type: object.TypeFile})
			}
			if keep {
				f.claimsMu.Lock()
				if _, ok := f.claims[c]; !ok {
					f.claims[c] = claim{Described: Described{Header: h, Size: size}}
				}
				f.claimsMu.Unlock()
			}
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
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%s: no answer in time: %w", key, err)
	}
	return err
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
