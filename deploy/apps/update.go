package apps

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/safety"
	"arbor/deploy/history"
	"arbor/store/object"
	"arbor/store/refs"
)

// Update is an update an installed ref's origin offers.
type Update struct {
	Ref            flatpak.Ref
	Origin         string
	From, To       object.Checksum
	NewPermissions []string // what To grants that From does not, in words
	Downloaded     bool     // To is fetched already: applying it needs no network
}

// UpdateRequest says what Update updates.
type UpdateRequest struct {
	Refs   []flatpak.Ref // empty: every installed ref
	Commit string        // deploy this commit (to roll back); needs exactly one ref
	// AllowNewPermissions applies updates that grant more than the
	// installed commit; without it they are held back.
	AllowNewPermissions bool
	// DownloadOnly fetches what the updates need and deploys nothing; a
	// later Update applies them without fetching again.
	DownloadOnly bool
}

// Updates lists, for each installed ref, the newest commit of its
// origin when it is another than the installed one, and what it would
// grant that the installed commit does not. Each new commit object (only
// that) is fetched, to read its metadata. Origins that cannot be reached
// are skipped, their errors joined in the error returned with the rest.
func (m *Manager) Updates(ctx context.Context) ([]Update, error) {
	installed, err := m.In.Installed()
	if err != nil {
		return nil, fmt.Errorf("listing the installed refs: %w", err)
	}
	o := m.op(nil)
	defer o.close()
	offered := map[string]map[string]object.Checksum{}
	failed := map[string]bool{}
	var errs []error
	out := []Update{}
	for _, ref := range installed {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, masked := m.matching("masked", ref); masked {
			continue
		}
		d, err := m.In.Get(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if failed[d.Origin] {
			continue
		}
		rs, ok := offered[d.Origin]
		if !ok {
			if rs, err = o.refs(ctx, m.Repo, d.Origin); err != nil {
				failed[d.Origin] = true
				errs = append(errs, fmt.Errorf("reading what remote %s offers: %w", d.Origin, err))
				continue
			}
			offered[d.Origin] = rs
		}
		newest, ok := rs[ref.String()]
		if !ok || newest == d.Commit {
			continue
		}
		meta, err := m.metadataOf(ctx, o, d.Origin, ref, newest)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		dl, _ := m.downloaded(ref)
		out = append(out, Update{Ref: ref, Origin: d.Origin, From: d.Commit, To: newest,
			NewPermissions: safety.AddedWords(d.Metadata, meta), Downloaded: dl == newest})
	}
	return out, errors.Join(errs...)
}

// metadataOf is the parsed xa.metadata of ref's commit c, the commit
// object fetched first when the store lacks it.
func (m *Manager) metadataOf(ctx context.Context, o *op, remote string, ref flatpak.Ref, c object.Checksum) (*flatpak.Metadata, error) {
	if _, err := m.Repo.ReadCommit(c); err != nil {
		if _, _, err := m.fetchCommit(ctx, o, remote, ref, c.String(), false); err != nil {
			return nil, err
		}
	}
	raw, err := m.commitMetadata(ref, c)
	if err != nil {
		return nil, err
	}
	meta, err := flatpak.ParseMetadata(raw)
	if err != nil {
		return nil, fmt.Errorf("%s (commit %s): %w", ref, short(c), err)
	}
	return meta, nil
}

// downloadedRef records a commit Update fetched with DownloadOnly, to
// deploy later without fetching it again (a pull of a present commit
// still asks the server for its summary, so it would need the network),
// and keeps its objects from prune meanwhile.
func downloadedRef(ref flatpak.Ref) string { return "downloaded/" + ref.String() }

func (m *Manager) downloaded(ref flatpak.Ref) (object.Checksum, bool) {
	c, err := refs.Dir(m.In.Repo).Read(downloadedRef(ref))
	return c, err == nil
}

func (m *Manager) forgetDownload(ref flatpak.Ref) error {
	if err := refs.Dir(m.In.Repo).Delete(downloadedRef(ref)); err != nil && !errors.Is(err, refs.ErrNotFound) {
		return fmt.Errorf("%s: forgetting its download: %w", ref, err)
	}
	return nil
}

// Update updates installed refs to their origin's newest commit (or
// req.Commit), each switched in one rename; an app already running keeps
// its old commit until it exits. An update that grants new permissions is
// held back (its Change has NewPermissions and a zero To) unless
// req.AllowNewPermissions. A commit downloaded before (DownloadOnly) is
// deployed without fetching again. Refs that fail do not stop the
// others: their errors are joined.
func (m *Manager) Update(ctx context.Context, req UpdateRequest, p Progress) ([]Change, error) {
	targets := req.Refs
	if len(targets) == 0 {
		installed, err := m.In.Installed()
		if err != nil {
			return nil, fmt.Errorf("listing the installed refs: %w", err)
		}
		for _, ref := range installed {
			if _, masked := m.matching("masked", ref); !masked {
				targets = append(targets, ref) // masked refs update only when named
			}
		}
	}
	if req.Commit != "" && len(targets) != 1 {
		return nil, errors.New("--commit needs exactly one ref")
	}
	o := m.op(p)
	defer o.close()
	changes := []Change{}
	var errs []error
	for _, ref := range targets {
		if err := ctx.Err(); err != nil {
			return changes, errors.Join(append(errs, err)...)
		}
		ch, err := m.updateOne(ctx, o, ref, req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		changes = append(changes, ch)
		o.send(Event{Ref: ref.String(), Phase: PhaseDone, Message: doneMessage(ch), Change: &ch})
	}
	return changes, errors.Join(errs...)
}

func doneMessage(ch Change) string {
	switch {
	case ch.Held():
		return fmt.Sprintf("%s is held back: it asks for new permissions (%s)", ch.Ref, strings.Join(ch.NewPermissions, ", "))
	case ch.Downloaded:
		return fmt.Sprintf("downloaded %s (commit %s), to apply later", ch.Ref, short(ch.To))
	case ch.From == ch.To:
		return fmt.Sprintf("%s is up to date", ch.Ref)
	}
	return fmt.Sprintf("updated %s to commit %s", ch.Ref, short(ch.To))
}

func (m *Manager) updateOne(ctx context.Context, o *op, ref flatpak.Ref, req UpdateRequest) (Change, error) {
	d, err := m.In.Get(ref)
	if err != nil {
		return Change{}, m.recordFailure(history.Entry{Op: "update", Ref: ref.String()}, err)
	}
	_, materialized := m.In.FilesDir(d)
	opName := "update"
	if req.DownloadOnly {
		opName = "download"
	}
	fail := func(to object.Checksum, err error) (Change, error) {
		return Change{}, m.recordFailure(history.Entry{Op: opName, Ref: ref.String(), Remote: d.Origin, From: d.Commit.String(), To: commitString(to)}, err)
	}
	target, local := object.Zero, false
	switch dl, ok := m.downloaded(ref); {
	case req.Commit != "":
		if target, err = object.ParseChecksum(req.Commit); err != nil {
			return fail(object.Zero, fmt.Errorf("--commit: %w", err))
		}
	case ok && !req.DownloadOnly:
		target, local = dl, true
	default:
		o.send(Event{Ref: ref.String(), Phase: PhaseResolving, Message: fmt.Sprintf("asking remote %s (%s) for the newest %s", d.Origin, m.host(d.Origin), ref)})
		rs, err := o.refs(ctx, m.Repo, d.Origin)
		if err != nil {
			return fail(object.Zero, fmt.Errorf("reading what remote %s offers: %w", d.Origin, err))
		}
		if target, ok = rs[ref.String()]; !ok {
			return fail(object.Zero, fmt.Errorf("remote %s no longer offers %s", d.Origin, ref))
		}
	}
	if target == d.Commit {
		if local {
			if err := m.forgetDownload(ref); err != nil {
				return fail(target, err)
			}
		}
		return Change{Ref: ref, From: d.Commit, To: d.Commit}, nil
	}
	meta, err := m.metadataOf(ctx, o, d.Origin, ref, target)
	if err != nil {
		return fail(target, err)
	}
	added := safety.AddedWords(d.Metadata, meta)
	if len(added) > 0 && !req.AllowNewPermissions {
		// Nothing changes, so nothing is recorded.
		return Change{Ref: ref, From: d.Commit, NewPermissions: added}, nil
	}
	if !local {
		if materialized {
			// The commit object is here; a full pull fetches the rest.
			if _, _, err := m.fetchCommit(ctx, o, d.Origin, ref, target.String(), true); err != nil {
				return fail(target, err)
			}
		}
		if err := m.fetchRest(ctx, o, d.Origin, ref, target, materialized); err != nil {
			return fail(target, err)
		}
	} else if err := m.checkTree(ref, target); err != nil {
		return fail(target, err)
	}
	if req.DownloadOnly {
		if err := refs.Dir(m.In.Repo).Set(downloadedRef(ref), target, true); err != nil {
			return fail(target, fmt.Errorf("%s: recording its download: %w", ref, err))
		}
		ch := Change{Ref: ref, From: d.Commit, To: target, NewPermissions: added, Downloaded: true}
		m.recordChange(opName, d.Origin, &ch)
		return ch, nil
	}
	ch, _, err := m.deploy(ctx, o, d.Origin, ref, target, meta.Raw, materialized)
	if err != nil {
		return fail(target, err)
	}
	ch.From, ch.NewPermissions = d.Commit, added
	if err := m.forgetDownload(ref); err != nil {
		ch.Warnings = append(ch.Warnings, err.Error())
	}
	m.recordChange(opName, d.Origin, &ch)
	return ch, nil
}
