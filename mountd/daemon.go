// Package mountd is arbor's daemon: one process per repository owns every
// FUSE mount of it, one store and one fetcher per remote, so that objects
// are fetched once and shared by all mounts. It answers a control API
// (JSON over HTTP) on a unix socket inside the repository.
package mountd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	syncatomic "sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"arbor/fetch"
	"arbor/fs"
	mcenter "arbor/mountd/center"
	"arbor/mountd/mountinfo"
	"arbor/store"
	"arbor/store/atomic"
	"arbor/store/object"
)

// Paths inside a repository.
func dataDir(repo string) string    { return filepath.Join(repo, "extensions", "arbor") }
func SocketPath(repo string) string { return filepath.Join(dataDir(repo), "mountd.sock") }
func LogPath(repo string) string    { return filepath.Join(dataDir(repo), "mountd.log") }
func statePath(repo string) string  { return filepath.Join(dataDir(repo), "mounts.json") }
func lockPath(repo string) string   { return store.DaemonLockPath(repo) }
func keptPath(repo string) string   { return filepath.Join(dataDir(repo), "persistent.json") }
func profileDir(repo string) string { return filepath.Join(dataDir(repo), "profiles") }

// Options configure a daemon.
type Options struct {
	Repo string
	// ExitWhenIdle ends the daemon once its last mount is gone, as when it
	// was started on demand by `arbor mount`.
	ExitWhenIdle bool
	Logf         func(format string, args ...any)
}

// Daemon owns the mounts of one repository.
type Daemon struct {
	repo *store.Repo
	opts Options
	priv bool

	mu       sync.Mutex
	fetchers map[string]*fetch.Fetcher
	retired  []*fetch.Fetcher // replaced when their remote changed, kept for the mounts that use them
	cfgStamp [2]int64         // the config file's mtime and size when last read
	mounts   map[string]*mount
	idle     chan struct{} // signalled when the last mount goes
	closing  bool          // set once an idle daemon decided to exit
	stopping bool          // set when shutting down: persistent mounts stay recorded

	ctx           context.Context // the daemon's life, for the center's jobs
	center        *mcenter.Server // nil until asked for
	centerSysroot string
}

// ErrClosing is returned to a mount request that reaches a daemon on its
// way out; a new daemon should be started for it.
var ErrClosing = errors.New("the arbor daemon is shutting down")

type mount struct {
	MountRequest
	remote  string
	stats   func() fs.Stats
	srv     *fs.Mounted
	started time.Time
	cancel  context.CancelFunc
	life    context.Context // the mount's, ended by cancel
	fetcher *fetch.Fetcher
	index   syncatomic.Pointer[string] // what became of the commit's tree index
	root    *fs.Root                   // nil for a browse mount
	src     fs.Source                  // what root reads
	lazy    lazySource                 // src, when it fetches from the remote

	moveMu sync.Mutex // one move at a time (follow.go)
	mu     sync.Mutex
	commit object.Checksum
	tree   object.Checksum    // the root directory shown, with meta
	meta   object.Checksum    //
	pf     *progress          // the background walk's, nil without one
	walk   context.CancelFunc // ends the background walk

	profMu  sync.Mutex
	profile []string
	saved   bool // profile taken and saved for the next mount
}

// MountRequest asks for a mount.
type MountRequest struct {
	// Source is [REMOTE:]REF or a commit checksum (REMOTE:CHECKSUM
	// fetches that commit from the remote).
	Source     string `json:"source"`
	Mountpoint string `json:"mountpoint"`
	// FetchTimeout bounds how long a read waits for one object ("30s").
	FetchTimeout string `json:"fetch_timeout,omitempty"`
	// Browse mounts a directory of every remote's refs and of commits by
	// checksum, each mounted on first lookup; Source is then empty.
	Browse bool `json:"browse,omitempty"`
	// Passthrough has the kernel read large files straight from the
	// store (root only, Linux 6.9+): one page cache copy of a file for
	// every mount and checkout, at the price of a round trip per open.
	Passthrough bool `json:"passthrough,omitempty"`
	// NoPrefetch leaves everything to be fetched when first used (for
	// metered links), instead of walking the tree in the background.
	NoPrefetch bool `json:"no_prefetch,omitempty"`
	// Subpath mounts one directory of the commit (such as /usr) as the
	// root of the mount.
	Subpath string `json:"subpath,omitempty"`
	// Persistent mounts are mounted again by the next daemon, until they
	// are unmounted through the control API (a lazy OS deployment's /usr).
	Persistent bool `json:"persistent,omitempty"`
	// Setuid honours setuid and setgid bits and file capabilities (root
	// only; a lazy OS deployment's /usr). Such a mount serves no file's
	// mode, owner or target before it is verified, even from a remote that
	// does not verify signatures.
	Setuid bool `json:"setuid,omitempty"`
}

// MountInfo describes a mount.
type MountInfo struct {
	Mountpoint string    `json:"mountpoint"`
	Source     string    `json:"source"`
	Remote     string    `json:"remote,omitempty"`
	Commit     string    `json:"commit"`
	Started    time.Time `json:"started"`
	BytesRead  int64     `json:"bytes_read"`
	Errors     int64     `json:"errors"`
	// Fetch counters are those of the remote's fetcher, which every mount
	// of that remote shares.
	Fetch    *fetch.FetcherStats `json:"fetch,omitempty"`
	Prefetch *PrefetchInfo       `json:"prefetch,omitempty"`
	// TreeIndex is what became of the commit's tree index: "signed",
	// "unsigned" (a remote that does not verify), "none", or why it was
	// refused ("refused: ...").
	TreeIndex string `json:"tree_index,omitempty"`
}

// PrefetchInfo is the progress of a mount's background walk.
type PrefetchInfo struct {
	Dirs         int64  `json:"dirs"`
	Files        int64  `json:"files"`
	ProfileFiles int64  `json:"profile_files"`
	Done         bool   `json:"done"`
	Error        string `json:"error,omitempty"`
}

// Run serves until ctx ends (or, with ExitWhenIdle, the last mount goes),
// then unmounts everything.
func Run(ctx context.Context, o Options) error {
	d, err := open(&o)
	if err != nil {
		return err
	}
	defer d.repo.Close()
	// Ended on the way out, idle or asked: the work that outlives a
	// request (the center's jobs and preparations) stops with it.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	d.ctx = ctx
	if err := os.MkdirAll(dataDir(o.Repo), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(lockPath(o.Repo), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("another arbor daemon serves %s", o.Repo)
	}
	lock.Truncate(0)
	lock.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	d.cleanStale()
	d.restore(ctx)

	sock := SocketPath(o.Repo)
	ln, err := listenPrivate(sock)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	if fd, err := strconv.Atoi(os.Getenv(readyEnv)); err == nil && fd > 2 {
		os.NewFile(uintptr(fd), "ready").Close()
		os.Unsetenv(readyEnv)
	}
	o.Logf("serving %s on %s", o.Repo, sock)

	select {
	case <-ctx.Done():
	case <-d.idleExit(ctx):
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	srv.Shutdown(sctx)
	cancel()
	d.mu.Lock()
	center := d.center
	d.mu.Unlock()
	if center != nil {
		center.Close()
		// The job it was running and its preparations end with ctx:
		// the repository closes after them.
		dctx, cancel := context.WithTimeout(context.Background(), drainFor)
		if err := center.Center.Drain(dctx); err != nil {
			o.Logf("center: %v", err)
		}
		cancel()
	}
	os.Remove(sock)
	d.shutdown()
	return nil
}

// drainFor bounds how long a stopping daemon waits for the center's work
// to stop: its steps check their context, and a transaction stopped
// half-way leaves nothing behind.
const drainFor = 30 * time.Second

// open opens the repository for a daemon.
func open(o *Options) (*Daemon, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	r, err := store.Open(o.Repo)
	if err != nil {
		return nil, err
	}
	r.KeepsIndex()
	return &Daemon{repo: r, opts: *o, priv: os.Geteuid() == 0,
		fetchers: map[string]*fetch.Fetcher{}, mounts: map[string]*mount{}, idle: make(chan struct{}, 1)}, nil
}

// DaemonPID is the process id of the daemon serving repo, or 0.
func DaemonPID(repo string) int {
	f, err := os.Open(lockPath(repo))
	if err != nil {
		return 0
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) == nil {
		return 0 // nobody holds it
	}
	var pid int
	fmt.Fscan(f, &pid)
	return pid
}

// Stop ends the daemon serving repo, which unmounts everything, and waits
// up to wait for it to be gone. No daemon is not an error.
func Stop(repo string, wait time.Duration) error {
	pid := DaemonPID(repo)
	if pid == 0 {
		return nil
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(wait); syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("arbord %d of %s did not stop on SIGTERM", pid, repo)
		}
	}
	return nil
}

// Foreground serves one mount in this process, without a control socket,
// until ctx ends or the mount is unmounted from outside.
func Foreground(ctx context.Context, o Options, req MountRequest, ready func(*MountInfo)) error {
	d, err := open(&o)
	if err != nil {
		return err
	}
	defer d.repo.Close()
	d.ctx = ctx
	mi, err := d.Mount(ctx, req)
	if err != nil {
		return err
	}
	ready(mi)
	d.mu.Lock()
	m := d.mounts[mi.Mountpoint]
	d.mu.Unlock()
	gone := make(chan struct{})
	if m == nil {
		close(gone) // unmounted from outside already, and forgotten
	} else {
		go func() { m.srv.Wait(); close(gone) }()
	}
	select {
	case <-ctx.Done():
	case <-gone:
	}
	d.shutdown()
	return nil
}

// idleExit fires when ExitWhenIdle is set and no mount has been left for a
// moment (a mount right after an unmount keeps the daemon).
func (d *Daemon) idleExit(ctx context.Context) <-chan struct{} {
	out := make(chan struct{})
	if !d.opts.ExitWhenIdle {
		return out
	}
	go func() {
		// A center with no mounts is looked at again every minute.
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-d.idle:
				time.Sleep(2 * time.Second)
			case <-tick.C:
				d.mu.Lock()
				c := d.center
				d.mu.Unlock()
				if c == nil {
					continue
				}
			}
			inUse := d.centerInUse()
			d.mu.Lock()
			n := len(d.mounts)
			d.closing = n == 0 && !inUse
			d.mu.Unlock()
			if n == 0 && !inUse {
				close(out)
				return
			}
		}
	}()
	return out
}

func (d *Daemon) shutdown() {
	d.mu.Lock()
	d.stopping = true
	mounts := make([]*mount, 0, len(d.mounts))
	for _, m := range d.mounts {
		mounts = append(mounts, m)
	}
	d.mu.Unlock()
	for _, m := range mounts {
		if err := d.unmount(m.Mountpoint); err != nil {
			d.opts.Logf("%v", err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, f := range d.fetchers {
		if err := f.Close(); err != nil {
			d.opts.Logf("remote %s: %v", name, err)
		}
	}
	for _, f := range d.retired {
		if err := f.Close(); err != nil {
			d.opts.Logf("%v", err)
		}
	}
	d.retired = nil
	d.saveState()
}

// cleanStale removes mounts a killed daemon left behind.
func (d *Daemon) cleanStale() {
	for _, m := range readRequests(statePath(d.opts.Repo)) {
		if Owns(d.opts.Repo, m.Mountpoint) {
			if err := Detach(d.opts.Repo, m.Mountpoint); err != nil {
				d.opts.Logf("stale mount: %v", err)
			} else {
				d.opts.Logf("removed the stale mount %s", m.Mountpoint)
			}
		}
	}
	d.saveState()
}

// restore mounts again what was mounted as persistent, before the daemon
// answers anyone.
func (d *Daemon) restore(ctx context.Context) {
	for _, req := range d.kept() {
		if _, err := os.Stat(req.Mountpoint); os.IsNotExist(err) {
			// Its deployment was removed while no daemon ran.
			d.mu.Lock()
			d.keep(req, false)
			d.mu.Unlock()
			continue
		}
		if _, err := d.Mount(ctx, req); err != nil {
			d.opts.Logf("mounting %s again at %s: %v", req.Source, req.Mountpoint, err)
		}
	}
}

// kept reads the persistent mounts' requests.
func (d *Daemon) kept() []MountRequest { return readRequests(keptPath(d.opts.Repo)) }

// readRequests reads a list of mounts the daemon keeps (statePath,
// keptPath); a missing or unreadable one is empty.
func readRequests(path string) []MountRequest {
	var reqs []MountRequest
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &reqs)
	}
	return reqs
}

// keep adds or drops a persistent mount's request. Callers hold d.mu.
func (d *Daemon) keep(req MountRequest, add bool) {
	reqs := slices.DeleteFunc(d.kept(), func(r MountRequest) bool { return r.Mountpoint == req.Mountpoint })
	if add {
		reqs = append(reqs, req)
	}
	b, _ := json.MarshalIndent(reqs, "", "  ")
	// Synced: the next boot's daemon mounts these again.
	if err := atomic.WriteFile(keptPath(d.opts.Repo), b, 0o644, true); err != nil {
		d.opts.Logf("%v", err)
	}
}

// saveState records the live mounts, so the next daemon can clean up
// after this one if it is killed. Callers hold d.mu.
func (d *Daemon) saveState() {
	list := make([]MountRequest, 0, len(d.mounts))
	for _, m := range d.mounts {
		list = append(list, m.MountRequest)
	}
	slices.SortFunc(list, func(a, b MountRequest) int { return strings.Compare(a.Mountpoint, b.Mountpoint) })
	b, _ := json.MarshalIndent(list, "", "  ")
	if err := atomic.WriteFile(statePath(d.opts.Repo), b, 0o644, false); err != nil {
		d.opts.Logf("%v", err)
	}
}

// fetcher is the remote's fetcher. One made before the remote's
// configuration or keys changed (remote add, --gpg-import, gpg-verify
// turned on) is replaced for new mounts, so that what a mount trusts is
// what the repository says now.
func (d *Daemon) fetcher(remote string) (*fetch.Fetcher, error) {
	rm, err := fetch.LoadRemote(d.repo, remote)
	if err != nil {
		return nil, err
	}
	fp := rm.Fingerprint(d.repo)
	d.mu.Lock()
	defer d.mu.Unlock()
	if f := d.fetchers[remote]; f != nil {
		if f.Fingerprint() == fp {
			return f, nil
		}
		d.retired = append(d.retired, f)
		delete(d.fetchers, remote)
	}
	f, err := fetch.NewFetcher(d.repo, remote, 0)
	if err != nil {
		return nil, err
	}
	d.fetchers[remote] = f
	return f, nil
}

// refreshConfig reads the repository's config again when another command
// changed it since the daemon last did.
func (d *Daemon) refreshConfig() {
	fi, err := os.Stat(filepath.Join(d.opts.Repo, "config"))
	if err != nil {
		return
	}
	stamp := [2]int64{fi.ModTime().UnixNano(), fi.Size()}
	d.mu.Lock()
	same := stamp == d.cfgStamp
	d.cfgStamp = stamp
	d.mu.Unlock()
	if same {
		return
	}
	if err := d.repo.ReloadConfig(); err != nil {
		d.opts.Logf("%v", err)
	}
}

// splitSource separates REMOTE: from a mount source when REMOTE is a
// configured remote.
func (d *Daemon) splitSource(s string) (remote, rev string) {
	if i := strings.IndexByte(s, ':'); i > 0 {
		if slices.Contains(fetch.ListRemotes(d.repo), s[:i]) {
			return s[:i], s[i+1:]
		}
	}
	return "", s
}

// resolve finds the commit to mount, fetching a remote ref's commit (and
// checking its signature) as `pull --commit-metadata-only` does. With the
// remote unreachable, the last commit fetched for the ref is used.
func (d *Daemon) resolve(ctx context.Context, remote, rev string) (object.Checksum, error) {
	if remote == "" {
		return d.repo.Resolve(rev)
	}
	// REF@CHECKSUM (an installed commit) needs no request when the commit
	// is here already.
	if _, at, ok := strings.Cut(rev, "@"); ok {
		if c, err := object.ParseChecksum(at); err == nil {
			if has, _ := d.repo.HasObject(c, object.TypeCommit); has {
				return c, nil
			}
		}
	}
	res, err := fetch.Pull(ctx, d.repo, remote, fetch.PullOptions{Refs: []string{rev}, CommitMetadataOnly: true})
	if err == nil {
		if c, ok := res.Refs[rev]; ok {
			return c, nil
		}
	}
	if c, lerr := d.repo.Resolve(remote + ":" + rev); lerr == nil {
		if err != nil {
			d.opts.Logf("remote %s: %v; using the last fetched commit %s of %s", remote, err, c, rev)
		}
		return c, nil
	}
	if err != nil {
		return object.Zero, err
	}
	return d.repo.Resolve(remote + ":" + rev)
}

// Mount mounts a commit and returns once the mount answers.
func (d *Daemon) Mount(ctx context.Context, req MountRequest) (*MountInfo, error) {
	d.refreshConfig()
	mp := filepath.Clean(req.Mountpoint)
	if !filepath.IsAbs(mp) {
		return nil, fmt.Errorf("mount point %q is not an absolute path", req.Mountpoint)
	}
	if fi, err := os.Stat(mp); err != nil {
		return nil, fmt.Errorf("mount point: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("mount point %s is not a directory", mp)
	}
	req.Mountpoint = mp
	timeout := 30 * time.Second
	if req.FetchTimeout != "" {
		t, err := time.ParseDuration(req.FetchTimeout)
		if err != nil || t <= 0 {
			return nil, fmt.Errorf("fetch timeout %q: want a positive duration such as 30s", req.FetchTimeout)
		}
		timeout = t
	}
	d.mu.Lock()
	_, busy := d.mounts[mp]
	closing := d.closing
	d.mu.Unlock()
	if closing {
		return nil, ErrClosing
	}
	if busy {
		return nil, fmt.Errorf("%s is already mounted", mp)
	}

	m := &mount{MountRequest: req, started: time.Now()}
	var root gofs.InodeEmbedder
	var cm *object.Commit
	var rootTree, rootMeta object.Checksum
	var lazy lazySource
	if req.Passthrough && !d.priv {
		return nil, errors.New("passthrough needs the daemon to run as root")
	}
	if req.Setuid && !d.priv {
		return nil, errors.New("a setuid mount needs the daemon to run as root")
	}
	if req.Setuid && req.Browse {
		// Its commits come from any remote, with whatever they claim.
		return nil, errors.New("a browse mount cannot honour setuid bits")
	}
	if req.Browse {
		if req.Source != "" {
			return nil, errors.New("a browse mount takes no source")
		}
		br := &browseRoot{d: d, timeout: timeout}
		root, m.stats = br, func() fs.Stats { return fs.Stats{} }
	} else {
		remote, rev := d.splitSource(req.Source)
		rctx, rcancel := context.WithTimeout(ctx, timeout)
		commit, err := d.resolve(rctx, remote, rev)
		rcancel()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", req.Source, err)
		}
		if cm, err = d.repo.ReadCommit(commit); err != nil {
			return nil, fmt.Errorf("%s: %w", req.Source, err)
		}
		m.remote, m.commit = remote, commit
		var src fs.Source
		if src, lazy, err = d.source(remote, timeout, req.Setuid); err != nil {
			return nil, fmt.Errorf("%s: %w", req.Source, err)
		}
		m.fetcher = lazy.f
		rootTree, rootMeta = cm.RootTree, cm.RootMeta
		if req.Subpath != "" {
			sctx, scancel := context.WithTimeout(ctx, timeout)
			rootTree, rootMeta, err = subtree(sctx, src, rootTree, rootMeta, req.Subpath)
			scancel()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", req.Source, err)
			}
		}
		r := fs.NewRoot(src, rootTree, rootMeta, d.treeOptions(mp, m.recordRead, req.Passthrough))
		root, m.stats = r, r.Stats
		m.root, m.src, m.lazy, m.tree, m.meta = r, src, lazy, rootTree, rootMeta
	}
	pctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.life = cancel, pctx
	source := req.Source
	if req.Browse {
		source = "browse"
	}
	var err error
	m.srv, err = fs.Mount(mp, root, fs.MountConfig{Name: mountinfo.SourceName(d.opts.Repo, source), Privileged: d.priv, Setuid: req.Setuid})
	if err != nil {
		cancel()
		return nil, err
	}
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		m.srv.Unmount()
		cancel()
		return nil, ErrClosing
	}
	d.mounts[mp] = m
	d.saveState()
	if req.Persistent {
		d.keep(req, true)
	}
	d.mu.Unlock()

	if lazy.f != nil {
		d.loadKeptIndex(m, m.commit)
	}
	if lazy.f != nil && !req.NoPrefetch {
		pf, wctx := m.newWalk()
		profile := d.loadProfile(req.Source)
		indexed := make(chan bool, 1)
		lazy.f.LoadTreeIndexAsync(wctx, m.commit, func(ok bool, err error) {
			d.indexLoaded(m, ok, err)
			indexed <- ok
		})
		go func() {
			ok := <-indexed
			prefetchProfile(wctx, lazy, rootTree, profile, pf)
			if ok {
				// The tree index holds every dirtree and file header.
				pf.done.Store(true)
				return
			}
			prefetchTree(wctx, lazy, rootTree, rootMeta, pf)
		}()
	}
	go func() {
		// Unmounted from outside (umount, fusermount -u): forget it.
		m.srv.Wait()
		d.forget(m)
	}()
	go func() {
		// The first seconds of reads make the profile for the next mount.
		select {
		case <-time.After(profileWindow):
			d.saveProfile(req.Source, m.takeProfile())
		case <-pctx.Done():
		}
	}()
	d.opts.Logf("mounted %s (%s) at %s", source, m.commit, mp)
	return d.info(m), nil
}

// loadKeptIndex loads the tree index of commit kept from an earlier mount
// or the install, if there is one: it costs no request, and may hold the
// only copy of dirtrees read then. It returns once loaded, so that no read
// races it.
func (d *Daemon) loadKeptIndex(m *mount, commit object.Checksum) {
	if _, err := os.Stat(filepath.Join(d.opts.Repo, store.TreeIndexPath(commit))); err != nil {
		return
	}
	loaded := make(chan struct{})
	m.lazy.f.LoadTreeIndexAsync(m.life, commit, func(ok bool, err error) {
		d.indexLoaded(m, ok, err)
		close(loaded)
	})
	<-loaded
}

// newWalk starts counting a new background walk of the mount, ending the
// one before (a move's), and gives its context.
func (m *mount) newWalk() (*progress, context.Context) {
	ctx, cancel := context.WithCancel(m.life)
	pf := &progress{}
	m.mu.Lock()
	if m.walk != nil {
		m.walk()
	}
	m.pf, m.walk = pf, cancel
	m.mu.Unlock()
	return pf, ctx
}

// shown is the commit the mount shows now.
func (m *mount) shown() object.Checksum {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commit
}

// indexLoaded records what became of a mount's tree index. One refused
// leaves the mount to fetch dirtrees and whole files instead.
func (d *Daemon) indexLoaded(m *mount, ok bool, err error) {
	state := "none"
	switch {
	case err != nil:
		state = "refused: " + err.Error()
		d.opts.Logf("%s: tree index refused, fetching dirtrees instead: %v", m.Source, err)
	case ok && m.fetcher.TreeIndexSigned(m.shown()):
		state = "signed"
	case ok:
		state = "unsigned"
	}
	m.index.Store(&state)
}

// subtree finds the directory at path in a commit's tree.
func subtree(ctx context.Context, src fs.Source, tree, meta object.Checksum, path string) (object.Checksum, object.Checksum, error) {
	for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
		if err := object.ValidateName(name); err != nil {
			return tree, meta, fmt.Errorf("subpath %s: %w", path, err)
		}
		t, err := src.DirTree(ctx, tree)
		if err != nil {
			return tree, meta, err
		}
		i := slices.IndexFunc(t.Dirs, func(e object.DirEntry) bool { return e.Name == name })
		if i < 0 {
			return tree, meta, fmt.Errorf("subpath %s: no directory %s", path, name)
		}
		tree, meta = t.Dirs[i].Tree, t.Dirs[i].Meta
	}
	return tree, meta, nil
}

// source is what a tree of the repository reads from: the store alone,
// or for a remote the store with that remote's fetcher behind it.
func (d *Daemon) source(remote string, timeout time.Duration, verifiedOnly bool) (fs.Source, lazySource, error) {
	if remote == "" {
		return &fs.StoreSource{Repo: d.repo}, lazySource{}, nil
	}
	if d.repo.Mode() == store.ModeArchive {
		return nil, lazySource{}, fmt.Errorf("lazy mounts need a bare-user repository, %s is archive", d.opts.Repo)
	}
	f, err := d.fetcher(remote)
	if err != nil {
		return nil, lazySource{}, err
	}
	l := lazySource{f: f, timeout: timeout, verifiedOnly: verifiedOnly, life: d.ctx}
	return l, l, nil
}

func (d *Daemon) treeOptions(mp string, onRead fs.ReadObserver, passthrough bool) fs.Options {
	return fs.Options{
		Passthrough: passthrough,
		OnRead:      onRead,
		OnError:     func(path string, err error) { d.opts.Logf("%s%s: %v", mp, path, err) },
		Statfs:      d.statfs,
	}
}

// profileWindow is how long after mounting reads count as the start-up
// reads the next mount of the same source fetches first.
const profileWindow = 10 * time.Second

// maxProfile bounds a profile's length.
const maxProfile = 10000

func (m *mount) recordRead(path string, c object.Checksum) {
	if time.Since(m.started) > profileWindow {
		return
	}
	m.profMu.Lock()
	if len(m.profile) < maxProfile {
		m.profile = append(m.profile, path)
	}
	m.profMu.Unlock()
}

func (m *mount) takeProfile() []string {
	m.profMu.Lock()
	defer m.profMu.Unlock()
	p := m.profile
	m.profile, m.saved = nil, true
	return p
}

// Profile is what the mount at mp read in its first seconds (the paths,
// in order), for a publisher to pack (store.WritePack).
func (d *Daemon) Profile(mp string) ([]string, error) {
	d.mu.Lock()
	m, ok := d.mounts[filepath.Clean(mp)]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%s: %w", mp, ErrNotMounted)
	}
	m.profMu.Lock()
	p, saved := slices.Clone(m.profile), m.saved
	m.profMu.Unlock()
	if saved {
		return d.loadProfile(m.Source), nil
	}
	return p, nil
}

func profileFile(repo, source string) string {
	h := sha256.Sum256([]byte(source))
	return filepath.Join(profileDir(repo), hex.EncodeToString(h[:16]))
}

func (d *Daemon) loadProfile(source string) []string {
	b, err := os.ReadFile(profileFile(d.opts.Repo, source))
	if err != nil {
		return nil
	}
	var paths []string
	for _, p := range strings.Split(string(b), "\n") {
		if p != "" {
			paths = append(paths, p)
		}
	}
	return paths
}

func (d *Daemon) saveProfile(source string, paths []string) {
	if len(paths) == 0 {
		return
	}
	if err := os.MkdirAll(profileDir(d.opts.Repo), 0o755); err != nil {
		return
	}
	p := profileFile(d.opts.Repo, source)
	if err := atomic.WriteFile(p, []byte(strings.Join(paths, "\n")+"\n"), 0o644, false); err != nil {
		d.opts.Logf("%v", err)
	}
}

func (d *Daemon) statfs(out *fuse.StatfsOut) {
	var st unix.Statfs_t
	if unix.Statfs(d.opts.Repo, &st) == nil {
		out.Blocks, out.Bfree, out.Bavail = st.Blocks, 0, 0
		out.Files, out.Ffree = st.Files, 0
		out.Bsize = uint32(st.Bsize)
		out.Frsize = uint32(st.Frsize)
	}
}

// Unmount ends a mount.
// A persistent mount is forgotten even when it was not mounted (its
// restore failed).
func (d *Daemon) Unmount(mp string) error {
	mp = filepath.Clean(mp)
	err := d.unmount(mp)
	d.mu.Lock()
	kept := slices.ContainsFunc(d.kept(), func(r MountRequest) bool { return r.Mountpoint == mp })
	if kept {
		d.keep(MountRequest{Mountpoint: mp}, false)
	}
	d.mu.Unlock()
	if kept && errors.Is(err, ErrNotMounted) {
		return nil
	}
	return err
}

func (d *Daemon) unmount(mp string) error {
	d.mu.Lock()
	m := d.mounts[mp]
	d.mu.Unlock()
	if m == nil {
		// Left by this repository's daemon that died; another
		// repository's mounts are not this daemon's to touch.
		if Owns(d.opts.Repo, mp) {
			return Detach(d.opts.Repo, mp)
		}
		return fmt.Errorf("%s: %w", mp, ErrNotMounted)
	}
	if err := m.srv.Unmount(); err != nil {
		return fmt.Errorf("unmounting %s: %w", mp, err)
	}
	d.forget(m)
	return nil
}

// forget drops a mount that is gone.
func (d *Daemon) forget(m *mount) {
	d.mu.Lock()
	if d.mounts[m.Mountpoint] != m {
		d.mu.Unlock()
		return
	}
	delete(d.mounts, m.Mountpoint)
	d.saveState()
	if m.Persistent && !d.stopping {
		d.keep(m.MountRequest, false)
	}
	n := len(d.mounts)
	idle := d.takeIdleRetired()
	d.mu.Unlock()
	for _, f := range idle {
		if err := f.Close(); err != nil {
			d.opts.Logf("%v", err)
		}
	}
	m.cancel()
	d.saveProfile(m.Source, m.takeProfile())
	if n == 0 {
		select {
		case d.idle <- struct{}{}:
		default:
		}
	}
	d.opts.Logf("unmounted %s", m.Mountpoint)
}

// takeIdleRetired removes from the retired fetchers those no mount uses
// any more, and returns them to be closed. Callers hold d.mu.
func (d *Daemon) takeIdleRetired() []*fetch.Fetcher {
	for _, m := range d.mounts {
		if m.Browse {
			return nil // its commits use fetchers it does not list
		}
	}
	var idle []*fetch.Fetcher
	d.retired = slices.DeleteFunc(d.retired, func(f *fetch.Fetcher) bool {
		for _, m := range d.mounts {
			if m.fetcher == f {
				return false
			}
		}
		idle = append(idle, f)
		return true
	})
	return idle
}

// ErrNotMounted is returned for a mount point the daemon does not serve.
var ErrNotMounted = errors.New("not mounted")

// List describes every mount.
func (d *Daemon) List() []MountInfo {
	d.mu.Lock()
	ms := make([]*mount, 0, len(d.mounts))
	for _, m := range d.mounts {
		ms = append(ms, m)
	}
	d.mu.Unlock()
	out := make([]MountInfo, 0, len(ms))
	for _, m := range ms {
		out = append(out, *d.info(m))
	}
	slices.SortFunc(out, func(a, b MountInfo) int { return strings.Compare(a.Mountpoint, b.Mountpoint) })
	return out
}

func (d *Daemon) info(m *mount) *MountInfo {
	st := m.stats()
	mi := &MountInfo{Mountpoint: m.Mountpoint, Source: m.Source, Remote: m.remote,
		Started: m.started, BytesRead: st.BytesRead, Errors: st.Errors}
	m.mu.Lock()
	commit, pf := m.commit, m.pf
	m.mu.Unlock()
	if !commit.IsZero() {
		mi.Commit = commit.String()
	}
	if m.fetcher != nil {
		fs := m.fetcher.Stats()
		mi.Fetch = &fs
	}
	if st := m.index.Load(); st != nil {
		mi.TreeIndex = *st
	}
	if pf != nil {
		pi := &PrefetchInfo{Dirs: pf.dirs.Load(), Files: pf.files.Load(), ProfileFiles: pf.profile.Load(), Done: pf.done.Load()}
		if e, ok := pf.err.Load().(string); ok {
			pi.Error = e
		}
		mi.Prefetch = pi
	}
	return mi
}
