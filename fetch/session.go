package fetch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"arbor/fetch/httpc"
	"arbor/store"
	"arbor/store/delta/xzproc"
	"arbor/store/gpg"
	"arbor/store/index"
	"arbor/store/keyfile"
	"arbor/store/object"
)

// Session is a remote as one operation sees it: one set of kept-alive
// connections for all its requests, the summary fetched and verified
// once, and the tree indexes it loaded. An install makes several pulls of
// one remote (a commit, its metadata file, its exports, its runtime); over
// a wide area link each new connection and each summary is a round trip
// or two the user waits for. Safe for concurrent use.
type Session struct {
	repo               *store.Repo
	rm                 *Remote
	src                *httpSource
	keyring            *gpg.Keyring // the remote's keys, when it verifies anything
	cacheDir           string       // empty: the repository's
	failOnInvalidCache bool

	mu      sync.Mutex
	summary *fetchedSummary // nil until fetched

	indexMu sync.Mutex
	indexed map[index.Ref][]byte // dirtrees and dirmetas of loaded tree indexes, checked

	vouched vouchedCommits
}

type fetchedSummary struct {
	s        *store.Summary // nil: the remote has none
	raw, sig []byte
}

// pullConns is how many connections a pull opens as it starts: the
// summary and its signatures go out together, and once the summary names
// the commit, a delta's superblock, its first part and the commit's
// detached metadata (or, without a delta, the commit and its detached
// metadata) go out together. Opened while the summary is asked for, the
// connections the second round needs cost it no handshake.
const pullConns = 4

// NewSession opens a configured remote for one operation; Close ends its
// connections.
func NewSession(r *store.Repo, remote string) (*Session, error) {
	return NewSessionWith(r, remote, SessionOptions{})
}

// SessionOptions change how one session reaches its remote.
type SessionOptions struct {
	URL       string // fetch from here instead of the remote's url and mirrors
	Header    http.Header
	UserAgent string
	CacheDir  string // holds the summary cache, in place of the repository's tmp/cache
	// FailOnInvalidCache: a kept summary that no longer verifies fails
	// the session's summary, naming ostree's test error, and stays.
	FailOnInvalidCache bool
}

// NewSessionWith is NewSession with the remote's configuration changed
// by o for this session only.
func NewSessionWith(r *store.Repo, remote string, o SessionOptions) (*Session, error) {
	rm, err := LoadRemote(r, remote)
	if err != nil {
		return nil, err
	}
	if o.URL != "" {
		rm.URL, rm.Mirrors = o.URL, nil
	}
	rm.Header, rm.UserAgent = o.Header, o.UserAgent
	if rm.URL == "" {
		// An empty url= is a bundle's remote with no origin.
		return nil, fmt.Errorf("remote %s has no URL: nothing can be fetched from it", remote)
	}
	src, err := newHTTPSource(rm)
	if err != nil {
		return nil, err
	}
	s := &Session{repo: r, rm: rm, src: src, indexed: map[index.Ref][]byte{}, cacheDir: o.CacheDir, failOnInvalidCache: o.FailOnInvalidCache}
	if rm.GPGVerify || rm.GPGVerifySummary {
		if s.keyring, err = rm.Keyring(r); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close closes the session's idle connections.
func (s *Session) Close() {
	s.src.meta.CloseIdleConnections()
	if s.src.content != s.src.meta {
		s.src.content.CloseIdleConnections()
	}
}

// Remote is the session's remote.
func (s *Session) Remote() *Remote { return s.rm }

// Summary is the remote's summary, fetched (and verified, when the
// remote asks for it) on first use; nil when the remote has none.
func (s *Session) Summary(ctx context.Context) (*store.Summary, error) {
	f, err := s.fetchedSummary(ctx)
	if err != nil {
		return nil, err
	}
	return f.s, nil
}

func (s *Session) fetchedSummary(ctx context.Context) (*fetchedSummary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.summary != nil {
		return s.summary, nil
	}
	sp, err := loadSignPolicyAt(s.repo, s.rm.Name, "sign-verify-summary")
	if err != nil {
		return nil, err
	}
	sum, raw, sig, err := cachedSummary(ctx, summaryCachePath(s.repo, s.cacheDir), s.src.meta, s.rm, s.keyring, sp, s.failOnInvalidCache)
	if err != nil {
		return nil, err // not kept: a later call tries again
	}
	s.summary = &fetchedSummary{s: sum, raw: raw, sig: sig}
	return s.summary, nil
}

// Refs lists the refs the remote's summary offers.
func (s *Session) Refs(ctx context.Context) (map[string]object.Checksum, error) {
	sum, err := s.Summary(ctx)
	if err != nil {
		return nil, err
	}
	if sum == nil {
		return nil, fmt.Errorf("remote %s has no summary", s.rm.Name)
	}
	out := map[string]object.Checksum{}
	for _, sr := range sum.Refs {
		out[sr.Name] = sr.Commit
	}
	return out, nil
}

// Pull fetches refs from the remote into the session's repository, as
// the package's Pull does.
func (s *Session) Pull(ctx context.Context, opts PullOptions) (*Result, error) {
	if opts.Depth < -1 {
		return nil, fmt.Errorf("depth %d: give -1 for the whole history, else 0 or more parents", opts.Depth)
	}
	opts.collection = s.repo.Config().String(group(s.rm.Name), "collection-id", "")
	opts.vouched = &s.vouched
	keyring := s.keyring
	if !s.rm.GPGVerify {
		keyring = nil
	}
	sp, err := loadSignPolicy(s.repo, s.rm.Name)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var sum *fetchedSummary
	// Refs pinned to commits already stored (verified when they came)
	// need nothing of the summary.
	if opts.Mirror || !pinnedAndStored(s.repo, opts.Refs) {
		s.src.meta.Warm(pullConns)
		var err error
		sum, err = s.fetchedSummary(ctx)
		if err != nil && (opts.Mirror || !allPinned(opts.Refs) || ctx.Err() != nil) {
			return nil, err
		}
		if err != nil {
			// Commits named by checksum are verified by their own
			// signatures: the summary would only have offered deltas.
			if opts.Warn != nil {
				opts.Warn(fmt.Sprintf("not using static deltas: %v", err))
			}
			sum = &fetchedSummary{}
		}
	} else {
		sum = &fetchedSummary{}
	}
	refs := opts.Refs
	if len(refs) == 0 && !opts.Mirror {
		// The branches the remote was added with are what a pull
		// naming none fetches.
		refs = s.rm.Branches
	}
	if len(refs) == 0 {
		if sum.s == nil {
			return nil, fmt.Errorf("remote %s has no summary: name the refs to pull", s.rm.Name)
		}
		for _, sr := range sum.s.Refs {
			refs = append(refs, sr.Name)
		}
	}
	targets := map[string]object.Checksum{}
	for _, ref := range refs {
		name, commit, err := resolveRemoteRef(ctx, s.src.meta, sum.s, ref)
		if errors.Is(err, errNoSuchRef) && sum.s == nil {
			// No summary and no ref: say so if there is no repository
			// there at all, which is the likelier mistake.
			if _, cerr := s.src.meta.Get(ctx, "config", 64<<10); errors.Is(cerr, ErrNotFound) {
				return nil, fmt.Errorf("remote %s: no repository at %s (it has no summary and no config): %w", s.rm.Name, s.rm.URL, err)
			}
		}
		var bad *badRefError
		if err != nil && !errors.As(err, &bad) {
			return nil, fmt.Errorf("remote %s: %w", s.rm.Name, err)
		}
		if err != nil {
			return nil, err // ostree's words, which name no remote
		}
		targets[name] = commit
	}
	if opts.TimestampCheck {
		opts.current = map[string]object.Checksum{}
		for name := range targets {
			local := s.rm.Name + ":" + name
			if opts.Mirror {
				local = name
			}
			if c, err := s.repo.ReadRef(local); err == nil {
				opts.current[name] = c
			}
		}
	}
	bytes := func() int64 {
		n := s.src.meta.Stats().Bytes
		if s.src.content != s.src.meta {
			n += s.src.content.Stats().Bytes
		}
		return n
	}
	before := bytes()
	since := func() int64 { return bytes() - before }
	ds := &deltaUse{src: sessionDeltas{s}, warn: opts.Warn, unxz: cmp.Or(opts.unxz, xzproc.Beside()), from: func(ref string) object.Checksum {
		c, err := s.repo.ReadRef(s.rm.Name + ":" + ref)
		if err != nil {
			return object.Zero
		}
		return c
	}}
	if sum.s == nil {
		ds = nil // no summary: no deltas listed
	}
	var src Source = sessionSource{s}
	if lr, err := openLocalBare(s.rm.URL); err != nil {
		return nil, fmt.Errorf("remote %s: %w", s.rm.Name, err)
	} else if lr != nil {
		// A file: URL to a repository that is not an archive has its
		// content in another layout: read it as a repository.
		defer lr.Close()
		src, ds = localSource{lr}, nil
	}
	res, err := pullCommits(ctx, s.repo, src, keyring, sp, ds, targets, &opts, since)
	if err != nil {
		return nil, err
	}
	if opts.DryRun {
		res.Elapsed = time.Since(start)
		return res, nil // nothing stored: no ref moves
	}
	for name, c := range targets {
		if name == c.String() {
			continue // a commit asked for by its checksum moves no ref
		}
		refName := s.rm.Name + ":" + name
		if opts.Mirror && opts.collection != "" {
			// A mirror keeps another collection's refs by collection.
			if err := s.repo.SetCollectionRef(store.CollectionRef{Collection: opts.collection, Ref: name}, c); err != nil {
				return nil, err
			}
			continue
		}
		if opts.Mirror {
			refName = name
		}
		if err := s.repo.SetRef(refName, c); err != nil {
			return nil, err
		}
	}
	// As ostree: a mirror of every ref takes the summary too; one of some
	// refs leaves the mirror's own summary as it is.
	if opts.Mirror && len(opts.Refs) == 0 && sum.raw != nil {
		if err := s.repo.WriteSummary(sum.raw, sum.sig); err != nil {
			return nil, err
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// sessionSource is the session's HTTP source, answering dirtrees and
// dirmetas from the tree indexes it loaded (the pull still checks each
// against its checksum before storing it).
type sessionSource struct{ s *Session }

func (ss sessionSource) Meta(ctx context.Context, ref index.Ref) ([]byte, error) {
	ss.s.indexMu.Lock()
	b, ok := ss.s.indexed[ref]
	ss.s.indexMu.Unlock()
	if ok {
		return b, nil
	}
	if ref.Type == object.TypeCommit {
		// The summary gives each ref's commit size: a server sending more
		// is refused before it fills the disk or memory.
		if size, ok := ss.s.commitSize(ref.Checksum); ok {
			return ss.s.src.metaMax(ctx, ref, int64(size))
		}
	}
	return ss.s.src.Meta(ctx, ref)
}

// commitSize is the size the verified summary gives for commit c.
func (s *Session) commitSize(c object.Checksum) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.summary == nil || s.summary.s == nil {
		return 0, false
	}
	for _, sr := range s.summary.s.Refs {
		if sr.Commit == c && sr.Size > 0 {
			return sr.Size, true
		}
	}
	return 0, false
}

func (ss sessionSource) Content(ctx context.Context, c object.Checksum) (*object.FileHeader, uint64, io.ReadCloser, error) {
	return ss.s.src.Content(ctx, c)
}

// KeepTreeIndex fetches the tree index the remote publishes for a commit
// (every dirtree, dirmeta and file header of it, in one request), checks
// it as a mount would, keeps it in the repository for the commit's first
// mount, and answers the session's later pulls of the commit's
// directories from it. It reports false when the remote has none, or the
// copy kept before checks (and is the one used).
func (s *Session) KeepTreeIndex(ctx context.Context, commit object.Checksum) (bool, error) {
	verify := s.rm.GPGVerify || signVerifies(s.repo, s.rm.Name)
	check := func(commit object.Checksum, b, sig []byte) (*store.TreeIndex, bool, error) {
		return checkTreeIndex(s.keyring, verify, commit, b, sig)
	}
	// A kept copy is checked as the remote's would be; one that does not
	// check is fetched again.
	if ti, _, ok := keptTreeIndex(s.repo, commit, check); ok {
		s.noteIndex(ti)
		return false, nil
	}
	b, sig, err := fetchTreeIndex(ctx, s.src, commit)
	if errors.Is(err, httpc.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ti, _, err := check(commit, b, sig)
	if err != nil {
		return false, err
	}
	s.noteIndex(ti)
	if err := keepTreeIndex(s.repo, commit, b, sig); err != nil {
		return true, err
	}
	return true, nil
}

// noteIndex answers the session's later pulls of a commit's directories
// from its checked tree index.
func (s *Session) noteIndex(ti *store.TreeIndex) {
	s.indexMu.Lock()
	for _, m := range ti.Meta {
		s.indexed[m.Ref] = m.Data
	}
	s.indexMu.Unlock()
}

// FetchPack fetches, in one request, the objects a recorded run of the
// commit read, where the remote publishes them as a pack (store.PackPath),
// and stores those missing here, each once its checksum is checked. It
// returns how many it stored; a remote without a pack stores none.
func (s *Session) FetchPack(ctx context.Context, commit object.Checksum) (int, error) {
	b, err := s.src.content.Get(ctx, store.PackIndexPath(commit), store.MaxPackIndex)
	if errors.Is(err, httpc.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	entries, err := store.ParsePackIndex(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", store.PackIndexPath(commit), err)
	}
	missing := 0
	for _, e := range entries {
		if has, err := s.repo.HasObject(e.Checksum, object.TypeFile); err != nil || !has {
			missing++
		}
	}
	if missing == 0 {
		return 0, nil
	}
	body, _, err := s.src.content.Open(ctx, store.PackPath(commit))
	if err != nil {
		return 0, err
	}
	defer body.Close()
	txn, err := s.repo.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer txn.Abort()
	stored := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		part := io.LimitReader(body, e.Size)
		ref := index.Ref{Checksum: e.Checksum, Type: object.TypeFile}
		if has, err := txn.Has(ref); err == nil && !has {
			h, size, payload, err := s.src.decomp.ReadArchive(part)
			if err != nil {
				return 0, fmt.Errorf("%s: %s: %w: %v", store.PackPath(commit), object.Name(e.Checksum, object.TypeFile), store.ErrCorrupt, err)
			}
			err = txn.AddContent(e.Checksum, &h, size, payload)
			payload.Close()
			if err != nil {
				return 0, fmt.Errorf("%s: %w", store.PackPath(commit), err)
			}
			stored++
		}
		// What the object did not read of its part, or all of one here.
		if _, err := io.Copy(io.Discard, part); err != nil {
			return 0, fmt.Errorf("%s: %w", store.PackPath(commit), err)
		}
	}
	return stored, txn.Commit()
}

// openLocalBare opens the repository a file: URL names when it is not an
// archive (whose files the URL serves as they are); nil otherwise.
func openLocalBare(rawURL string) (*store.Repo, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "file" {
		return nil, nil
	}
	cfg, err := os.ReadFile(filepath.Join(u.Path, "config"))
	if err != nil {
		return nil, nil // not a repository here: the pull says what is missing
	}
	kf, err := keyfile.ParseBytes(cfg)
	if err != nil {
		return nil, nil
	}
	if m := kf.String("core", "mode", "bare"); m == "archive" || m == "archive-z2" {
		return nil, nil
	}
	return store.Open(u.Path)
}

// SummaryFiles are the remote's summary and its signatures as fetched
// (and checked, as the remote asks) on first use; nil when it has none.
func (s *Session) SummaryFiles(ctx context.Context) (raw, sig []byte, err error) {
	f, err := s.fetchedSummary(ctx)
	if err != nil {
		return nil, nil, err
	}
	return f.raw, f.sig, nil
}
