package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"arbor/fetch/httpc"
	"arbor/store"
	"arbor/store/gpg"
	"arbor/store/index"
	"arbor/store/object"
	"arbor/store/refs"
)

// flushEvery is how often a pull makes what it fetched durable and
// visible: what a killed pull loses at most. Flushing runs beside the
// fetching, so the disk writes and renames overlap the downloads instead
// of all waiting for the end (a tenth off a large pull).
const flushEvery = time.Second

// maxMeta caps metadata downloads: summaries and signatures.
const maxMeta = 128 << 20

// maxMetaObject caps a metadata object's download (a commit, a dirtree),
// where the summary gives no size, as ostree does: a larger one is a
// server filling the disk, not a tree.
const maxMetaObject = 10 << 20

// Source is where a pull reads objects from: a remote over HTTP (or
// file://), or another local repository.
type Source interface {
	// Meta returns a metadata object's bytes, ErrNotFound if absent.
	Meta(ctx context.Context, ref index.Ref) ([]byte, error)
	// Content opens a content object.
	Content(ctx context.Context, c object.Checksum) (*object.FileHeader, uint64, io.ReadCloser, error)
}

// ErrNotFound means the source does not have the object or file.
var ErrNotFound = httpc.ErrNotFound

// httpSource reads an archive repository served as static files.
type httpSource struct {
	meta, content *httpc.Client
	decomp        object.Decompressor
}

func (s *httpSource) Meta(ctx context.Context, ref index.Ref) ([]byte, error) {
	return s.metaMax(ctx, ref, maxMetaObject)
}

// metaMax is Meta refusing a body of more than max bytes.
func (s *httpSource) metaMax(ctx context.Context, ref index.Ref, max int64) ([]byte, error) {
	c := s.content
	if ref.Type == object.TypeCommitMeta {
		c = s.meta // as ostree: signatures come from url, every object from contenturl
	}
	return c.Get(ctx, object.Path(ref.Checksum, ref.Type, true), max)
}

type readCloser struct {
	io.Reader
	io.Closer
}

func (s *httpSource) Content(ctx context.Context, c object.Checksum) (*object.FileHeader, uint64, io.ReadCloser, error) {
	body, _, err := s.content.Open(ctx, object.Path(c, object.TypeFile, true))
	if err != nil {
		return nil, 0, nil, err
	}
	h, size, payload, err := s.decomp.ReadArchive(body)
	if err != nil {
		body.Close()
		if errors.Is(err, httpc.ErrTruncated) {
			return nil, 0, nil, err
		}
		return nil, 0, nil, fmt.Errorf("%s: %w: %v", object.Name(c, object.TypeFile), store.ErrCorrupt, err)
	}
	if w, ok := payload.(interface{ Whole() bool }); ok && w.Whole() {
		// The connection can serve another worker while this one writes.
		body.Close()
		return &h, size, payload, nil
	}
	return &h, size, bothCloser{payload, body}, nil
}

// Received is what the source's clients have read off the wire, and how
// many requests they made.
func (s *httpSource) Received() (bytes, requests int64) {
	m := s.meta.Stats()
	if s.content == s.meta {
		return m.Bytes, m.Requests
	}
	c := s.content.Stats()
	return m.Bytes + c.Bytes, m.Requests + c.Requests
}

// TreeIndex fetches the tree index published for a commit.
func (s *httpSource) TreeIndex(ctx context.Context, c object.Checksum) ([]byte, error) {
	return s.meta.Get(ctx, store.TreeIndexPath(c), store.MaxTreeIndexFile)
}

// TreeIndexSig fetches the signatures of a commit's tree index.
func (s *httpSource) TreeIndexSig(ctx context.Context, c object.Checksum) ([]byte, error) {
	return s.meta.Get(ctx, store.TreeIndexSigPath(c), maxMeta)
}

// ContentPrefix fetches the first n bytes of a content object's archive
// file: enough for its header, and all of a small object.
func (s *httpSource) ContentPrefix(ctx context.Context, c object.Checksum, n int64) ([]byte, bool, error) {
	return s.content.GetPrefix(ctx, object.Path(c, object.TypeFile, true), n)
}

// bothCloser reads the payload and closes it and the body under it.
type bothCloser struct {
	payload io.ReadCloser
	body    io.Closer
}

func (b bothCloser) Read(p []byte) (int, error) { return b.payload.Read(p) }

func (b bothCloser) Close() error {
	b.payload.Close()
	return b.body.Close()
}

// newHTTPSource makes the clients for a remote: metadata from url and its
// mirrors, other objects from contenturl when it is set.
func newHTTPSource(rm *Remote) (*httpSource, error) {
	o := httpc.Options{Mirrors: rm.MetadataURLs(), Header: rm.Header, Cookies: rm.Cookies, UserAgent: rm.UserAgent}
	meta, err := httpc.New(o)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", rm.Name, err)
	}
	content := meta
	if rm.ContentURL != "" {
		o.Mirrors = rm.ContentURLs()
		if content, err = httpc.New(o); err != nil {
			return nil, fmt.Errorf("remote %s: %w", rm.Name, err)
		}
	}
	return &httpSource{meta: meta, content: content}, nil
}

// localSource reads another repository on this machine, in any mode.
type localSource struct{ r *store.Repo }

func (s localSource) Meta(ctx context.Context, ref index.Ref) ([]byte, error) {
	b, err := s.r.ReadMeta(ref.Checksum, ref.Type)
	if errors.Is(err, store.ErrObjectMissing) {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return b, err
}

// linker is a source whose content objects can be stored by hard links.
type linker interface {
	link(txn *store.Txn, c object.Checksum) (bool, error)
}

// link stores a content object by a hard link when both repositories
// keep it the same way on one filesystem.
func (s localSource) link(txn *store.Txn, c object.Checksum) (bool, error) {
	return txn.LinkContent(s.r, c)
}

func (s localSource) Content(ctx context.Context, c object.Checksum) (*object.FileHeader, uint64, io.ReadCloser, error) {
	ct, err := s.r.OpenContent(c)
	if errors.Is(err, store.ErrObjectMissing) {
		return nil, 0, nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	if err != nil {
		return nil, 0, nil, err
	}
	return &ct.Header, ct.Size, readCloser{ct.Reader, ct}, nil
}

// PullOptions follow ostree pull's flags.
type PullOptions struct {
	Refs []string // empty: every ref the remote's summary lists
	// Depth is how many parents to pull as well; -1 for all.
	Depth              int
	CommitMetadataOnly bool
	Mirror             bool // write refs/heads/REF, and copy the summary when pulling every ref
	// Remote, for PullLocal, is whose refs the pulled ones become
	// (REMOTE:REF), as ostree's --remote; GPGVerify then checks each
	// commit's signatures against that remote's keys.
	Remote    string
	GPGVerify bool
	// GPGVerifySummary, for PullLocal, requires the source's summary to
	// be signed by the remote's keys.
	GPGVerifySummary bool
	// NotOlderThan, when set, refuses a ref's commit older than this one
	// before fetching more of it (an OS upgrade that would go back).
	NotOlderThan object.Checksum
	// TimestampCheck refuses, as ostree's -T, a ref's commit older than
	// the one the ref has here.
	TimestampCheck bool
	// current is the commit each ref has here, for TimestampCheck.
	current map[string]object.Checksum
	// Subpaths, when set, are the only paths of each commit pulled
	// (leaving it partial), as ostree's --subpath given once or more.
	Subpaths []string
	// DryRun, with RequireStaticDeltas, fetches the deltas' superblocks
	// only and reports in Result.Plan what the pull would fetch; nothing
	// is stored and no ref moves.
	DryRun bool
	// BareUserOnlyFiles refuses content a bare-user-only repository could
	// not hold as it is: setuid, setgid, world-writable files.
	BareUserOnlyFiles bool
	// As ostree's --disable-static-deltas and --require-static-deltas.
	DisableStaticDeltas, RequireStaticDeltas bool
	Progress                                 func(Progress)
	// Warn hears what the pull chose to do without (a bad delta); nil
	// for none.
	Warn func(string)
	// URL, when set, is fetched from in place of the remote's url and
	// mirrors. Header goes with every request, and UserAgent replaces
	// the default one.
	URL       string
	Header    http.Header
	UserAgent string
	CacheDir  string // for the summary cache, instead of the repository's tmp/cache
	// FailOnInvalidCache fails the pull when a kept summary no longer
	// verifies, where it is fetched again otherwise (ostree's test hook
	// OSTREE_REPO_TEST_ERROR=invalid-cache, to see the check happen).
	FailOnInvalidCache bool
	// LocalCache is a repository on this machine objects are copied from
	// (verified) before they are fetched.
	LocalCache string
	// DisableVerifyBindings takes commits whatever refs and collection
	// they are bound to, as ostree's --disable-verify-bindings.
	DisableVerifyBindings bool
	// collection is the source's collection ID, which a commit pulled
	// for a ref must be bound to; empty when it has none.
	collection string
	// unxz is the helper that decodes delta parts as they download;
	// "" for the one beside this binary, if there is one.
	unxz string
	// vouched, for a session's pulls, keeps what the source said of each
	// commit's detached metadata once the commit verified with it.
	vouched *vouchedCommits
}

// DeltaPlan is what the static deltas of a pull would fetch: the parts
// whose objects are not all here, their bytes and their payloads' bytes.
type DeltaPlan struct {
	Parts, Bytes, Uncompressed int64
}

// Progress is reported from time to time during a pull.
type Progress struct {
	Objects, Fetched int64 // objects seen, objects fetched
	Bytes            int64 // bytes received from the source
	Elapsed          time.Duration
}

// Result is what a pull did.
type Result struct {
	Refs    map[string]object.Checksum // ref -> commit written
	Fetched int64
	// As ostree counts them: metadata and content objects fetched (or
	// copied, from a local repository), delta parts, and the stored
	// bytes of content written.
	Metadata, Content, DeltaParts int64
	// LocalMeta and LocalContent were copied from the local cache.
	LocalMeta, LocalContent int64
	ContentWritten          int64
	Local                   bool // from a repository on this machine
	Bytes                   int64
	Plan                    DeltaPlan // what a dry run would fetch
	Elapsed                 time.Duration
}

// pullWorkers is how many objects a pull fetches at once: four on each of
// the 16 connections it keeps to a server, which pipelines them once all
// are busy (httpc's lean path). Over a link of 50 ms, a pull of 46,000
// small objects on 16 connections, one request each, waited 3,141 round
// trips.
const pullWorkers = 64

// puller is one pull's state.
type puller struct {
	ctx     context.Context
	repo    *store.Repo
	src     Source
	txn     *store.Txn
	keyring *gpg.Keyring // nil: signatures not checked
	sign    *signPolicy  // nil: no sign-verify
	opts    *PullOptions

	// oldRoot is the root dirtree of the commit the pulled ref had here,
	// when that commit is complete: the walk does not go into a
	// directory that is the same in both.
	oldRoot object.Checksum
	// ahead is the delta fetched while the transaction began (nil:
	// none).
	ahead *deltaAhead
	// deltaTrees are the dirtrees a delta stored, decoded; written only
	// before the walk that reads them.
	deltaTrees map[object.Checksum]object.DirTree

	workers int // parallel fetches (pullWorkers); connections are reused
	mu      sync.Mutex
	seen    map[index.Ref]bool
	objects atomic.Int64
	fetched atomic.Int64
	// nMeta and nContent split fetched as ostree's summary line does.
	nMeta, nContent, nParts atomic.Int64
	bytes                   func() int64
	plan                    DeltaPlan // a dry run's
	// cache is a repository on this machine objects are copied from
	// before they are fetched (nil: none); n*Local count those copied.
	cache                     *store.Repo
	nMetaLocal, nContentLocal atomic.Int64
	// detached is the source's detached metadata of each commit this
	// pull asked it for (nil: it has none), so that checking the commit
	// again, after its delta stored it, asks no second time.
	detached map[object.Checksum]detachedAnswer
}

// Pull fetches refs from a configured remote into r.
func Pull(ctx context.Context, r *store.Repo, remote string, opts PullOptions) (*Result, error) {
	if err := checkPullable(r, remote); err != nil {
		return nil, err
	}
	s, err := NewSessionWith(r, remote, SessionOptions{URL: opts.URL, Header: opts.Header, UserAgent: opts.UserAgent, CacheDir: opts.CacheDir, FailOnInvalidCache: opts.FailOnInvalidCache})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Pull(ctx, opts)
}

// pinnedAndStored says whether every ref names its commit (REF@COMMIT)
// and that commit is in r.
func pinnedAndStored(r *store.Repo, refs []string) bool {
	for _, ref := range refs {
		_, at, ok := strings.Cut(ref, "@")
		if !ok {
			return false
		}
		c, err := object.ParseChecksum(at)
		if err != nil {
			return false
		}
		if has, err := r.HasObject(c, object.TypeCommit); err != nil || !has {
			return false
		}
	}
	return len(refs) > 0
}

// allPinned says whether every ref names its commit (REF@COMMIT).
func allPinned(refs []string) bool {
	for _, ref := range refs {
		_, at, ok := strings.Cut(ref, "@")
		if !ok {
			return false
		}
		if _, err := object.ParseChecksum(at); err != nil {
			return false
		}
	}
	return len(refs) > 0
}

// PullLocal copies refs from another repository on this machine, checking
// every object as a network pull would.
func PullLocal(ctx context.Context, r *store.Repo, srcPath string, names []string, opts PullOptions) (*Result, error) {
	sr, err := store.Open(srcPath)
	if err != nil {
		return nil, err
	}
	defer sr.Close()
	if len(names) == 0 {
		all, err := sr.Refs()
		if err != nil {
			return nil, err
		}
		// Every ref, a remote's too, as ostree takes them: a mirror has no
		// place for REMOTE:REF, so such a ref fails the pull below.
		for n := range all {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	opts.collection = sr.CollectionID()
	// Read once: what is verified is what lists the deltas.
	summary, err := readLocalSummary(srcPath)
	if err != nil {
		return nil, err
	}
	var keyring *gpg.Keyring
	if opts.GPGVerify || opts.GPGVerifySummary {
		if opts.Remote == "" {
			return nil, errors.New("--gpg-verify and --gpg-verify-summary need --remote: the keys are a remote's")
		}
		rm, err := LoadRemote(r, opts.Remote)
		if err != nil {
			return nil, err
		}
		keys, err := rm.Keyring(r)
		if err != nil {
			return nil, err
		}
		if opts.GPGVerifySummary {
			if err := verifyLocalSummary(srcPath, summary, keys); err != nil {
				return nil, err
			}
		}
		if opts.GPGVerify {
			keyring = keys
		}
	}
	targets := map[string]object.Checksum{}
	for _, ref := range names {
		if _, perr := object.ParseChecksum(ref); perr != nil {
			if err := refs.Validate(ref); err != nil {
				return nil, fmt.Errorf("Invalid ref name %s", ref)
			}
		}
		c, err := sr.Resolve(ref)
		if errors.Is(err, store.ErrRefNotFound) {
			return nil, fmt.Errorf("Refspec '%s' not found", ref) // ostree's words
		}
		if err != nil {
			return nil, err
		}
		targets[ref] = c
	}
	// As ostree's: a local pull copies the objects as they are, through
	// the source's deltas only when they are required.
	var ds *deltaUse
	if opts.RequireStaticDeltas {
		local := func(ref string) string {
			if opts.Remote != "" {
				return opts.Remote + ":" + ref
			}
			return ref
		}
		if ds, err = localDeltaUse(r, srcPath, summary, local, opts.Warn); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	res, err := pullCommits(ctx, r, localSource{sr}, keyring, nil, ds, targets, &opts, func() int64 { return 0 })
	if err != nil {
		return nil, err
	}
	res.Local = true
	for name, c := range targets {
		if name == c.String() {
			continue // a commit asked for by its checksum moves no ref
		}
		if opts.Remote != "" {
			name = opts.Remote + ":" + name
		}
		if err := r.SetRef(name, c); err != nil {
			return nil, err
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// fetchSummary gets the summary (and its signature, verified when the remote
// asks for it). A missing summary is fine unless it must be verified.
func fetchSummary(ctx context.Context, c *httpc.Client, rm *Remote, keyring *gpg.Keyring) (*store.Summary, []byte, []byte, error) {
	// Both at once: one round trip, not two.
	var sig []byte
	var sigErr error
	got := make(chan struct{})
	go func() {
		defer close(got)
		sig, sigErr = c.Get(ctx, "summary.sig", maxMeta)
	}()
	b, err := c.Get(ctx, "summary", maxMeta)
	<-got
	if sigErr != nil && !errors.Is(sigErr, ErrNotFound) {
		return nil, nil, nil, fmt.Errorf("remote %s: %w", rm.Name, sigErr)
	}
	if errors.Is(err, ErrNotFound) {
		if rm.GPGVerifySummary {
			return nil, nil, nil, fmt.Errorf("remote %s: gpg-verify-summary is set but the remote has no summary", rm.Name)
		}
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("remote %s: %w", rm.Name, err)
	}
	if rm.GPGVerifySummary {
		if sig == nil {
			return nil, nil, nil, fmt.Errorf("remote %s: gpg-verify-summary is set but the remote has no summary.sig", rm.Name)
		}
		if err := verifySigs(keyring, b, sig); err != nil {
			return nil, nil, nil, fmt.Errorf("remote %s: summary: %w", rm.Name, err)
		}
	}
	s, err := store.ParseSummary(b)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("remote %s: %w", rm.Name, err)
	}
	return s, b, sig, nil
}

// verifySigs checks the ostree.gpgsigs in a detached-metadata a{sv}
// (commitmeta or summary.sig) over data.
func verifySigs(keyring *gpg.Keyring, data, detached []byte) error {
	sigs, err := store.SignaturesAt(detached, store.GPGSigsKey)
	if err != nil {
		// Unreadable signature data holds no signature to check.
		return fmt.Errorf("GPG verification enabled, but no signatures found (the signature data is unreadable: %w)", err)
	}
	if len(sigs) == 0 {
		return errors.New("GPG verification enabled, but no signatures found (use gpg-verify=false in remote config to disable)")
	}
	if keyring == nil || keyring.Len() == 0 {
		return errors.New("GPG verification enabled, but the remote has no trusted keys (remote add --gpg-import=FILE)")
	}
	_, err = keyring.Verify(data, sigs)
	return err
}

// errNoSuchRef is a ref the remote does not have.
var errNoSuchRef = errors.New("no such ref")

func resolveRemoteRef(ctx context.Context, c *httpc.Client, s *store.Summary, ref string) (string, object.Checksum, error) {
	name, at, _ := strings.Cut(ref, "@")
	if err := refs.Validate(name); err != nil {
		return "", object.Zero, err
	}
	if at != "" {
		cs, err := object.ParseChecksum(at)
		return name, cs, err
	}
	if s != nil {
		if sr, ok := s.Lookup(name); ok {
			return name, sr.Commit, nil
		}
	}
	if cs, err := object.ParseChecksum(name); err == nil {
		return name, cs, nil // a commit asked for by its checksum, as ostree takes it
	}
	b, err := c.Get(ctx, "refs/heads/"+name, 1024)
	if errors.Is(err, ErrNotFound) {
		return "", object.Zero, fmt.Errorf("%w %s: %w", errNoSuchRef, name, err)
	}
	if err != nil {
		return "", object.Zero, err
	}
	text := strings.TrimSpace(string(b))
	cs, err := object.ParseChecksum(text)
	if err != nil {
		// In ostree's words, on one line (a server's error page, often).
		shown := strings.ReplaceAll(text, "\n", " ")
		if len(shown) > 128 {
			shown = shown[:128] + "..."
		}
		return "", object.Zero, &badRefError{ref: name, text: shown}
	}
	return name, cs, nil
}

// badRefError is a remote's ref file that holds no checksum.
type badRefError struct{ ref, text string }

func (e *badRefError) Error() string {
	return fmt.Sprintf("Fetching checksum for ref ((empty), %s): Invalid rev %s", e.ref, e.text)
}

// noDeltaError is a pull that requires static deltas finding none from
// the ref's commit here (zero: none) to c, in ostree's words, which
// scripts grep for.
func noDeltaError(from, c object.Checksum) error {
	f := ""
	if !from.IsZero() {
		f = from.String()
	}
	return fmt.Errorf("Static deltas required, but none found for %s to %s", f, c)
}

// pullCommits fetches each target commit, its tree and (with Depth) its
// parents. Commits are marked partial before they are written and
// unmarked once their whole tree is in, and objects are made visible every
// few seconds, so a killed pull resumes where it stopped.
func pullCommits(ctx context.Context, r *store.Repo, src Source, keyring *gpg.Keyring, sp *signPolicy, ds *deltaUse, targets map[string]object.Checksum,
	opts *PullOptions, bytes func() int64) (*Result, error) {
	// As ostree: an archive repository takes the remote's objects as they
	// are served (a mirror's must be the same files), never a delta's
	// rebuilt and compressed again.
	if r.Mode() == store.ModeArchive && ds != nil {
		if opts.RequireStaticDeltas {
			return nil, errors.New("Can't use static deltas in an archive repo")
		}
		o := *opts
		o.DisableStaticDeltas = true
		opts = &o
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The delta of a ref's update starts coming while the transaction
	// begins (it opens the index).
	var ahead *deltaAhead
	if ds != nil && len(targets) == 1 && !opts.DisableStaticDeltas && !opts.CommitMetadataOnly && opts.wholeTree() && !opts.DryRun {
		for name, c := range targets {
			ahead = startDeltaAhead(ctx, r, ds, src, name, c)
		}
	}
	defer ahead.close()
	txn, err := r.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer txn.Abort()
	p := &puller{ctx: ctx, repo: r, src: src, txn: txn, keyring: keyring, sign: sp, opts: opts,
		workers: pullWorkers, seen: map[index.Ref]bool{}, bytes: bytes, ahead: ahead}
	if p.cache, err = openLocalCache(opts.LocalCache); err != nil {
		return nil, err
	}
	if p.cache != nil {
		defer p.cache.Close()
	}
	start := time.Now()
	stop := make(chan struct{})
	done := make(chan struct{})
	var flushErr error
	go func() {
		defer close(done)
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				if opts.Progress != nil {
					opts.Progress(Progress{Objects: p.objects.Load(), Fetched: p.fetched.Load(), Bytes: bytes(), Elapsed: time.Since(start)})
				}
				if time.Since(last) > flushEvery {
					if err := txn.Flush(); err != nil {
						flushErr = err
						cancel()
						return
					}
					last = time.Now()
				}
			}
		}
	}()
	var complete []object.Checksum
	// behind is a flush of what a delta stored, started as the walk that
	// checks the tree begins: the objects' sync and renames, most of the
	// time that follows a delta, run while the walk reads.
	var behind chan error
	for name, c := range targets {
		p.oldRoot, p.deltaTrees = object.Zero, nil
		if ds != nil {
			p.oldRoot = p.completeRoot(ds.from(name))
		}
		useDeltas := !opts.DisableStaticDeltas && !opts.CommitMetadataOnly && opts.wholeTree()
		if ds == nil && useDeltas && opts.RequireStaticDeltas {
			close(stop)
			<-done
			return nil, noDeltaError(object.Zero, c)
		}
		if ds != nil && useDeltas {
			if err := p.delta(ds, name, c); err != nil {
				// A missing or bad delta leaves the objects to fetch: what
				// it stored was checked, and the walk below fetches the rest.
				if opts.RequireStaticDeltas || errors.Is(err, context.Canceled) || ctx.Err() != nil {
					close(stop)
					<-done
					if opts.RequireStaticDeltas && errors.Is(err, errNoDelta) {
						return nil, noDeltaError(ds.from(name), c)
					}
					return nil, err
				}
				if opts.Warn != nil && !errors.Is(err, errNoDelta) {
					opts.Warn(fmt.Sprintf("not using the static delta to %s: %v", c, err))
				}
			} else if behind == nil && p.nParts.Load() > 0 && !opts.DryRun {
				behind = make(chan error, 1)
				go func() { behind <- txn.Flush() }()
			}
		}
		if opts.DryRun {
			continue // the delta's sizes are all a dry run wants
		}
		cs, err := p.commit(name, c, opts.Depth)
		if err != nil {
			close(stop)
			<-done
			return nil, err
		}
		complete = append(complete, cs...)
	}
	close(stop)
	<-done
	if flushErr != nil {
		return nil, flushErr
	}
	if behind != nil {
		if err := <-behind; err != nil {
			return nil, err
		}
	}
	if err := txn.Commit(); err != nil {
		return nil, err
	}
	// Only now is every object of these commits in place.
	for _, c := range complete {
		if err := r.ClearPartial(c); err != nil {
			return nil, err
		}
	}
	if opts.Progress != nil {
		opts.Progress(Progress{Objects: p.objects.Load(), Fetched: p.fetched.Load(), Bytes: bytes(), Elapsed: time.Since(start)})
	}
	return &Result{Refs: targets, Fetched: p.fetched.Load(), Bytes: bytes(), Metadata: p.nMeta.Load(),
		Content: p.nContent.Load(), DeltaParts: p.nParts.Load(), ContentWritten: txn.ContentBytes(), Plan: p.plan,
		LocalMeta: p.nMetaLocal.Load(), LocalContent: p.nContentLocal.Load()}, nil
}

// commit pulls one commit and, within depth, its ancestors. It returns the
// commits whose trees are now complete.
func (p *puller) commit(ref string, c object.Checksum, depth int) ([]object.Checksum, error) {
	var complete []object.Checksum
	for parent := false; ; parent = true {
		cm, fresh, err := p.commitObject(ref, c)
		if parent && errors.Is(err, ErrNotFound) {
			// The source pruned its history here: the pull goes as deep
			// as there is, as ostree's does.
			return complete, nil
		}
		if err != nil {
			return nil, err
		}
		full := !p.opts.CommitMetadataOnly && p.opts.wholeTree()
		if fresh || p.repo.IsPartial(c) {
			if !p.opts.CommitMetadataOnly {
				if err := p.tree(cm, c); err != nil {
					return nil, err
				}
			}
			if full {
				complete = append(complete, c)
			}
		}
		if depth == 0 || cm.Parent.IsZero() {
			return complete, nil
		}
		if depth > 0 {
			depth--
		}
		c, ref = cm.Parent, "" // parents carry no binding to check
	}
}

// commitObject fetches, verifies and stores a commit and its detached
// metadata. fresh is false when the commit was already complete locally.
func (p *puller) commitObject(ref string, c object.Checksum) (*object.Commit, bool, error) {
	// A commit already here was verified when it was stored, but maybe
	// with another remote's keys: this remote's must vouch for it too, as
	// ostree checks. A partial one only needs the rest of its tree.
	if has, _ := p.txn.Has(index.Ref{Checksum: c, Type: object.TypeCommit}); has {
		b, err := p.txn.ReadMeta(index.Ref{Checksum: c, Type: object.TypeCommit})
		if err != nil {
			return nil, false, err
		}
		cm, err := object.ParseCommit(b)
		if err != nil {
			return nil, false, err
		}
		if err := p.refreshDetached(c, b); err != nil {
			return nil, false, err
		}
		return cm, false, p.checkBinding(cm, c, ref)
	}
	name := object.Name(c, object.TypeCommit)
	// The commit and its signatures at once: one round trip, not two.
	var detached []byte
	var detErr error
	got := make(chan struct{})
	go func() {
		defer close(got)
		detached, detErr = p.sourceDetached(c)
	}()
	b, err := p.src.Meta(p.ctx, index.Ref{Checksum: c, Type: object.TypeCommit})
	<-got
	if detErr != nil && !errors.Is(detErr, ErrNotFound) {
		return nil, false, detErr
	}
	if _, local := p.src.(localSource); !local {
		// As ostree counts a fetch: the request for the signatures is
		// one metadata fetch, answered with them or with none.
		p.nMeta.Add(1)
	}
	if err != nil {
		return nil, false, err
	}
	ref1 := index.Ref{Checksum: c, Type: object.TypeCommit}
	if err := store.ValidateMeta(ref1, b); err != nil {
		return nil, false, err
	}
	// Signatures are checked before anything of the commit is written.
	if err := p.verifyCommit(c, b, detached); err != nil {
		return nil, false, err
	}
	p.opts.vouched.put(c, detachedAnswer{detached, detErr})
	cm, _ := object.ParseCommit(b)
	if err := p.checkBinding(cm, c, ref); err != nil {
		return nil, false, err
	}
	base := p.opts.NotOlderThan
	if cur, ok := p.opts.current[ref]; ok && base.IsZero() {
		base = cur
	}
	if ref != "" && !base.IsZero() && base != c {
		if err := notOlder(p.repo, c, cm, base); err != nil {
			return nil, false, err
		}
	}
	// The commit is not stored (above): its mark needs no sync of its
	// own, as the transaction syncs before it renames the commit into
	// place. Two device flushes fewer for every commit a pull fetches.
	if err := p.txn.SetPartial(c); err != nil {
		return nil, false, err
	}
	detached = p.usableDetached(detached)
	if detached != nil {
		if err := p.txn.AddMeta(index.Ref{Checksum: c, Type: object.TypeCommitMeta}, detached); err != nil {
			return nil, false, err
		}
	}
	if err := p.addMeta(ref1, b); err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	p.fetched.Add(1)
	p.nMeta.Add(1)
	return cm, true, nil
}

// refreshDetached takes the source's detached metadata of a commit
// already stored, since signatures are added to and deleted from a commit
// after it was made: what the source has replaces what is stored, once it
// verifies when this remote verifies.
func (p *puller) refreshDetached(c object.Checksum, commit []byte) error {
	ref := index.Ref{Checksum: c, Type: object.TypeCommitMeta}
	local, err := p.txn.ReadMeta(ref)
	if err != nil && !errors.Is(err, store.ErrObjectMissing) {
		return err
	}
	raw, err := p.sourceDetached(c)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	remote := p.usableDetached(raw)
	detached := local
	if remote != nil {
		detached = remote
	}
	if err := p.verifyCommit(c, commit, detached); err != nil {
		return err
	}
	// With none from the source the stored copy was checked: what is kept
	// is the source's answer all the same, which leads a later pull to
	// check the stored copy again.
	p.opts.vouched.put(c, detachedAnswer{raw, err})
	if remote == nil || bytes.Equal(remote, local) {
		return nil
	}
	return p.txn.AddMeta(ref, remote)
}

// vouchedCommits is a session's memory of what its source said of
// commits' detached metadata (bytes, or none), each kept once the commit
// verified with it: a commit pulled twice in one session (its commit,
// then its files, as an install does) asks once, as the session asks for
// the summary once. Each pull still checks the signatures again with what
// it is given; nil keeps nothing.
type vouchedCommits struct {
	mu    sync.Mutex
	m     map[object.Checksum]detachedAnswer
	bytes int
}

// maxVouchedBytes bounds what a session keeps: a catalogue refresh reads
// thousands of commits, and a remote that verifies nothing could send
// large answers.
const maxVouchedBytes = 8 << 20

func (v *vouchedCommits) get(c object.Checksum) (detachedAnswer, bool) {
	if v == nil {
		return detachedAnswer{}, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	d, ok := v.m[c]
	return d, ok
}

func (v *vouchedCommits) put(c object.Checksum, d detachedAnswer) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	// An entry costs its bytes and about its key and header.
	n := len(d.b) + 64
	if _, ok := v.m[c]; ok || v.bytes+n > maxVouchedBytes {
		return
	}
	if v.m == nil {
		v.m = map[object.Checksum]detachedAnswer{}
	}
	v.m[c] = d
	v.bytes += n
}

// sourceDetached is commit c's detached metadata as the source has it
// (ErrNotFound: none), asked for once a pull (the delta fetched ahead
// brings it beside its superblock, and a commit a delta stored is checked
// again with it after), and once a session when the commit verified with
// the answer (vouchedCommits). What it returns is unchecked, as any
// fetch's.
func (p *puller) sourceDetached(c object.Checksum) ([]byte, error) {
	p.mu.Lock()
	d, ok := p.detached[c]
	p.mu.Unlock()
	if !ok {
		d, ok = p.opts.vouched.get(c)
	}
	if ok {
		return d.b, d.err
	}
	var b []byte
	var err error
	fetched := false
	if a := p.ahead; a != nil && a.to == c {
		select {
		case <-a.detachedDone:
			b, err = a.detached, a.detachedErr
			fetched = err == nil || errors.Is(err, ErrNotFound)
		case <-p.ctx.Done():
			return nil, p.ctx.Err()
		}
	}
	if !fetched {
		// None ahead, or its fetch failed: asked again.
		b, err = p.src.Meta(p.ctx, index.Ref{Checksum: c, Type: object.TypeCommitMeta})
	}
	if err == nil || errors.Is(err, ErrNotFound) {
		p.mu.Lock()
		if p.detached == nil {
			p.detached = map[object.Checksum]detachedAnswer{}
		}
		p.detached[c] = detachedAnswer{b, err}
		p.mu.Unlock()
	}
	return b, err
}

// detachedAnswer is the source's answer for a commit's detached
// metadata: its bytes, or ErrNotFound.
type detachedAnswer struct {
	b   []byte
	err error
}

// verifyCommit checks a commit's signatures in its detached metadata as
// the remote asks: GPG's and those of sign-verify.
func (p *puller) verifyCommit(c object.Checksum, commit, detached []byte) error {
	if p.keyring != nil {
		if err := verifySigs(p.keyring, commit, detached); err != nil {
			return fmt.Errorf("commit %s: %w", c, err)
		}
	}
	if p.sign != nil {
		if err := p.sign.verify(commit, detached); err != nil {
			return fmt.Errorf("commit %s: %w", c, err)
		}
	}
	return nil
}

// usableDetached is a commit's detached metadata as received, or nil
// when signatures are not checked and it does not parse: nothing depends
// on it then, and a damaged copy upstream must not stop the pull.
func (p *puller) usableDetached(detached []byte) []byte {
	if detached == nil || p.keyring != nil || p.sign != nil {
		return detached
	}
	if _, err := object.ParseVarDict(detached); err != nil {
		return nil
	}
	return detached
}

// CheckNotOlder refuses stored commit c when it is older than commit
// base, as a pull with NotOlderThan does.
func CheckNotOlder(r *store.Repo, c, base object.Checksum) error {
	cm, err := r.ReadCommit(c)
	if err != nil {
		return fmt.Errorf("checking %s is not older than %s: %w", c, base, err)
	}
	return notOlder(r, c, cm, base)
}

// notOlder refuses commit c when it is older than commit base, before
// anything of it is stored, in ostree's words.
func notOlder(r *store.Repo, c object.Checksum, cm *object.Commit, base object.Checksum) error {
	bc, err := r.ReadCommit(base)
	if err != nil {
		return fmt.Errorf("checking %s is not older than %s: %w", c, base, err)
	}
	if cm.Timestamp >= bc.Timestamp {
		return nil
	}
	at := func(ts uint64) string { return time.Unix(int64(ts), 0).UTC().Format(time.RFC3339) }
	return fmt.Errorf("Upgrade target revision '%s' with timestamp '%s' is chronologically older than current revision '%s' with timestamp '%s'; use --allow-downgrade to permit",
		c, at(cm.Timestamp), base, at(bc.Timestamp))
}

// checkBinding refuses a commit whose ostree.ref-binding does not list the
// ref it was pulled for, or, from a source with a collection ID, that is
// not bound to that collection, so a server cannot pass one branch off as
// another.
func (p *puller) checkBinding(cm *object.Commit, c object.Checksum, ref string) error {
	if p.opts.DisableVerifyBindings || ref == "" || ref == c.String() {
		return nil // asked for by its checksum: no ref to be bound to
	}
	if err := store.VerifyBindings(cm.Metadata, p.opts.collection, ref); err != nil {
		return fmt.Errorf("commit %s for ref %s: %w", c, ref, err)
	}
	return nil
}

// job is one unit of a pull's work: walk a directory, or fetch a file.
type job struct {
	dir        bool
	tree, meta object.Checksum
	rest       []string // remaining --subpath components under this directory
	path       string   // of the directory, named when it is too deep
	depth      int      // how far below the root the directory is
	file       object.Checksum
	// old is the directory's dirtree in the complete commit the ref had
	// here (zero: none): the same one is complete, all below it here.
	old object.Checksum
}

// queue hands jobs to a fixed set of workers, directories first: each
// dirtree is needed to find the rest, so metadata goes ahead of content.
// It is unbounded so that workers adding jobs never block each other.
type queue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	dirs    []job
	files   []job
	pending int
	err     error
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(j job) {
	q.mu.Lock()
	if j.dir {
		q.dirs = append(q.dirs, j)
	} else {
		q.files = append(q.files, j)
	}
	q.pending++
	q.mu.Unlock()
	q.cond.Signal()
}

// pop waits for a job; ok is false when all work is done or failed.
func (q *queue) pop() (job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.err != nil || q.pending == 0 {
			return job{}, false
		}
		if n := len(q.dirs); n > 0 {
			j := q.dirs[n-1]
			q.dirs = q.dirs[:n-1]
			return j, true
		}
		if n := len(q.files); n > 0 {
			j := q.files[n-1]
			q.files = q.files[:n-1]
			return j, true
		}
		q.cond.Wait()
	}
}

func (q *queue) done(err error) {
	q.mu.Lock()
	q.pending--
	if err != nil && q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	q.cond.Broadcast()
}

// wholeTree says whether a pull takes commits' whole trees: no subpath,
// or one of them the root.
func (o *PullOptions) wholeTree() bool {
	for _, sp := range o.Subpaths {
		if strings.Trim(sp, "/") == "" {
			return true
		}
	}
	return len(o.Subpaths) == 0
}

// tree fetches what is missing of a commit's tree (or of its subpaths).
func (p *puller) tree(cm *object.Commit, c object.Checksum) error {
	if p.opts.wholeTree() {
		return p.treeAt(cm, c, nil)
	}
	for _, sp := range p.opts.Subpaths {
		subpath, err := splitSubpath(sp)
		if err != nil {
			return err
		}
		// Each path's walk goes through the directories above it again,
		// which an earlier walk claimed: the objects already here are
		// not fetched twice.
		p.mu.Lock()
		p.seen = map[index.Ref]bool{}
		p.mu.Unlock()
		if err := p.treeAt(cm, c, subpath); err != nil {
			return err
		}
	}
	return nil
}

// treeAt fetches what is missing of a commit's tree, or of the path
// subpath in it, with a fixed pool of workers (connections are reused;
// no goroutine per file).
func (p *puller) treeAt(cm *object.Commit, c object.Checksum, subpath []string) error {
	if cm.RootTree == p.oldRoot && len(subpath) == 0 {
		return p.meta(index.Ref{Checksum: cm.RootMeta, Type: object.TypeDirMeta})
	}
	q := newQueue()
	q.push(job{dir: true, tree: cm.RootTree, meta: cm.RootMeta, rest: subpath, path: "/", old: p.oldRoot})
	var wg sync.WaitGroup
	for i := 0; i < p.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, ok := q.pop()
				if !ok {
					return
				}
				if err := p.ctx.Err(); err != nil {
					q.done(err)
					continue
				}
				if j.dir {
					q.done(p.dir(q, j))
				} else {
					q.done(p.content(j.file))
				}
			}
		}()
	}
	wg.Wait()
	if q.err != nil {
		return fmt.Errorf("pulling commit %s: %w", c, q.err)
	}
	return nil
}

// dir fetches a directory's dirmeta and dirtree and queues its entries.
func (p *puller) dir(q *queue, j job) error {
	if j.depth > store.MaxTreeDepth {
		// As ostree's pull: a tree nested this deep is hostile.
		return fmt.Errorf("%s: %w", j.path, store.ErrTooDeep)
	}
	// The dirmeta beside the dirtree: the walk needs only the dirtree,
	// and a level of the tree costs one round trip, not two.
	metaErr := make(chan error, 1)
	go func() { metaErr <- p.meta(index.Ref{Checksum: j.meta, Type: object.TypeDirMeta}) }()
	// The same subtree can appear in many places: one walker takes it,
	// children and all, and the others have nothing to do.
	treeRef := index.Ref{Checksum: j.tree, Type: object.TypeDirTree}
	var err error
	if p.first(treeRef) {
		err = p.fetchMeta(treeRef)
	} else {
		treeRef = index.Ref{}
	}
	if merr := <-metaErr; err == nil {
		err = merr
	}
	if err != nil || treeRef == (index.Ref{}) {
		return err
	}
	t, err := p.repoOrStagedTree(j.tree)
	if err != nil {
		return err
	}
	var old object.DirTree
	if !j.old.IsZero() {
		if ot, err := p.repo.ReadDirTree(j.old); err == nil {
			old = ot
		}
	}
	oldFiles := newByName(old.Files, t.Files, func(f object.FileEntry) (string, object.Checksum) { return f.Name, f.Checksum })
	oldDirs := newByName(old.Dirs, t.Dirs, func(d object.DirEntry) (string, object.Checksum) { return d.Name, d.Tree })
	rest := j.rest
	for _, f := range t.Files {
		if len(rest) > 0 && f.Name != rest[0] || len(rest) > 1 {
			continue
		}
		if c, ok := oldFiles.get(f.Name); ok && c == f.Checksum {
			continue // the complete commit's file: here
		}
		q.push(job{file: f.Checksum})
	}
	for _, d := range t.Dirs {
		if len(rest) > 0 && d.Name != rest[0] {
			continue
		}
		var next []string
		if len(rest) > 1 {
			next = rest[1:]
		}
		o, _ := oldDirs.get(d.Name)
		if o == d.Tree && len(next) == 0 {
			// The same as in the complete commit: all of it is here.
			if err := p.meta(index.Ref{Checksum: d.Meta, Type: object.TypeDirMeta}); err != nil {
				return err
			}
			continue
		}
		q.push(job{dir: true, tree: d.Tree, meta: d.Meta, rest: next, path: strings.TrimSuffix(j.path, "/") + "/" + d.Name, depth: j.depth + 1, old: o})
	}
	return nil
}

// byName finds the entries of a directory of the complete commit by name,
// for the names of the same directory in the pulled commit, asked in their
// order. Both lists are in ascending order as ostree writes them (arbor's
// reading of a dirtree checks it, or reads it by the slow path): a cursor
// goes through the old list once, where a map of its names cost a
// tenth of a delta pull. Lists out of order get the map.
type byName[E any] struct {
	old  []E
	key  func(E) (string, object.Checksum)
	next int
	m    map[string]object.Checksum
}

func newByName[E any](old, cur []E, key func(E) (string, object.Checksum)) *byName[E] {
	b := &byName[E]{old: old, key: key}
	if !ascending(old, key) || !ascending(cur, key) {
		b.m = make(map[string]object.Checksum, len(old))
		for _, e := range old {
			n, c := key(e)
			b.m[n] = c
		}
	}
	return b
}

func ascending[E any](l []E, key func(E) (string, object.Checksum)) bool {
	for i := 1; i < len(l); i++ {
		a, _ := key(l[i-1])
		b, _ := key(l[i])
		if a >= b {
			return false
		}
	}
	return true
}

// get is the old entry's checksum of name, which must come after the
// names asked before.
func (b *byName[E]) get(name string) (object.Checksum, bool) {
	if b.m != nil {
		c, ok := b.m[name]
		return c, ok
	}
	for b.next < len(b.old) {
		n, c := b.key(b.old[b.next])
		if n > name {
			break
		}
		b.next++
		if n == name {
			return c, true
		}
	}
	return object.Zero, false
}

func splitSubpath(p string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(p, "/") {
		if part == "" {
			continue
		}
		if err := object.ValidateName(part); err != nil {
			return nil, fmt.Errorf("--subpath=%s: %w", p, err)
		}
		out = append(out, part)
	}
	return out, nil
}

// first reports whether this pull has not yet handled ref, and claims it.
func (p *puller) first(ref index.Ref) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen[ref] {
		return false
	}
	p.seen[ref] = true
	p.objects.Add(1)
	return true
}

func (p *puller) meta(ref index.Ref) error {
	if !p.first(ref) {
		return nil
	}
	return p.fetchMeta(ref)
}

func (p *puller) fetchMeta(ref index.Ref) error {
	if has, err := p.txn.Has(ref); err != nil || has {
		return err
	}
	if ok, err := p.metaFromCache(ref); err != nil || ok {
		return err
	}
	b, err := p.src.Meta(p.ctx, ref)
	if err != nil {
		return fmt.Errorf("%s: %w", object.Name(ref.Checksum, ref.Type), err)
	}
	if err := p.addMeta(ref, b); err != nil {
		return err
	}
	p.fetched.Add(1)
	p.nMeta.Add(1)
	return nil
}

// addMeta stores a metadata object; one from a repository on this
// machine is hardlinked from it where it can be.
func (p *puller) addMeta(ref index.Ref, b []byte) error {
	if l, ok := p.src.(localSource); ok {
		return p.txn.AddMetaLinked(ref, b, l.r.ObjectPath(ref.Checksum, ref.Type))
	}
	return p.txn.AddMeta(ref, b)
}

func (p *puller) content(c object.Checksum) error {
	ref := index.Ref{Checksum: c, Type: object.TypeFile}
	if !p.first(ref) {
		return nil
	}
	if has, err := p.txn.Has(ref); err != nil || has {
		return err
	}
	if ok, err := p.contentFromCache(c); err != nil || ok {
		return err
	}
	// A body cut short while streaming cannot be retried by the HTTP layer
	// (the bytes went to the store); fetch the object again instead.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = p.content1(c); !errors.Is(err, httpc.ErrTruncated) {
			break
		}
	}
	if err == nil {
		p.fetched.Add(1)
		p.nContent.Add(1)
	}
	return err
}

func (p *puller) content1(c object.Checksum) error {
	if l, ok := p.src.(linker); ok {
		if done, err := l.link(p.txn, c); err != nil || done {
			return err
		}
	}
	h, size, body, err := p.src.Content(p.ctx, c)
	if err != nil {
		return fmt.Errorf("%s: %w", object.Name(c, object.TypeFile), err)
	}
	defer body.Close()
	if p.opts.BareUserOnlyFiles {
		if err := bareUserOnlyMode(c, h.Mode); err != nil {
			return err
		}
	}
	return p.txn.AddContent(c, h, size, body)
}

// bareUserOnlyMode checks that a content object is a symlink or a file
// whose mode a bare-user-only repository keeps (no bits past 0775), in
// ostree's words.
func bareUserOnlyMode(c object.Checksum, mode uint32) error {
	switch mode & object.ModeTypeMask {
	case object.ModeSymlink:
		return nil
	case object.ModeRegular:
		if bad := mode &^ object.ModeTypeMask &^ 0o775; bad != 0 {
			return fmt.Errorf("Content object %s: invalid mode 0%04o with bits 0%04o", c, mode, bad)
		}
		return nil
	}
	return fmt.Errorf("Content object %s: invalid mode 0%04o: not a regular file or symlink", c, mode)
}

// repoOrStagedTree reads a dirtree that is in the repo or staged by this pull.
func (p *puller) repoOrStagedTree(c object.Checksum) (object.DirTree, error) {
	if t, ok := p.deltaTrees[c]; ok {
		return t, nil
	}
	b, err := p.txn.ReadMeta(index.Ref{Checksum: c, Type: object.TypeDirTree})
	if err != nil {
		return object.DirTree{}, err
	}
	return object.ParseDirTree(b)
}

// completeRoot is commit c's root dirtree when c is complete here, else
// zero.
func (p *puller) completeRoot(c object.Checksum) object.Checksum {
	if c.IsZero() || p.repo.IsPartial(c) {
		return object.Zero
	}
	cm, err := p.repo.ReadCommit(c)
	if err != nil {
		return object.Zero
	}
	return cm.RootTree
}
