package mountd

import (
	"context"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"arbor/fetch"
	"arbor/fs"
	"arbor/store/index"
	"arbor/store/object"
)

// browseTTL is how long the kernel keeps a browse directory's entries: a
// ref may move, so a ref's commit is looked up again after this.
const browseTTL = time.Minute

// browseRoot is the top of `arbor mount --browse DIR`: DIR/REMOTE/REF/...
// and DIR/commits/CHECKSUM/..., each commit mounted on first lookup.
type browseRoot struct {
	gofs.Inode
	d       *Daemon
	timeout time.Duration

	mu   sync.Mutex
	refs map[string]refsEntry // by remote
}

type refsEntry struct {
	refs map[string]object.Checksum
	at   time.Time
}

var (
	_ gofs.NodeLookuper  = (*browseRoot)(nil)
	_ gofs.NodeReaddirer = (*browseRoot)(nil)
	_ gofs.NodeGetattrer = (*browseRoot)(nil)
)

func dirAttr(out *fuse.Attr) {
	out.Mode = syscall.S_IFDIR | 0o555
	out.Nlink = 2
}

// Browse directories change as refs move: their mtime is the minute their
// listing was made, which makes the kernel drop a cached listing once the
// attributes are looked up again.
func listingTime() uint64 { return uint64(time.Now().Truncate(browseTTL).Unix()) }

func (b *browseRoot) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	dirAttr(&out.Attr)
	out.Mtime = listingTime()
	out.SetTimeout(browseTTL)
	return 0
}

func (b *browseRoot) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents := []fuse.DirEntry{{Name: "commits", Mode: syscall.S_IFDIR}}
	for _, r := range fetch.ListRemotes(b.d.repo) {
		if r != "commits" {
			ents = append(ents, fuse.DirEntry{Name: r, Mode: syscall.S_IFDIR})
		}
	}
	return gofs.NewListDirStream(ents), 0
}

func (b *browseRoot) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	out.SetEntryTimeout(browseTTL)
	out.SetAttrTimeout(browseTTL)
	dirAttr(&out.Attr)
	if name == "commits" {
		return b.NewInode(ctx, &commitsDir{b: b}, gofs.StableAttr{Mode: syscall.S_IFDIR}), 0
	}
	if !slices.Contains(fetch.ListRemotes(b.d.repo), name) {
		return nil, syscall.ENOENT
	}
	return b.NewInode(ctx, &refDir{b: b, remote: name}, gofs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

// remoteRefs lists a remote's refs from its summary, remembered for a
// minute; with the remote unreachable, the refs fetched before.
func (b *browseRoot) remoteRefs(ctx context.Context, remote string) map[string]object.Checksum {
	b.mu.Lock()
	e, ok := b.refs[remote]
	b.mu.Unlock()
	if ok && time.Since(e.at) < browseTTL {
		return e.refs
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	refs, err := fetch.RemoteRefs(ctx, b.d.repo, remote)
	if err != nil {
		b.d.opts.Logf("browse: remote %s: %v", remote, err)
		refs = map[string]object.Checksum{}
		if all, err := b.d.repo.Refs(); err == nil {
			for name, c := range all {
				if r, ok := strings.CutPrefix(name, remote+":"); ok {
					refs[r] = c
				}
			}
		}
	}
	b.mu.Lock()
	if b.refs == nil {
		b.refs = map[string]refsEntry{}
	}
	b.refs[remote] = refsEntry{refs: refs, at: time.Now()}
	b.mu.Unlock()
	return refs
}

// commitRoot makes the tree of a commit, fetched from remote ("" for the
// store alone).
func (b *browseRoot) commitRoot(ctx context.Context, parent *gofs.Inode, remote string, c object.Checksum, path string) (*gofs.Inode, syscall.Errno) {
	src, lazy, err := b.d.source(remote, b.timeout, false)
	if err != nil {
		b.d.opts.Logf("browse %s: %v", path, err)
		return nil, syscall.EIO
	}
	cm, err := b.d.repo.ReadCommit(c)
	if err != nil && lazy.f != nil { // fetched just now, maybe still staged
		var raw []byte
		if raw, err = lazy.f.ReadMeta(ctx, index.Ref{Checksum: c, Type: object.TypeCommit}); err == nil {
			cm, err = object.ParseCommit(raw)
		}
	}
	if err != nil {
		b.d.opts.Logf("browse %s: %v", path, err)
		return nil, syscall.EIO
	}
	r := fs.NewRoot(src, cm.RootTree, cm.RootMeta, b.d.treeOptions(path, nil, false))
	return parent.NewInode(ctx, r, gofs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

// refDir is a remote, or a prefix of its ref names ("os/x86_64/").
type refDir struct {
	gofs.Inode
	b      *browseRoot
	remote string
	prefix string
}

var (
	_ gofs.NodeLookuper  = (*refDir)(nil)
	_ gofs.NodeReaddirer = (*refDir)(nil)
	_ gofs.NodeGetattrer = (*refDir)(nil)
)

func (r *refDir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	dirAttr(&out.Attr)
	out.Mtime = listingTime()
	out.SetTimeout(browseTTL)
	return 0
}

func (r *refDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	seen := map[string]bool{}
	var ents []fuse.DirEntry
	for name := range r.b.remoteRefs(ctx, r.remote) {
		rest, ok := strings.CutPrefix(name, r.prefix)
		if !ok {
			continue
		}
		first, _, _ := strings.Cut(rest, "/")
		if first != "" && !seen[first] {
			seen[first] = true
			ents = append(ents, fuse.DirEntry{Name: first, Mode: syscall.S_IFDIR})
		}
	}
	slices.SortFunc(ents, func(a, b fuse.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	return gofs.NewListDirStream(ents), 0
}

func (r *refDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if object.ValidateName(name) != nil {
		return nil, syscall.ENOENT
	}
	out.SetEntryTimeout(browseTTL)
	out.SetAttrTimeout(browseTTL)
	dirAttr(&out.Attr)
	full := r.prefix + name
	refs := r.b.remoteRefs(ctx, r.remote)
	if _, ok := refs[full]; ok {
		// The commit is fetched, and its signature checked, as for a mount.
		rctx, cancel := context.WithTimeout(ctx, r.b.timeout)
		c, err := r.b.d.resolve(rctx, r.remote, full)
		cancel()
		if err != nil {
			r.b.d.opts.Logf("browse %s:%s: %v", r.remote, full, err)
			return nil, syscall.EIO
		}
		return r.b.commitRoot(ctx, r.EmbeddedInode(), r.remote, c, "/"+r.remote+"/"+full)
	}
	for ref := range refs {
		if strings.HasPrefix(ref, full+"/") {
			return r.NewInode(ctx, &refDir{b: r.b, remote: r.remote, prefix: full + "/"}, gofs.StableAttr{Mode: syscall.S_IFDIR}), 0
		}
	}
	return nil, syscall.ENOENT
}

// commitsDir holds commits by checksum: one in the store, else fetched
// from the first remote that has it.
type commitsDir struct {
	gofs.Inode
	b *browseRoot
}

var (
	_ gofs.NodeLookuper  = (*commitsDir)(nil)
	_ gofs.NodeGetattrer = (*commitsDir)(nil)
)

func (c *commitsDir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	dirAttr(&out.Attr)
	return 0
}

func (c *commitsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	sum, err := object.ParseChecksum(name)
	if err != nil {
		return nil, syscall.ENOENT
	}
	dirAttr(&out.Attr)
	if has, _ := c.b.d.repo.HasObject(sum, object.TypeCommit); has {
		return c.b.commitRoot(ctx, c.EmbeddedInode(), c.b.firstRemote(), sum, "/commits/"+name)
	}
	// A commit is named by its checksum, so whichever remote serves it
	// serves the right one.
	for _, remote := range fetch.ListRemotes(c.b.d.repo) {
		f, err := c.b.d.fetcher(remote)
		if err != nil {
			continue
		}
		// Marked partial first, as a pull does: its tree comes later.
		if err := c.b.d.repo.SetPartial(sum); err != nil {
			return nil, syscall.EIO
		}
		fctx, cancel := context.WithTimeout(ctx, c.b.timeout)
		err = f.Fetch(fctx, index.Ref{Checksum: sum, Type: object.TypeCommit})
		cancel()
		if err == nil {
			return c.b.commitRoot(ctx, c.EmbeddedInode(), remote, sum, "/commits/"+name)
		}
	}
	return nil, syscall.ENOENT
}

// firstRemote is where a local commit's missing objects are fetched from.
func (b *browseRoot) firstRemote() string {
	if rs := fetch.ListRemotes(b.d.repo); len(rs) > 0 {
		return rs[0]
	}
	return ""
}
