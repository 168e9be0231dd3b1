package fs

import (
	"context"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"arbor/store/object"
)

// dir is a directory of the commit: a dirtree and a dirmeta, both loaded
// on first use and dropped when the kernel forgets the node.
type dir struct {
	gofs.Inode
	t                *tree
	treeSum, metaSum object.Checksum
	path             string // relative to the mount, "" for the root
	// salt makes directory inode numbers differ between mounts, and
	// between the trees a moved root has shown (see Root.Move).
	salt [8]byte

	mu    sync.Mutex
	gen   uint64 // counts the root's moves; a listing of another is stale
	dt    *object.DirTree
	meta  *object.DirMeta
	infos []FileInfo // of dt.Files, once a listing described them (Mode 0: not described)
}

var (
	_ gofs.NodeLookuper       = (*dir)(nil)
	_ gofs.NodeOpendirHandler = (*dir)(nil)
	_ gofs.NodeGetattrer      = (*dir)(nil)
	_ gofs.NodeGetxattrer     = (*dir)(nil)
	_ gofs.NodeListxattrer    = (*dir)(nil)
	_ gofs.NodeStatfser       = (*dir)(nil)
	_ gofs.NodeOnForgetter    = (*dir)(nil)
)

func (d *dir) display() string {
	if d.path == "" {
		return "/"
	}
	return "/" + d.path
}

func (d *dir) child(name string) string {
	if d.path == "" {
		return name
	}
	return d.path + "/" + name
}

func (d *dir) load(ctx context.Context) (*object.DirTree, *object.DirMeta, error) {
	dt, meta, _, err := d.loadSalted(ctx)
	return dt, meta, err
}

// loadSalted is load, with the salt of the tree loaded: a root that moved
// meanwhile numbers its new tree's directories apart.
func (d *dir) loadSalted(ctx context.Context) (*object.DirTree, *object.DirMeta, [8]byte, error) {
	d.mu.Lock()
	dt, meta := d.dt, d.meta
	treeSum, metaSum, gen, salt := d.treeSum, d.metaSum, d.gen, d.salt
	d.mu.Unlock()
	if dt != nil && meta != nil {
		return dt, meta, salt, nil
	}
	// Both at once: on a lazy source each may be a round trip.
	var wg sync.WaitGroup
	var terr, merr error
	if dt == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dt, terr = d.t.src.DirTree(ctx, treeSum)
		}()
	}
	if meta == nil {
		meta, merr = d.t.src.DirMeta(ctx, metaSum)
	}
	wg.Wait()
	if terr != nil {
		return nil, nil, salt, terr
	}
	if merr != nil {
		return nil, nil, salt, merr
	}
	d.mu.Lock()
	if d.gen == gen { // not moved meanwhile
		d.dt, d.meta = dt, meta
	}
	d.mu.Unlock()
	return dt, meta, salt, nil
}

func (d *dir) OnForget() {
	d.mu.Lock()
	d.dt, d.meta, d.infos = nil, nil, nil
	d.mu.Unlock()
}

// dirIno numbers a directory by its path in this mount, so readdir and
// stat agree without loading every subdirectory.
func dirIno(salt [8]byte, rel string) uint64 {
	h := fnv.New64a()
	h.Write(salt[:])
	h.Write([]byte(rel))
	return h.Sum64() | 1<<63
}

func fillDir(a *fuse.Attr, dt *object.DirTree, m *object.DirMeta) {
	a.Mode = object.ModeDir | m.Mode&object.ModePerm
	a.Uid, a.Gid = m.UID, m.GID
	a.Nlink = uint32(2 + len(dt.Dirs))
	a.Size = 4096
	a.Blocks = 8
	a.Blksize = 4096
	setTimes(a)
}

func fillFile(a *fuse.Attr, c object.Checksum, fi *FileInfo) {
	a.Ino = fileIno(c)
	a.Mode = fi.Mode
	a.Uid, a.Gid = fi.UID, fi.GID
	a.Nlink = 1
	a.Size = fi.Size
	if fi.IsSymlink() {
		a.Size = uint64(len(fi.Target))
	}
	a.Blocks = (a.Size + 511) / 512
	a.Blksize = 4096
	setTimes(a)
}

func (d *dir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	dt, m, err := d.load(ctx)
	if err != nil {
		return d.t.toErrno(d.display(), err)
	}
	fillDir(&out.Attr, dt, m)
	out.Ino = d.StableAttr().Ino
	return 0
}

func findFile(dt *object.DirTree, name string) (int, bool) {
	i := sort.Search(len(dt.Files), func(i int) bool { return dt.Files[i].Name >= name })
	return i, i < len(dt.Files) && dt.Files[i].Name == name
}

// fileInfo describes file i of the directory, from the last listing when
// there was one (READDIRPLUS looks up every entry right after listing).
func (d *dir) fileInfo(ctx context.Context, dt *object.DirTree, i int) (FileInfo, error) {
	d.mu.Lock()
	infos := d.infos
	same := d.dt == dt
	d.mu.Unlock()
	if same && i < len(infos) && infos[i].Mode != 0 {
		return infos[i], nil
	}
	return d.t.src.File(ctx, dt.Files[i].Checksum)
}

func findDir(dt *object.DirTree, name string) (object.DirEntry, bool) {
	i := sort.Search(len(dt.Dirs), func(i int) bool { return dt.Dirs[i].Name >= name })
	if i < len(dt.Dirs) && dt.Dirs[i].Name == name {
		return dt.Dirs[i], true
	}
	return object.DirEntry{}, false
}

// loaded is the directory's tree if it is loaded, without waiting.
func (d *dir) loaded() *object.DirTree {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dt
}

// Lookup answers the kernel's LOOKUP: a program asks for the entry.
func (d *dir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	// Beside this lookup, not after it: on a source without an index
	// the lookup is itself a round trip (python.go).
	if strings.HasSuffix(name, ".py") {
		d.t.prefetchBytecode(d.loaded(), name)
	}
	return d.lookup(ctx, name, out)
}

// lookup makes the node of an entry, for a LOOKUP or a READDIRPLUS.
func (d *dir) lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if object.ValidateName(name) != nil {
		return nil, syscall.ENOENT
	}
	dt, _, salt, err := d.loadSalted(ctx)
	if err != nil {
		return nil, d.t.toErrno(d.display(), err)
	}
	if i, ok := findFile(dt, name); ok {
		c := dt.Files[i].Checksum
		rel := d.child(name)
		fi, err := d.fileInfo(ctx, dt, i)
		if err != nil {
			return nil, d.t.toErrno("/"+rel, err)
		}
		fillFile(&out.Attr, c, &fi)
		n := &file{t: d.t, sum: c, info: fi, path: rel}
		return d.NewInode(ctx, n, gofs.StableAttr{Mode: fi.Mode & object.ModeTypeMask, Ino: out.Attr.Ino}), 0
	}
	if e, ok := findDir(dt, name); ok {
		rel := d.child(name)
		n := &dir{t: d.t, treeSum: e.Tree, metaSum: e.Meta, path: rel, salt: salt}
		cdt, cm, err := n.load(ctx)
		if err != nil {
			return nil, d.t.toErrno("/"+rel, err)
		}
		fillDir(&out.Attr, cdt, cm)
		out.Attr.Ino = dirIno(n.salt, rel)
		return d.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: out.Attr.Ino}), 0
	}
	return nil, syscall.ENOENT
}

// OpendirHandle answers at once: the kernel keeps a listing it has read
// (FOPEN_CACHE_DIR), since it can never change, so the entries are only
// built when it asks for them.
func (d *dir) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &dirHandle{d: d}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// dirHandle is one open directory.
type dirHandle struct {
	d    *dir
	ents []fuse.DirEntry
	idx  int
	done bool
	gen  uint64 // the directory's generation the entries are of
}

var (
	_ gofs.FileReaddirenter = (*dirHandle)(nil)
	_ gofs.FileSeekdirer    = (*dirHandle)(nil)
	_ gofs.FileLookuper     = (*dirHandle)(nil)
)

// errNotHere declines to describe an entry in a READDIRPLUS answer: it
// goes out without attributes (node id 0), and the kernel looks it up if
// a program asks.
const errNotHere = syscall.EAGAIN

// Lookup describes an entry of a READDIRPLUS answer where that costs no
// round trip; a listing from a lazy source waits on nothing but its
// dirtree, and only the entries a program stats are fetched.
func (h *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if ls, ok := h.d.t.src.(LocalSource); ok && !h.d.local(ls, name) {
		return nil, errNotHere
	}
	return h.d.lookup(ctx, name, out) // no program asked for it yet
}

// local says whether an entry's lookup would answer without waiting.
func (d *dir) local(ls LocalSource, name string) bool {
	d.mu.Lock()
	dt, infos := d.dt, d.infos
	d.mu.Unlock()
	if dt == nil {
		return false
	}
	if i, ok := findFile(dt, name); ok {
		// What the listing just described needs no second look.
		if i < len(infos) && infos[i].Mode != 0 {
			return true
		}
		_, ok := ls.FileLocal(dt.Files[i].Checksum)
		return ok
	}
	if e, ok := findDir(dt, name); ok {
		return ls.DirLocal(e.Tree, e.Meta)
	}
	return false
}

func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	h.d.mu.Lock()
	gen := h.d.gen
	h.d.mu.Unlock()
	if !h.done || h.gen != gen {
		// A root that moved lists its new tree (the handle outlives the
		// move: noOpendir keeps one per directory).
		ents, errno := h.d.entries(ctx)
		if errno != 0 {
			return nil, errno
		}
		h.ents, h.done, h.gen = ents, true, gen
	}
	if h.idx >= len(h.ents) {
		return nil, 0
	}
	e := h.ents[h.idx]
	h.idx++
	e.Off = uint64(h.idx)
	return &e, 0
}

func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	h.idx = int(off)
	return 0
}

// entries lists the directory with each entry's type, which for files
// needs their headers: a lazy source gives those it has, and the others
// are listed as of unknown type (DT_UNKNOWN), which programs stat.
func (d *dir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	dt, _, salt, err := d.loadSalted(ctx)
	if err != nil {
		return nil, d.t.toErrno(d.display(), err)
	}
	infos, err := d.t.listed(ctx, dt)
	if err != nil {
		return nil, d.t.toErrno(d.display(), err)
	}
	d.mu.Lock()
	if d.dt == dt {
		d.infos = infos
	}
	d.mu.Unlock()
	ents := make([]fuse.DirEntry, 0, len(dt.Files)+len(dt.Dirs)+2)
	ents = append(ents,
		fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Ino: d.StableAttr().Ino},
		fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR, Ino: 1})
	for _, e := range dt.Dirs {
		ents = append(ents, fuse.DirEntry{Name: e.Name, Mode: syscall.S_IFDIR, Ino: dirIno(salt, d.child(e.Name))})
	}
	for i, f := range dt.Files {
		ents = append(ents, fuse.DirEntry{Name: f.Name, Mode: infos[i].Mode & object.ModeTypeMask, Ino: fileIno(f.Checksum)})
	}
	return ents, 0
}

// listed describes the files of a directory a listing can: all of them,
// or those a LocalSource has at hand (the others' Mode left 0).
func (t *tree) listed(ctx context.Context, dt *object.DirTree) ([]FileInfo, error) {
	ls, ok := t.src.(LocalSource)
	if !ok {
		return t.files(ctx, dt)
	}
	infos := make([]FileInfo, len(dt.Files))
	settled := false
	for i, f := range dt.Files {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ok bool
		if infos[i], ok = ls.FileLocal(f.Checksum); ok || settled {
			continue
		}
		settled = true
		if err := ls.Settle(ctx); err != nil {
			return nil, err
		}
		infos[i], _ = ls.FileLocal(f.Checksum)
	}
	return infos, nil
}

// files describes every file of a directory.
func (t *tree) files(ctx context.Context, dt *object.DirTree) ([]FileInfo, error) {
	infos := make([]FileInfo, len(dt.Files))
	for i, f := range dt.Files {
		fi, err := t.src.File(ctx, f.Checksum)
		if err != nil {
			return nil, err
		}
		infos[i] = fi
	}
	return infos, nil
}

func (d *dir) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	_, m, err := d.load(ctx)
	if err != nil {
		return 0, d.t.toErrno(d.display(), err)
	}
	return getxattr(m.Xattrs, attr, dest)
}

func (d *dir) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	_, m, err := d.load(ctx)
	if err != nil {
		return 0, d.t.toErrno(d.display(), err)
	}
	return listxattr(m.Xattrs, dest)
}

func (d *dir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	if d.t.opts.Statfs != nil {
		d.t.opts.Statfs(out)
	}
	out.NameLen = 255
	return 0
}

func getxattr(xs []object.Xattr, name string, dest []byte) (uint32, syscall.Errno) {
	for _, x := range xs {
		if x.Name == name {
			if len(dest) < len(x.Value) {
				return uint32(len(x.Value)), syscall.ERANGE
			}
			return uint32(copy(dest, x.Value)), 0
		}
	}
	return 0, syscall.ENODATA
}

func listxattr(xs []object.Xattr, dest []byte) (uint32, syscall.Errno) {
	n := 0
	for _, x := range xs {
		n += len(x.Name) + 1
	}
	if len(dest) < n {
		return uint32(n), syscall.ERANGE
	}
	off := 0
	for _, x := range xs {
		off += copy(dest[off:], x.Name)
		dest[off] = 0
		off++
	}
	return uint32(n), 0
}
