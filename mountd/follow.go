package mountd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"arbor/store"
	"arbor/store/object"
)

// A mount of a ref follows it: when the ref moves (a pull, a commit, or
// the remote's ref, asked for by an update), the mount shows the new
// commit. Only the directories that changed are fetched, and the files in
// them; what a delta or a pull brought is read from the store.

// UpdateRequest asks mounts of refs to show their refs' newest commits.
type UpdateRequest struct {
	// Mountpoint is the one mount to update, asking its remote for the
	// ref's commit. Empty, every mount of a ref is updated.
	Mountpoint string `json:"mountpoint,omitempty"`
	// Moved lists the refs ([REMOTE:]REF) that moved in the repository
	// (a pull, a commit): their mounts move to the ref's commit here,
	// without asking the remote, and no other mount is updated.
	Moved []string `json:"moved,omitempty"`
}

// UpdateInfo is what an update did to one mount.
type UpdateInfo struct {
	Mountpoint string `json:"mountpoint"`
	Source     string `json:"source"`
	From       string `json:"from"`
	To         string `json:"to"` // From when the ref had not moved
	Error      string `json:"error,omitempty"`
}

// follows says whether a mount of source follows a ref: a commit by
// checksum, REF@CHECKSUM (an installed commit) and the browse root do not.
func (d *Daemon) follows(m *mount) bool {
	if m.Browse || m.root == nil {
		return false
	}
	_, rev := d.splitSource(m.Source)
	if strings.Contains(rev, "@") {
		return false
	}
	_, err := object.ParseChecksum(rev)
	return err != nil
}

// Update moves mounts of refs to the refs' commits.
func (d *Daemon) Update(ctx context.Context, req UpdateRequest) ([]UpdateInfo, error) {
	d.refreshConfig()
	d.mu.Lock()
	var ms []*mount
	for _, m := range d.mounts {
		switch {
		case req.Mountpoint != "":
			if m.Mountpoint == req.Mountpoint {
				ms = append(ms, m)
			}
		case req.Moved != nil:
			if slices.Contains(req.Moved, m.Source) && d.follows(m) {
				ms = append(ms, m)
			}
		case d.follows(m):
			ms = append(ms, m)
		}
	}
	d.mu.Unlock()
	if req.Mountpoint != "" {
		if len(ms) == 0 {
			return nil, fmt.Errorf("%s: %w", req.Mountpoint, ErrNotMounted)
		}
		if !d.follows(ms[0]) {
			return nil, fmt.Errorf("%s shows %s, which is no ref to follow", req.Mountpoint, ms[0].Source)
		}
	}
	slices.SortFunc(ms, func(a, b *mount) int { return strings.Compare(a.Mountpoint, b.Mountpoint) })
	out := make([]UpdateInfo, 0, len(ms))
	for _, m := range ms {
		from, to, err := d.follow(ctx, m, req.Moved != nil)
		ui := UpdateInfo{Mountpoint: m.Mountpoint, Source: m.Source, From: from.String(), To: to.String()}
		if err != nil {
			ui.Error = err.Error()
			ui.To = ui.From
			d.opts.Logf("updating %s (%s): %v", m.Mountpoint, m.Source, err)
		}
		out = append(out, ui)
	}
	if req.Mountpoint != "" && out[0].Error != "" {
		return nil, errors.New(out[0].Error)
	}
	return out, nil
}

// follow moves m to its ref's commit: the one here when local is set,
// else the remote's.
func (d *Daemon) follow(ctx context.Context, m *mount, local bool) (from, to object.Checksum, err error) {
	m.moveMu.Lock()
	defer m.moveMu.Unlock()
	from = m.shown()
	remote, rev := d.splitSource(m.Source)
	if local {
		to, err = d.repo.Resolve(m.Source)
	} else {
		to, err = d.resolve(ctx, remote, rev)
	}
	if err != nil {
		return from, from, fmt.Errorf("%s: %w", m.Source, err)
	}
	if to == from {
		return from, to, nil
	}
	cm, err := d.repo.ReadCommit(to)
	if err != nil {
		return from, from, fmt.Errorf("%s: commit %s: %w", m.Source, to, err)
	}
	tree, meta := cm.RootTree, cm.RootMeta
	if m.Subpath != "" {
		if tree, meta, err = subtree(ctx, m.src, tree, meta, m.Subpath); err != nil {
			return from, from, fmt.Errorf("%s: commit %s: %w", m.Source, to, err)
		}
	}
	if m.lazy.f != nil {
		d.loadKeptIndex(m, to)
	}
	// The new root's own objects come first, so that its listing answers
	// at once once the tree is shown.
	if _, err := m.src.DirTree(ctx, tree); err != nil {
		return from, from, fmt.Errorf("%s: commit %s: %w", m.Source, to, err)
	}
	if _, err := m.src.DirMeta(ctx, meta); err != nil {
		return from, from, fmt.Errorf("%s: commit %s: %w", m.Source, to, err)
	}
	m.mu.Lock()
	oldTree := m.tree
	m.commit, m.tree, m.meta = to, tree, meta
	m.mu.Unlock()
	m.root.Move(ctx, tree, meta)
	if m.lazy.f != nil && !m.NoPrefetch {
		pf, wctx := m.newWalk()
		go followWalk(wctx, m.lazy, oldTree, tree, meta, pf)
	}
	d.opts.Logf("moved %s at %s from %s to %s", m.Source, m.Mountpoint, from, to)
	return from, to, nil
}

// followWalk fetches, in the background, what a moved mount's new tree
// has that its old one had not: the directories that changed, and the
// files in them (every file's header, small files whole), as a mount's
// first walk does for the whole tree. A directory whose dirtree and
// dirmeta are those it had at the same path is not read at all.
func followWalk(ctx context.Context, src lazySource, oldTree, tree, meta object.Checksum, p *progress) {
	defer p.done.Store(true)
	v := &changedDirs{src: src, oldRoot: oldTree, p: p, seen: map[object.Checksum]bool{}}
	err := store.WalkPaths(ctx, src, store.Root{Path: "/", Tree: tree, Meta: meta}, walkWorkers, nil, v)
	if err != nil {
		if ctx.Err() == nil {
			p.err.CompareAndSwap(nil, err.Error())
		}
		return
	}
	warmFiles(ctx, src, v.files, p)
}

// changedDirs visits the directories of a new tree that differ from the
// old tree's at the same path. What each directory hands its
// subdirectories is its old dirtree: nil when it is new, or when the old
// one was never fetched (nothing to compare with, so all below counts as
// changed).
type changedDirs struct {
	src     lazySource
	oldRoot object.Checksum
	p       *progress

	mu    sync.Mutex
	files []object.Checksum
	seen  map[object.Checksum]bool
}

var (
	_ store.PathVisitor[*object.DirTree] = (*changedDirs)(nil)
	_ store.PathPruner[*object.DirTree]  = (*changedDirs)(nil)
)

func findEntry(dt *object.DirTree, name string) (object.DirEntry, bool) {
	if dt == nil {
		return object.DirEntry{}, false
	}
	i := slices.IndexFunc(dt.Dirs, func(e object.DirEntry) bool { return e.Name == name })
	if i < 0 {
		return object.DirEntry{}, false
	}
	return dt.Dirs[i], true
}

func (v *changedDirs) Prune(parent *object.DirTree, d store.Dir) bool {
	e, ok := findEntry(parent, d.Name)
	return ok && e.Tree == d.Tree && e.Meta == d.Meta
}

func (v *changedDirs) Enter(ctx context.Context, parent *object.DirTree, d store.Dir) (*object.DirTree, error) {
	v.p.dirs.Add(1)
	var old object.DirEntry
	known := false
	if d.Depth == 0 {
		old, known = object.DirEntry{Tree: v.oldRoot}, true
	} else {
		old, known = findEntry(parent, d.Name)
	}
	if !known || old.Meta != d.Meta {
		if _, err := v.src.DirMeta(ctx, d.Meta); err != nil {
			return nil, err
		}
	}
	var oldDt *object.DirTree
	if known && v.src.treeLocal(old.Tree) {
		oldDt, _ = v.src.DirTree(ctx, old.Tree)
	}
	oldFiles := map[string]object.Checksum{}
	if oldDt != nil {
		for _, f := range oldDt.Files {
			oldFiles[f.Name] = f.Checksum
		}
	}
	v.mu.Lock()
	for _, f := range d.Entries.Files {
		if c, ok := oldFiles[f.Name]; (!ok || c != f.Checksum) && !v.seen[f.Checksum] {
			v.seen[f.Checksum] = true
			v.files = append(v.files, f.Checksum)
		}
	}
	v.mu.Unlock()
	return oldDt, nil
}

func (v *changedDirs) File(context.Context, *object.DirTree, store.Dir, object.FileEntry) error {
	return nil
}

func (v *changedDirs) Leave(context.Context, *object.DirTree, store.Dir, error) error { return nil }
