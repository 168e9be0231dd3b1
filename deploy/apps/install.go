package apps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/commits"
	"arbor/deploy/history"
	"arbor/fetch"
	"arbor/store/object"
)

// InstallRequest says what Install installs.
type InstallRequest struct {
	Remote string
	Name   string       // ID, ID//BRANCH, ID/ARCH/BRANCH or a full ref, completed as flatpak completes it
	Kind   flatpak.Kind // "": either
	Commit string       // "": the newest
	// Materialize fetches everything and checks it out, to run without
	// mounts and offline.
	Materialize bool
	// Runtime is asked before a missing runtime is installed; nil
	// installs it.
	Runtime func(rt flatpak.Ref) bool
	// RuntimeRepo is a .flatpakref's RuntimeRepo: where to find the
	// runtime when no remote has it.
	RuntimeRepo string
	// NoDeps installs the ref alone: not its runtime, not its extensions.
	NoDeps bool
	// Installed is what becomes of a ref that is installed already.
	Installed IfInstalled
}

// IfInstalled says what Install does with a ref installed already.
type IfInstalled int

const (
	// Skip leaves it as it is: Install returns ErrAlreadyInstalled.
	Skip IfInstalled = iota
	// OrUpdate updates it from its origin, as Update does.
	OrUpdate
	// Reinstall deploys the remote's commit afresh, whatever is deployed.
	Reinstall
)

// ErrAlreadyInstalled is why Install skipped a ref.
var ErrAlreadyInstalled = errors.New("is already installed")

// Install installs an app or runtime from a remote, then the runtime an
// app needs when it is missing. The changes are those made, in order,
// also when an error follows.
func (m *Manager) Install(ctx context.Context, req InstallRequest, p Progress) ([]Change, error) {
	o := m.op(p)
	defer o.close()
	ref, err := m.complete(ctx, o, req.Remote, req.Name, req.Kind)
	if err != nil {
		return nil, m.recordFailure(history.Entry{Op: "install", Ref: req.Name, Remote: req.Remote}, err)
	}
	if p, masked := m.matching("masked", ref); masked {
		return nil, fmt.Errorf("%s is masked by %q (arbor mask --remove to allow it)", ref, p)
	}
	if req.Installed != Reinstall {
		if d, err := m.In.Get(ref); err == nil {
			if req.Installed == Skip {
				// What it lacks to run is still installed: its runtime,
				// declined when it came.
				if !req.NoDeps {
					if w := m.startRuntime(ctx, o, req, ref, d.Metadata.Raw); !w.none {
						rch, err := w.finish(ctx)
						if rch == nil {
							return nil, err
						}
						return []Change{*rch}, err
					}
				}
				return nil, fmt.Errorf("%s %w", ref, ErrAlreadyInstalled)
			}
			ch, err := m.updateOne(ctx, o, ref, UpdateRequest{Commit: req.Commit})
			if err != nil {
				return nil, err
			}
			o.send(Event{Ref: ref.String(), Phase: PhaseDone, Message: doneMessage(ch), Change: &ch})
			return []Change{ch}, nil
		}
	}
	// The runtime an app needs is known from its commit: it is fetched
	// beside the rest of the app, and deployed after it.
	var rtWork *runtimeFetch
	ch, _, err := m.installNamed(ctx, o, req.Remote, req.Name, req.Kind, req.Commit, req.Materialize, func(ref flatpak.Ref, meta []byte) {
		if !req.NoDeps {
			rtWork = m.startRuntime(ctx, o, req, ref, meta)
		}
	})
	if rtWork != nil {
		defer rtWork.wait() // after an error, not left running
	}
	if err != nil {
		return nil, err
	}
	changes, err := withRuntime(ctx, ch, rtWork)
	if err != nil {
		return changes, err
	}
	if req.NoDeps {
		return changes, nil
	}
	// Then their extensions: the app's and, when it came now, the
	// runtime's.
	for _, c := range append([]Change(nil), changes...) {
		more, err := m.installRelated(ctx, o, c.Ref, req.Materialize)
		changes = append(changes, more...)
		if err != nil {
			return changes, err
		}
	}
	return changes, nil
}

// installRelated installs the extensions of ref (installed) that its
// remote offers and that flatpak would install with it, side by side;
// those installed already are left as they are (update moves them).
func (m *Manager) installRelated(ctx context.Context, o *op, ref flatpak.Ref, materialize bool) ([]Change, error) {
	d, err := m.In.Get(ref)
	if err != nil || len(d.Metadata.Extensions) == 0 {
		return nil, err
	}
	remoteRefs, err := o.refs(ctx, m.Repo, d.Origin)
	if err != nil {
		return nil, fmt.Errorf("reading what remote %s offers: %w", d.Origin, err)
	}
	var offered []flatpak.Ref
	for n := range remoteRefs {
		if r, err := flatpak.ParseRef(n); err == nil {
			offered = append(offered, r)
		}
	}
	installed, err := m.In.Installed()
	if err != nil {
		return nil, fmt.Errorf("listing the installed refs: %w", err)
	}
	var todo []flatpak.Related
	for _, r := range flatpak.RelatedRefs(ref, d.Metadata, offered, installed, flatpak.HostConditions()) {
		if _, masked := m.matching("masked", r.Ref); masked {
			continue // masked refs are not installed with others
		}
		if _, err := m.In.Get(r.Ref); err != nil {
			todo = append(todo, r)
		}
	}
	// Fetched together (each is a few round trips), deployed in order.
	fetchedAll := make([]*fetched, len(todo))
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, r := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fetchedAll[i], errs[i] = m.fetchNamed(ctx, o, d.Origin, r.Ref.String(), flatpak.Runtime, "", materialize, nil)
		}()
	}
	wg.Wait()
	var changes []Change
	for i := range todo {
		if errs[i] != nil {
			return changes, fmt.Errorf("%s's extension: %w", ref, errs[i])
		}
		ch, _, err := m.deployNamed(ctx, o, d.Origin, fetchedAll[i])
		if err != nil {
			return changes, fmt.Errorf("%s's extension: %w", ref, err)
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

// runtimeFetch is the install of an app's runtime, fetched in the
// background while the app is.
type runtimeFetch struct {
	m    *Manager
	o    *op
	done chan struct{}
	// Set before done closes:
	none    bool // nothing to install (no runtime, or it is installed)
	err     error
	remote  string
	rt      flatpak.Ref
	fetched *fetched
}

// startRuntime starts fetching what the app (whose commit's metadata is
// meta) needs of its runtime, unless it is installed or the request
// declines it.
func (m *Manager) startRuntime(ctx context.Context, o *op, req InstallRequest, app flatpak.Ref, meta []byte) *runtimeFetch {
	w := &runtimeFetch{m: m, o: o, done: make(chan struct{})}
	md, err := flatpak.ParseMetadata(meta)
	if err != nil || md.Kind != flatpak.App || md.Runtime == "" {
		w.none = true // a bad metadata is the app's install's error
		close(w.done)
		return w
	}
	rt, err := flatpak.ParsePartial(flatpak.Runtime, md.Runtime)
	if err != nil {
		w.err = fmt.Errorf("%s: its runtime: %w", app, err)
		close(w.done)
		return w
	}
	w.rt = rt
	if _, err := m.In.Get(rt); err == nil {
		w.none = true
		close(w.done)
		return w
	}
	if req.Runtime != nil && !req.Runtime(rt) {
		w.err = fmt.Errorf("%s needs the runtime %s: %w", app, rt, ErrRuntimeDeclined)
		close(w.done)
		return w
	}
	go func() {
		defer close(w.done)
		remote, err := m.runtimeRemote(ctx, o, req.Remote, rt, req.RuntimeRepo)
		if err != nil {
			w.err = m.recordFailure(history.Entry{Op: "install", Ref: rt.String()}, err)
			return
		}
		w.remote = remote
		w.fetched, w.err = m.fetchNamed(ctx, o, remote, rt.String(), flatpak.Runtime, "", req.Materialize, nil)
	}()
	return w
}

func (w *runtimeFetch) wait() { <-w.done }

// withRuntime is the change of an app just deployed, followed by its
// runtime's once w (nil: none was wanted) has deployed it.
func withRuntime(ctx context.Context, app Change, w *runtimeFetch) ([]Change, error) {
	changes := []Change{app}
	if w == nil {
		return changes, nil
	}
	rch, err := w.finish(ctx)
	if rch != nil {
		changes = append(changes, *rch)
	}
	return changes, err
}

// finish waits for the runtime's fetch and deploys it.
func (w *runtimeFetch) finish(ctx context.Context) (*Change, error) {
	w.wait()
	if w.none || w.err != nil {
		return nil, w.err
	}
	ch, _, err := w.m.deployNamed(ctx, w.o, w.remote, w.fetched)
	if err != nil {
		return nil, err
	}
	return &ch, nil
}

// installNamed completes name against the remote's refs and installs it,
// recording the install in the history whether it worked or not.
// committed, when set, hears the commit's metadata as soon as it is in.
func (m *Manager) installNamed(ctx context.Context, o *op, remote, name string, kind flatpak.Kind, at string, materialize bool, committed func(flatpak.Ref, []byte)) (Change, *flatpak.Deployed, error) {
	f, err := m.fetchNamed(ctx, o, remote, name, kind, at, materialize, committed)
	if err != nil {
		return Change{}, nil, err
	}
	return m.deployNamed(ctx, o, remote, f)
}

// fetched is what an install fetched of a ref, to deploy.
type fetched struct {
	ref         flatpak.Ref
	from, c     object.Checksum
	meta        []byte
	materialize bool
}

// fetchNamed is installNamed's fetching: failures are recorded.
func (m *Manager) fetchNamed(ctx context.Context, o *op, remote, name string, kind flatpak.Kind, at string, materialize bool, committed func(flatpak.Ref, []byte)) (*fetched, error) {
	ref, err := m.complete(ctx, o, remote, name, kind)
	if err != nil {
		return nil, m.recordFailure(history.Entry{Op: "install", Ref: name, Remote: remote}, err)
	}
	f := &fetched{ref: ref, materialize: materialize}
	if d, err := m.In.Get(ref); err == nil {
		f.from = d.Commit
	}
	fail := func(err error) (*fetched, error) {
		return nil, m.recordFailure(history.Entry{Op: "install", Ref: ref.String(), Remote: remote, From: commitString(f.from)}, err)
	}
	if f.c, f.meta, err = m.fetchCommit(ctx, o, remote, ref, at, materialize); err != nil {
		return fail(err)
	}
	if committed != nil {
		committed(ref, f.meta)
	}
	if err := m.fetchRest(ctx, o, remote, ref, f.c, materialize); err != nil {
		return fail(err)
	}
	return f, nil
}

// deployNamed is installNamed's deploying: the change is recorded.
func (m *Manager) deployNamed(ctx context.Context, o *op, remote string, f *fetched) (Change, *flatpak.Deployed, error) {
	ch, d, err := m.deploy(ctx, o, remote, f.ref, f.c, f.meta, f.materialize)
	if err != nil {
		return Change{}, nil, m.recordFailure(history.Entry{Op: "install", Ref: f.ref.String(), Remote: remote, From: commitString(f.from)}, err)
	}
	ch.From = f.from
	m.recordChange("install", remote, &ch)
	o.send(Event{Ref: f.ref.String(), Phase: PhaseDone, Message: fmt.Sprintf("installed %s (commit %s)", f.ref, short(ch.To)), Change: &ch})
	return ch, d, nil
}

// RemotesOffering lists the remotes whose refs complete name, with the
// ref each means: where `install ID` without a remote may come from.
// Remotes that cannot be read are left out.
func (m *Manager) RemotesOffering(ctx context.Context, name string, kind flatpak.Kind) ([]RemoteRef, error) {
	o := m.op(nil)
	defer o.close()
	var out []RemoteRef
	for _, remote := range fetch.ListRemotes(m.Repo) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if ref, err := m.complete(ctx, o, remote, name, kind); err == nil {
			out = append(out, RemoteRef{Remote: remote, Ref: ref})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Remote < out[j].Remote })
	return out, nil
}

// RemoteRef is a ref one remote offers.
type RemoteRef struct {
	Remote string
	Ref    flatpak.Ref
}

// complete finds the ref a name means among the remote's.
func (m *Manager) complete(ctx context.Context, o *op, remote, name string, kind flatpak.Kind) (flatpak.Ref, error) {
	o.send(Event{Ref: name, Phase: PhaseResolving, Message: fmt.Sprintf("asking remote %s (%s) what it offers", remote, m.host(remote))})
	remoteRefs, err := o.refs(ctx, m.Repo, remote)
	if err != nil {
		return flatpak.Ref{}, fmt.Errorf("reading what remote %s offers: %w", remote, err)
	}
	var cands []flatpak.Ref
	for n := range remoteRefs {
		if r, err := flatpak.ParseRef(n); err == nil {
			cands = append(cands, r)
		}
	}
	ref, err := flatpak.Complete(name, kind, cands)
	if err != nil {
		return flatpak.Ref{}, fmt.Errorf("remote %s: %w", remote, err)
	}
	return ref, nil
}

// fetchCommit fetches ref's commit (its signature checked as a pull
// checks it), everything it reaches when materializing, and returns its
// xa.metadata: what the user is shown and what will run.
func (m *Manager) fetchCommit(ctx context.Context, o *op, remote string, ref flatpak.Ref, at string, materialize bool) (object.Checksum, []byte, error) {
	want := ref.String()
	if at != "" {
		want += "@" + at // a given commit, bound to the ref all the same
	}
	what := "fetching the commit of " + ref.String()
	if materialize {
		what = "fetching all of " + ref.String()
	}
	if !materialize && at == "" {
		if c, ok := m.pulledAlready(ctx, o, remote, ref); ok {
			meta, err := m.commitMetadata(ref, c)
			return c, meta, err
		}
	}
	res, err := m.pull(ctx, o, remote, ref.String(), what, fetch.PullOptions{Refs: []string{want}, CommitMetadataOnly: !materialize})
	if err != nil {
		return object.Zero, nil, err
	}
	c, ok := res.Refs[ref.String()]
	if !ok {
		return object.Zero, nil, fmt.Errorf("%s: the pull did not return it", ref)
	}
	if o.kept != nil {
		if s, err := o.session(m.Repo, remote); err == nil {
			o.kept.notePulled(remote, s, ref.String(), c)
		}
	}
	meta, err := m.commitMetadata(ref, c)
	return c, meta, err
}

// pulledAlready is the commit of ref that the operation's session, a kept
// one, pulled and verified before (an app's details fetch its commit):
// when the summary it holds still names that commit, the commit is still
// stored and the remote's ref still points at it, a pull would ask the
// same remote for the same thing with the same keys.
func (m *Manager) pulledAlready(ctx context.Context, o *op, remote string, ref flatpak.Ref) (object.Checksum, bool) {
	if o.kept == nil {
		return object.Zero, false
	}
	s, err := o.session(m.Repo, remote)
	if err != nil {
		return object.Zero, false
	}
	c, ok := o.kept.pulledBy(remote, s, ref.String())
	if !ok {
		return object.Zero, false
	}
	refs, err := s.Refs(ctx)
	if err != nil || refs[ref.String()] != c {
		return object.Zero, false
	}
	if at, err := m.Repo.ReadRef(remote + ":" + ref.String()); err != nil || at != c {
		return object.Zero, false
	}
	if has, err := m.Repo.HasObject(c, object.TypeCommit); err != nil || !has {
		return object.Zero, false
	}
	return c, true
}

// commitMetadata is the xa.metadata of a commit in the store.
func (m *Manager) commitMetadata(ref flatpak.Ref, c object.Checksum) ([]byte, error) {
	cm, err := m.Repo.ReadCommit(c)
	if err != nil {
		return nil, fmt.Errorf("%s: reading commit %s: %w", ref, c, err)
	}
	v, ok := object.Lookup(cm.Metadata, "xa.metadata")
	meta, _ := v.Value.(string)
	if !ok || meta == "" {
		return nil, fmt.Errorf("%s (commit %s) has no xa.metadata: not an app or runtime", ref, c)
	}
	return []byte(meta), nil
}

// fetchRest fetches the rest of what a lazy install needs (fetchTree)
// and, beside it, the commit's pack where there is one: what a recorded
// run read, where the publisher packed it, so that the first run waits on
// nothing it had read. A materialized install fetches everything anyway.
func (m *Manager) fetchRest(ctx context.Context, o *op, remote string, ref flatpak.Ref, c object.Checksum, materialize bool) error {
	var packErr error
	packed := make(chan struct{})
	go func() {
		defer close(packed)
		if materialize {
			return
		}
		s, err := o.session(m.Repo, remote)
		if err != nil {
			packErr = err
			return
		}
		_, packErr = s.FetchPack(ctx, c)
	}()
	defer func() { <-packed }() // not left running after an error
	if err := m.fetchTree(ctx, o, remote, ref, c, materialize); err != nil {
		return err
	}
	if <-packed; packErr != nil {
		return fmt.Errorf("%s: the pack of commit %s: %w", ref, short(c), packErr)
	}
	return nil
}

// fetchTree fetches what a lazy install needs of a commit's tree (its
// metadata file, an app's exports) and checks the tree's metadata is the
// commit's. The commit's tree index, where the remote publishes one, is
// fetched first and kept for the first mount, which then looks nothing up
// over the network; the directories of the metadata file and the exports
// come from it, so that one pull after it fetches only their files.
func (m *Manager) fetchTree(ctx context.Context, o *op, remote string, ref flatpak.Ref, c object.Checksum, materialize bool) error {
	want := ref.String() + "@" + c.String()
	s, err := o.session(m.Repo, remote)
	if err != nil {
		return err
	}
	if _, err := s.KeepTreeIndex(ctx, c); err != nil {
		// As a mount does: the tree goes on without it, each object
		// fetched and checked alone.
		o.send(Event{Ref: ref.String(), Phase: PhaseFetching, Message: fmt.Sprintf("not using the tree index of %s (commit %s): %v", ref, short(c), err)})
	}
	if !materialize {
		// The tree's own metadata file, for the comparison below, and an
		// app's desktop files and icons (small), in one pull: their
		// directories come from the tree index, only the files are
		// fetched. Nothing of them is used before the comparison.
		paths, what := []string{"/metadata"}, "fetching the metadata file of "+ref.String()
		if ref.Kind == flatpak.App {
			paths, what = append(paths, "/export"), "fetching the metadata file, desktop files and icons of "+ref.String()
		}
		if _, err := m.pull(ctx, o, remote, ref.String(), what, fetch.PullOptions{Refs: []string{want}, Subpaths: paths}); err != nil {
			return err
		}
	}
	return m.checkTree(ref, c)
}

// Prepare fetches ahead what Install would fetch of an app or runtime
// before it deploys anything: its commit, verified, its tree's metadata
// file and exports, and the same of the runtime an app needs when that
// is missing. It deploys nothing and records nothing in the history. A
// center prepares the item whose details a user opened: if they press
// Install, the install's own pass finds all of it here and only deploys.
// The pack of what an app reads as it starts, which can be large, is
// left to the install. Left alone too: an item installed already or
// masked; the tree of a commit larger than prepareMax or of unknown size
// (an app's, and then its runtime's as well); and a pull that goes on
// fetching past prepareMax, whatever its commit declared, is stopped.
func (m *Manager) Prepare(ctx context.Context, remote string, ref flatpak.Ref) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	o := m.op(func(e Event) {
		if e.Bytes > prepareMax {
			stop()
		}
	})
	defer o.close()
	if _, masked := m.matching("masked", ref); masked {
		return nil
	}
	if _, err := m.In.Get(ref); err == nil {
		return nil
	}
	c, meta, err := m.fetchCommit(ctx, o, remote, ref, "", false)
	if err != nil || !m.smallCommit(c) {
		return err
	}
	if err := m.fetchTree(ctx, o, remote, ref, c, false); err != nil {
		return err
	}
	md, err := flatpak.ParseMetadata(meta)
	if err != nil || md.Kind != flatpak.App || md.Runtime == "" {
		return err
	}
	rt, err := flatpak.ParsePartial(flatpak.Runtime, md.Runtime)
	if err != nil {
		return fmt.Errorf("%s: its runtime: %w", ref, err)
	}
	if _, err := m.In.Get(rt); err == nil {
		return nil
	}
	rtRemote, err := m.runtimeRemote(ctx, o, remote, rt, "")
	if err != nil {
		return err
	}
	rc, _, err := m.fetchCommit(ctx, o, rtRemote, rt, "", false)
	if err != nil || !m.smallCommit(rc) {
		return err
	}
	return m.fetchTree(ctx, o, rtRemote, rt, rc, false)
}

// prepareMax bounds the trees Prepare fetches ahead, by the size their
// commit declares: the tree index of a larger one (a desktop runtime's)
// can alone be megabytes, for a user who may only be reading.
const prepareMax = 64 << 20

// smallCommit says whether commit c (stored) declares a download and an
// installed size, both within prepareMax.
func (m *Manager) smallCommit(c object.Checksum) bool {
	cm, err := m.Repo.ReadCommit(c)
	if err != nil {
		return false
	}
	return preparable(flatpak.CommitSizes(cm.Metadata))
}

func preparable(installed, download uint64) bool {
	return installed > 0 && download > 0 && installed <= prepareMax && download <= prepareMax
}

// checkTree refuses a commit whose tree's metadata is not the
// xa.metadata the user was shown, which is what runs (CVE-2021-43860).
func (m *Manager) checkTree(ref flatpak.Ref, c object.Checksum) error {
	cm, err := m.Repo.ReadCommit(c)
	if err != nil {
		return fmt.Errorf("%s: reading commit %s: %w", ref, c, err)
	}
	file, err := m.Repo.ReadFile(c, "/metadata", 1<<20)
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	if err := flatpak.CheckCommitMetadata(cm.Metadata, ref, file); err != nil {
		return fmt.Errorf("%s (commit %s): %w", ref, c, err)
	}
	return nil
}

// deploy deploys a fetched commit (commits.Deploy leaves the previous
// deployment active when it fails).
func (m *Manager) deploy(ctx context.Context, o *op, remote string, ref flatpak.Ref, c object.Checksum, meta []byte, materialize bool) (Change, *flatpak.Deployed, error) {
	if err := ctx.Err(); err != nil {
		return Change{}, nil, err
	}
	exe, err := m.arbor()
	if err != nil {
		return Change{}, nil, err
	}
	msg := fmt.Sprintf("deploying %s (commit %s)", ref, short(c))
	if materialize {
		msg = fmt.Sprintf("checking out %s (commit %s)", ref, short(c))
	}
	o.send(Event{Ref: ref.String(), Phase: PhaseDeploying, Message: msg})
	d, warnings, err := commits.Deploy(ctx, m.Repo, m.In, ref, c, commits.DeployOptions{Origin: remote, Metadata: meta, Materialize: materialize, Arbor: exe})
	if err != nil {
		return Change{}, nil, fmt.Errorf("deploying %s (commit %s): %w", ref, short(c), err)
	}
	return Change{Ref: ref, To: c, Warnings: warnings}, d, nil
}

func short(c object.Checksum) string { return c.String()[:12] }

// CommitInfo is what a remote's commit of a ref says of itself.
type CommitInfo struct {
	Ref                         flatpak.Ref
	Commit                      object.Checksum
	Parent                      object.Checksum // Zero when there is none
	Subject                     string
	Timestamp                   uint64            // seconds since the epoch
	Metadata                    *flatpak.Metadata // its xa.metadata: what is shown and what will run
	InstalledSize, DownloadSize uint64
}

// RemoteCommit fetches the commit a remote now has of ref, alone (its
// signature checked as a pull checks it), and reads it: what a center
// shows of an app before it is installed.
func (m *Manager) RemoteCommit(ctx context.Context, remote string, ref flatpak.Ref) (*CommitInfo, error) {
	o := m.op(nil)
	defer o.close()
	c, raw, err := m.fetchCommit(ctx, o, remote, ref, "", false)
	if err != nil {
		return nil, err
	}
	md, err := flatpak.ParseMetadata(raw)
	if err != nil {
		return nil, fmt.Errorf("%s (commit %s): %w", ref, short(c), err)
	}
	cm, err := m.Repo.ReadCommit(c)
	if err != nil {
		return nil, err
	}
	in, dl := flatpak.CommitSizes(cm.Metadata)
	return &CommitInfo{Ref: ref, Commit: c, Parent: cm.Parent, Subject: cm.Subject, Timestamp: cm.Timestamp,
		Metadata: md, InstalledSize: in, DownloadSize: dl}, nil
}

// CompleteRemote finds the ref a partial name means among a remote's.
func (m *Manager) CompleteRemote(ctx context.Context, remote, name string, kind flatpak.Kind) (flatpak.Ref, error) {
	o := m.op(nil)
	defer o.close()
	return m.complete(ctx, o, remote, name, kind)
}
