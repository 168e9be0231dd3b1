package apps

import (
	"context"
	"fmt"

	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/commits"
	"arbor/deploy/history"
	"arbor/fetch"
)

// BundleRequest installs a flatpak bundle file (flatpak install
// --bundle).
type BundleRequest struct {
	Path string
	// Runtime is asked before a missing runtime is installed; nil
	// installs it.
	Runtime   func(rt flatpak.Ref) bool
	NoDeps    bool
	Reinstall bool // deploy it afresh when it is installed already
}

// InstallBundle installs the ref a bundle holds, as flatpak does: its
// objects are stored, each checked against its checksum; it comes from
// a remote named after it (ID-origin) with the bundle's origin URL and
// keys, or from the remote that has that URL already; with keys, its
// commit must carry a good signature by them, as a pull from that remote
// would need. All of it is here, so it is checked out (hardlinks into
// the store) and runs without fetching, from a remote with no URL too.
// Its runtime is installed from the remotes that have it, or from the
// bundle's runtime repository.
func (m *Manager) InstallBundle(ctx context.Context, req BundleRequest, p Progress) ([]Change, error) {
	o := m.op(p)
	defer o.close()
	fail := func(ref string, err error) ([]Change, error) {
		return nil, m.recordFailure(history.Entry{Op: "install", Ref: ref}, err)
	}
	o.send(Event{Ref: req.Path, Phase: PhaseFetching, Message: "reading the bundle " + req.Path})
	b, err := commits.ReadBundle(ctx, m.Repo, req.Path)
	if err != nil {
		return fail(req.Path, err)
	}
	if pat, masked := m.matching("masked", b.Ref); masked {
		return nil, fmt.Errorf("%s is masked by %q (arbor mask --remove to allow it)", b.Ref, pat)
	}
	f := &fetched{ref: b.Ref, c: b.Commit, materialize: true}
	if d, err := m.In.Get(b.Ref); err == nil {
		if !req.Reinstall {
			return nil, fmt.Errorf("%s %w", b.Ref, ErrAlreadyInstalled)
		}
		f.from = d.Commit // what the history says it replaced
	}
	remote, ok := "", false
	if b.Origin != "" {
		remote, ok = remoteWithURL(m.Repo, b.Origin)
	}
	if !ok {
		remote = b.Ref.ID + "-origin"
		// url= even when empty: a bundle with no origin can be installed,
		// not updated.
		set := map[string]string{"url": b.Origin, "xa.noenumerate": "true", "xa.main-ref": b.Ref.String()}
		if err := m.recordRemote(remote, addRemoteFrom(m.Repo, remote, b.Origin, b.GPGKeys, set, true)); err != nil {
			return fail(b.Ref.String(), err)
		}
	}
	if err := fetch.VerifyStoredCommit(m.Repo, remote, b.Commit); err != nil {
		if !ok {
			fetch.DeleteRemote(m.Repo, remote, true) // added for it: not left behind
		}
		return fail(b.Ref.String(), fmt.Errorf("bundle %s, from remote %s: %w", req.Path, remote, err))
	}
	if err := m.Repo.SetRef(remote+":"+b.Ref.String(), b.Commit); err != nil {
		return fail(b.Ref.String(), err)
	}
	meta, err := m.commitMetadata(b.Ref, b.Commit)
	if err != nil {
		return fail(b.Ref.String(), err)
	}
	f.meta = meta
	var rtWork *runtimeFetch
	if !req.NoDeps {
		rtWork = m.startRuntime(ctx, o, InstallRequest{Remote: remote, Runtime: req.Runtime, RuntimeRepo: b.RuntimeRepo}, b.Ref, meta)
		defer rtWork.wait() // after an error, not left running
	}
	ch, _, err := m.deployNamed(ctx, o, remote, f)
	if err != nil {
		return nil, err
	}
	return withRuntime(ctx, ch, rtWork)
}
