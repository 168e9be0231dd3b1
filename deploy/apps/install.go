package apps

import (
	"context"
	"fmt"

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
}

// Install installs an app or runtime from a remote, then the runtime an
// app needs when it is missing. The changes are those made, in order,
// also when an error follows.
func (m *Manager) Install(ctx context.Context, req InstallRequest, p Progress) ([]Change, error) {
	o := m.op(p)
	ch, d, err := m.installNamed(ctx, o, req.Remote, req.Name, req.Kind, req.Commit, req.Materialize)
	if err != nil {
		return nil, err
	}
	changes := []Change{ch}
	if d.Metadata.Kind != flatpak.App || d.Metadata.Runtime == "" {
		return changes, nil
	}
	rt, err := flatpak.ParsePartial(flatpak.Runtime, d.Metadata.Runtime)
	if err != nil {
		return changes, fmt.Errorf("%s: its runtime: %w", d.Ref, err)
	}
	if _, err := m.In.Get(rt); err == nil {
		return changes, nil
	}
	if req.Runtime != nil && !req.Runtime(rt) {
		return changes, fmt.Errorf("%s needs the runtime %s: %w", d.Ref, rt, ErrRuntimeDeclined)
	}
	remote, err := m.runtimeRemote(ctx, o, req.Remote, rt, req.RuntimeRepo)
	if err != nil {
		return changes, m.recordFailure(history.Entry{Op: "install", Ref: rt.String()}, err)
	}
	rch, _, err := m.installNamed(ctx, o, remote, rt.String(), flatpak.Runtime, "", req.Materialize)
	if err != nil {
		return changes, err
	}
	return append(changes, rch), nil
}

// installNamed completes name against the remote's refs and installs it,
// recording the install in the history whether it worked or not.
func (m *Manager) installNamed(ctx context.Context, o *op, remote, name string, kind flatpak.Kind, at string, materialize bool) (Change, *flatpak.Deployed, error) {
	ref, err := m.complete(ctx, o, remote, name, kind)
	if err != nil {
		return Change{}, nil, m.recordFailure(history.Entry{Op: "install", Ref: name, Remote: remote}, err)
	}
	var from object.Checksum
	if d, err := m.In.Get(ref); err == nil {
		from = d.Commit
	}
	ch, d, err := m.installRef(ctx, o, remote, ref, at, materialize)
	if err != nil {
		return Change{}, nil, m.recordFailure(history.Entry{Op: "install", Ref: ref.String(), Remote: remote, From: commitString(from)}, err)
	}
	ch.From = from
	m.recordChange("install", remote, &ch)
	o.send(Event{Ref: ref.String(), Phase: PhaseDone, Message: fmt.Sprintf("installed %s (commit %s)", ref, short(ch.To)), Change: &ch})
	return ch, d, nil
}

// complete finds the ref a name means among the remote's.
func (m *Manager) complete(ctx context.Context, o *op, remote, name string, kind flatpak.Kind) (flatpak.Ref, error) {
	o.send(Event{Ref: name, Phase: PhaseResolving, Message: fmt.Sprintf("asking remote %s (%s) what it offers", remote, m.host(remote))})
	remoteRefs, err := fetch.RemoteRefs(ctx, m.Repo, remote)
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

// installRef fetches what an install needs of ref (at a commit, or the
// newest) and deploys it.
func (m *Manager) installRef(ctx context.Context, o *op, remote string, ref flatpak.Ref, at string, materialize bool) (Change, *flatpak.Deployed, error) {
	c, meta, err := m.fetchCommit(ctx, o, remote, ref, at, materialize)
	if err != nil {
		return Change{}, nil, err
	}
	if err := m.fetchRest(ctx, o, remote, ref, c, meta, materialize); err != nil {
		return Change{}, nil, err
	}
	return m.deploy(ctx, o, remote, ref, c, meta, materialize)
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
	res, err := m.pull(ctx, o, remote, ref.String(), what, fetch.PullOptions{Refs: []string{want}, CommitMetadataOnly: !materialize})
	if err != nil {
		return object.Zero, nil, err
	}
	c, ok := res.Refs[ref.String()]
	if !ok {
		return object.Zero, nil, fmt.Errorf("%s: the pull did not return it", ref)
	}
	meta, err := m.commitMetadata(ref, c)
	return c, meta, err
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

// fetchRest fetches the rest of what a lazy install needs (the tree's
// metadata file, an app's exports) and checks the tree's metadata is the
// commit's.
func (m *Manager) fetchRest(ctx context.Context, o *op, remote string, ref flatpak.Ref, c object.Checksum, meta []byte, materialize bool) error {
	want := ref.String() + "@" + c.String()
	if !materialize {
		// The tree's own metadata file, for the comparison below.
		if _, err := m.pull(ctx, o, remote, ref.String(), "fetching the metadata file of "+ref.String(),
			fetch.PullOptions{Refs: []string{want}, Subpath: "/metadata"}); err != nil {
			return err
		}
	}
	if err := m.checkTree(ref, c); err != nil {
		return err
	}
	if ref.Kind == flatpak.App && !materialize {
		// The desktop files and icons: small, fetched now.
		if _, err := m.pull(ctx, o, remote, ref.String(), "fetching the desktop files and icons of "+ref.String(),
			fetch.PullOptions{Refs: []string{want}, Subpath: "/export"}); err != nil {
			return err
		}
	}
	return nil
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
	Commit                      object.Checksum
	Metadata                    *flatpak.Metadata // its xa.metadata: what is shown and what will run
	InstalledSize, DownloadSize uint64
}

// RemoteCommit fetches the commit a remote now has of ref, alone (its
// signature checked as a pull checks it), and reads it: what a center
// shows of an app before it is installed.
func (m *Manager) RemoteCommit(ctx context.Context, remote string, ref flatpak.Ref) (*CommitInfo, error) {
	c, raw, err := m.fetchCommit(ctx, m.op(nil), remote, ref, "", false)
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
	return &CommitInfo{Commit: c, Metadata: md, InstalledSize: in, DownloadSize: dl}, nil
}
