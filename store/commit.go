package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"arbor/store/index"
	"arbor/store/object"
	"arbor/store/refs"
)

// CommitOptions are the settings of a commit, spelled after ostree's flags.
type CommitOptions struct {
	Branch    string // ref to update; empty for none
	Subject   string
	Body      string
	Timestamp time.Time // zero: now
	// OwnerUID and OwnerGID override file ownership when >= 0.
	OwnerUID, OwnerGID int
	NoXattrs           bool
	// Parent is the parent commit; when ParentSet is false the branch's
	// current commit is the parent, unless Orphan.
	Parent    object.Checksum
	ParentSet bool
	Orphan    bool
	Metadata  []object.MetaEntry
	// NoBindings leaves out ostree.ref-binding and
	// ostree.collection-binding.
	NoBindings bool
	// BindRefs are refs the commit is bound to besides Branch.
	BindRefs []string
	// CanonicalModes keeps only the 0755 bits of modes, as flatpak's
	// exports do (ostree's canonical permissions).
	CanonicalModes bool
	// ModeRoExecutables removes the write bits of files executable by
	// their owner, as ostree's --mode-ro-executables.
	ModeRoExecutables bool
	// SizedMetadata, when set, adds metadata entries that depend on the
	// committed tree's size: stored is the bytes of every object it
	// reaches as stored in this repository (compressed in archive mode).
	SizedMetadata func(stored int64) []object.MetaEntry
	// Root, when set, is the commit's top level: each entry's name in the
	// commit mapped to its name in the directory (missing ones are left
	// out). flatpak's build-export commits metadata, files and export of
	// a build directory that holds more.
	Root map[string]string
	// Bootable marks an OS commit as ostree's --bootable does: it
	// records the kernel version found at usr/lib/modules/VERSION/vmlinuz
	// (exactly one, or the commit fails) as ostree.linux, and
	// ostree.bootable.
	Bootable bool
	// SkipIfUnchanged writes nothing when the tree is the parent's: the
	// parent is returned, and CommitStats.Skipped says so.
	SkipIfUnchanged bool
	// Consume removes each directory committed once the commit is
	// durable, as ostree's --consume.
	Consume bool
	// Progress, when set, is called from time to time with files and
	// bytes read so far.
	Progress func(files, bytes int64)
	// ModeAdd holds mode bits ORed into the entries at these paths of
	// the commit ("/usr/bin/x"), and Skip paths left out, as ostree's
	// --statoverride gives them.
	ModeAdd map[string]uint32
	Skip    map[string]bool
	// GenerateSizes lists the size of every object the commit reaches
	// in its metadata (SizesKey); it needs a commit of one directory.
	GenerateSizes bool
}

// CommitStats reports what a commit did.
type CommitStats struct {
	Files, Bytes int64 // read from the tree
	NewObjects   int
	NewBytes     int64 // written to the repo
	Skipped      bool  // SkipIfUnchanged found the parent's tree
}

// smallFile: files up to this size are read once into memory; larger ones
// are hashed first and only copied when the object is new.
const smallFile = 1 << 20

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

type committer struct {
	ctx  context.Context
	t    *Txn
	opts *CommitOptions
	sem  chan struct{}
	root string // the committed directory's path

	files, bytes atomic.Int64

	mu    sync.Mutex
	reach map[index.Ref]struct{}
	// unpacked is each file's content length, kept for GenerateSizes.
	unpacked map[object.Checksum]int64
	trees    map[object.Checksum]object.DirTree // written, kept for overlays and --bootable
	// own are the repository's staging and index directories: a tree
	// that holds the repository it is committed to (ostree's commit of
	// the current directory, run in the repository's parent) leaves them
	// out, as they change under the walk.
	own  map[devIno]bool
	bufs sync.Pool // *[]byte of smallFile bytes
}

// CommitDir commits the tree at dir and returns the new commit's checksum.
// Walking, hashing, compressing and writing run in parallel; objects already
// in the repo are not written again.
func (r *Repo) CommitDir(ctx context.Context, dir string, opts CommitOptions) (object.Checksum, CommitStats, error) {
	return r.CommitTrees(ctx, []TreeSource{{Dir: dir}}, opts)
}

// CommitTrees commits sources overlaid in order (see TreeSource).
func (r *Repo) CommitTrees(ctx context.Context, sources []TreeSource, opts CommitOptions) (object.Checksum, CommitStats, error) {
	var stats CommitStats
	if len(sources) == 0 {
		return object.Zero, stats, errors.New("commit: no tree given")
	}
	if opts.Branch != "" {
		// A refspec: ostree commits to a remote's ref too (REMOTE:REF).
		if _, _, err := refs.Split(opts.Branch); err != nil {
			return object.Zero, stats, err
		}
	}
	if r.mode == ModeBareUserOnly {
		// As ostree: such repos only hold canonical permissions.
		opts.OwnerUID, opts.OwnerGID, opts.NoXattrs = 0, 0, true
	}
	parent := opts.Parent
	if !opts.ParentSet && !opts.Orphan && opts.Branch != "" {
		c, err := r.ReadRef(opts.Branch)
		switch {
		case err == nil:
			parent = c
		case !errors.Is(err, ErrRefNotFound):
			return object.Zero, stats, err
		}
	}
	t, err := r.Begin(ctx)
	if err != nil {
		return object.Zero, stats, err
	}
	defer t.Abort()

	workers := 2*runtime.GOMAXPROCS(0) + 2
	cm := &committer{ctx: ctx, t: t, opts: &opts, sem: make(chan struct{}, workers), reach: map[index.Ref]struct{}{}, own: r.ownDirs()}
	if opts.Progress != nil {
		stop := make(chan struct{})
		defer func() {
			close(stop)
			opts.Progress(cm.files.Load(), cm.bytes.Load())
		}()
		go progressLoop(stop, func() { opts.Progress(cm.files.Load(), cm.bytes.Load()) })
	}
	// Only a commit of one directory (or archive) knows every object it
	// reaches.
	exactReach := len(sources) == 1 && (sources[0].Dir != "" || sources[0].Tar != "")
	if opts.GenerateSizes {
		if !exactReach {
			return object.Zero, stats, errors.New("commit --generate-sizes: needs a single directory to commit")
		}
		cm.unpacked = map[object.Checksum]int64{}
	}
	if !exactReach || opts.Bootable {
		cm.trees = map[object.Checksum]object.DirTree{}
	}
	var tree, meta object.Checksum
	for i, src := range sources {
		t, m, err := cm.source(src)
		if err != nil {
			return object.Zero, stats, err
		}
		if i > 0 {
			if t, err = cm.overlay("/", tree, t); err != nil {
				return object.Zero, stats, fmt.Errorf("commit --tree=%s: %w", src, err)
			}
		}
		tree, meta = t, m
	}

	if opts.SkipIfUnchanged && !parent.IsZero() {
		pc, err := r.ReadCommit(parent)
		if err != nil {
			return object.Zero, stats, fmt.Errorf("commit --skip-if-unchanged: parent: %w", err)
		}
		if pc.RootTree == tree && pc.RootMeta == meta {
			stats.Skipped = true
			return parent, stats, nil // the deferred Abort drops what was staged
		}
	}
	ts := opts.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	md := append([]object.MetaEntry(nil), opts.Metadata...)
	if opts.SizedMetadata != nil {
		stored, err := cm.storedSize()
		if err != nil {
			return object.Zero, stats, err
		}
		md = append(md, opts.SizedMetadata(stored)...)
	}
	if opts.GenerateSizes {
		sizes, err := cm.objectSizes()
		if err != nil {
			return object.Zero, stats, fmt.Errorf("commit --generate-sizes: %w", err)
		}
		md = append(md, SizesEntry(sizes))
	}
	if !opts.NoBindings {
		// As ostree 2022.7: an orphan commit gets an empty binding list.
		var bound []string
		if opts.Branch != "" {
			bound = []string{opts.Branch}
		}
		bound = append(bound, opts.BindRefs...)
		sort.Strings(bound)
		md = append(md, object.Strings("ostree.ref-binding", bound))
		// As ostree: the repository's collection, unless the metadata
		// given names one.
		if id := r.Config().String("core", "collection-id", ""); id != "" && !slices.ContainsFunc(md, func(e object.MetaEntry) bool {
			return e.Key == "ostree.collection-binding"
		}) {
			md = append(md, object.String("ostree.collection-binding", id))
		}
	}
	if opts.Bootable {
		kver, err := cm.kernelVersion(tree)
		if err != nil {
			return object.Zero, stats, fmt.Errorf("commit --bootable: %w", err)
		}
		// ostree adds these through a GVariantDict, which reorders.
		md = object.DictOrder(append(md, object.Bool("ostree.bootable", true), object.String("ostree.linux", kver)))
	}
	c := object.Commit{Metadata: md, Parent: parent, Subject: opts.Subject, Body: opts.Body,
		Timestamp: uint64(ts.Unix()), RootTree: tree, RootMeta: meta}
	cb, err := c.Marshal()
	if err != nil {
		return object.Zero, stats, fmt.Errorf("commit: %w", err)
	}
	sum, err := t.WriteMeta(object.TypeCommit, cb)
	if err != nil {
		return object.Zero, stats, err
	}
	cm.reach[index.Ref{Checksum: sum, Type: object.TypeCommit}] = struct{}{}
	stats.Files, stats.Bytes = cm.files.Load(), cm.bytes.Load()
	stats.NewObjects = len(t.staged)
	for _, e := range t.staged {
		stats.NewBytes += e.Size
	}
	if err := t.Commit(); err != nil {
		return object.Zero, stats, err
	}
	refs := make([]index.Ref, 0, len(cm.reach))
	for ref := range cm.reach {
		refs = append(refs, ref)
	}
	if exactReach {
		if err := t.idx.SetReach(sum, refs); err != nil {
			return object.Zero, stats, fmt.Errorf("index: %w", err)
		}
	}
	if opts.Branch != "" {
		if err := r.SetRef(opts.Branch, sum); err != nil {
			return object.Zero, stats, err
		}
	}
	if opts.Consume {
		for _, src := range sources {
			if src.Dir == "" {
				continue
			}
			if err := os.RemoveAll(src.Dir); err != nil {
				return sum, stats, fmt.Errorf("commit --consume: the commit is made, but %w", err)
			}
		}
	}
	return sum, stats, nil
}

type devIno struct{ dev, ino uint64 }

// errOwnFiles marks a directory of the repository's own workings.
var errOwnFiles = errors.New("the repository's own staging or index")

// ownDirs finds the repository's directories a commit leaves out.
func (r *Repo) ownDirs() map[devIno]bool {
	own := map[devIno]bool{}
	for _, p := range []string{filepath.Join(r.path, "tmp"), r.IndexDir()} {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			own[devIno{uint64(st.Dev), uint64(st.Ino)}] = true
		}
	}
	return own
}

// storedSize sums the stored sizes of the objects the tree reaches: new
// ones from this transaction, the others from the index.
func (cm *committer) storedSize() (int64, error) {
	staged := cm.stagedSizes()
	cm.mu.Lock()
	defer cm.mu.Unlock()
	var total int64
	for ref := range cm.reach {
		if n, ok := staged[ref]; ok {
			total += n
			continue
		}
		n, ok, err := cm.t.idx.Size(ref)
		if err != nil {
			return 0, err
		}
		if ok {
			total += n
		}
	}
	return total, nil
}

// stagedSizes are the stored sizes of the objects this transaction wrote.
func (cm *committer) stagedSizes() map[index.Ref]int64 {
	cm.t.mu.Lock()
	defer cm.t.mu.Unlock()
	staged := make(map[index.Ref]int64, len(cm.t.staged))
	for _, e := range cm.t.staged {
		staged[e.Ref] = e.Size
	}
	return staged
}

// objectSizes lists the reached objects' stored and unpacked sizes.
func (cm *committer) objectSizes() ([]ObjectSize, error) {
	staged := cm.stagedSizes()
	cm.mu.Lock()
	defer cm.mu.Unlock()
	out := make([]ObjectSize, 0, len(cm.reach))
	for ref := range cm.reach {
		n, ok := staged[ref]
		if !ok {
			var err error
			if n, ok, err = cm.t.idx.Size(ref); err != nil {
				return nil, err
			}
		}
		if !ok {
			return nil, fmt.Errorf("object %s: stored size unknown", ref.Checksum)
		}
		unpacked := n // metadata is stored as it is
		if ref.Type == object.TypeFile {
			if unpacked, ok = cm.unpacked[ref.Checksum]; !ok {
				return nil, fmt.Errorf("object %s: content size unknown", ref.Checksum)
			}
		}
		out = append(out, ObjectSize{Checksum: ref.Checksum, Type: ref.Type, Stored: uint64(n), Unpacked: uint64(unpacked)})
	}
	return out, nil
}

// addFile is addReach for a file of that content length.
func (cm *committer) addFile(c object.Checksum, size int64) {
	cm.mu.Lock()
	cm.reach[index.Ref{Checksum: c, Type: object.TypeFile}] = struct{}{}
	if cm.unpacked != nil {
		cm.unpacked[c] = size
	}
	cm.mu.Unlock()
}

func (cm *committer) addReach(ref index.Ref) {
	cm.mu.Lock()
	cm.reach[ref] = struct{}{}
	cm.mu.Unlock()
}

func (cm *committer) owner(uid, gid uint32) (uint32, uint32) {
	if cm.opts.OwnerUID >= 0 {
		uid = uint32(cm.opts.OwnerUID)
	}
	if cm.opts.OwnerGID >= 0 {
		gid = uint32(cm.opts.OwnerGID)
	}
	return uid, gid
}

// withAdded is mode with the bits ModeAdd gives the entry at cpath.
func (cm *committer) withAdded(cpath string, mode uint32) uint32 {
	return mode | cm.opts.ModeAdd[cpath]
}

func (cm *committer) canonical(mode uint32) uint32 {
	if (cm.t.r.mode == ModeBareUserOnly || cm.opts.CanonicalModes) && mode&object.ModeTypeMask != object.ModeSymlink {
		return mode & (object.ModeTypeMask | 0o755)
	}
	return mode
}

// dir commits one directory and returns its dirtree and dirmeta checksums.
// Subdirectories and files are handled concurrently; the semaphore bounds
// only file I/O, so directories waiting on children never starve it.
// entry is a directory entry to commit: its name in the commit, its name
// on disk, and its type (ModeIrregular when unknown).
type entry struct {
	name, src string
	typ       fs.FileMode
}

// entries lists what to commit of directory d: everything, or at the top
// with opts.Root, the mapped names that exist.
func (cm *committer) entries(d *os.File, path string) ([]entry, error) {
	if path == cm.root && cm.opts.Root != nil {
		var out []entry
		for name, src := range cm.opts.Root {
			if err := object.ValidateName(src); err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(path, src), err)
			}
			var st unix.Stat_t
			if err := unix.Fstatat(int(d.Fd()), src, &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
				continue
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(path, src), err)
			}
			out = append(out, entry{name: name, src: src, typ: modeType(st.Mode)})
		}
		return out, nil
	}
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("reading directory %s: %w", path, err)
	}
	out := make([]entry, len(ents))
	for i, e := range ents {
		out[i] = entry{name: e.Name(), src: e.Name(), typ: e.Type()}
	}
	return out, nil
}

func (cm *committer) dir(d *os.File, path, cpath string) (object.Checksum, object.Checksum, error) {
	if err := cm.ctx.Err(); err != nil {
		return object.Zero, object.Zero, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(d.Fd()), &st); err != nil {
		return object.Zero, object.Zero, fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return object.Zero, object.Zero, fmt.Errorf("%s: not a directory", path)
	}
	if cm.own[devIno{uint64(st.Dev), uint64(st.Ino)}] && path != cm.root {
		return object.Zero, object.Zero, errOwnFiles
	}
	dm := object.DirMeta{Mode: cm.canonical(cm.withAdded(cpath, st.Mode))}
	dm.UID, dm.GID = cm.owner(st.Uid, st.Gid)
	if !cm.opts.NoXattrs {
		xs, err := fdXattrs(int(d.Fd()))
		if err != nil {
			return object.Zero, object.Zero, fmt.Errorf("%s: %w", path, err)
		}
		dm.Xattrs = xs
	}
	ents, err := cm.entries(d, path)
	if err != nil {
		return object.Zero, object.Zero, err
	}

	var tree object.DirTree
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	failed := atomic.Bool{}
	fail := func(err error) { errOnce.Do(func() { firstErr = err; failed.Store(true) }) }
	var mu sync.Mutex
	dfd := int(d.Fd())
	for _, ent := range ents {
		if failed.Load() {
			break
		}
		name, src := ent.name, ent.src
		p := filepath.Join(path, src)
		cp := strings.TrimSuffix(cpath, "/") + "/" + name
		if cm.opts.Skip[cp] {
			continue
		}
		if err := object.ValidateName(name); err != nil {
			fail(fmt.Errorf("%s: %w", p, err))
			break
		}
		// The type comes from getdents; only unknown types cost a stat.
		typ := ent.typ & fs.ModeType
		if ent.typ&fs.ModeIrregular != 0 {
			var est unix.Stat_t
			if err := unix.Fstatat(dfd, src, &est, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				fail(fmt.Errorf("%s: %w", p, err))
				break
			}
			typ = modeType(est.Mode)
		}
		switch {
		case typ == fs.ModeDir:
			fd, err := unix.Openat(dfd, src, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				fail(fmt.Errorf("opening directory %s: %w", p, err))
				break
			}
			sub := os.NewFile(uintptr(fd), p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer sub.Close()
				tc, mc, err := cm.dir(sub, p, cp)
				if errors.Is(err, errOwnFiles) {
					return
				}
				if err != nil {
					fail(err)
					return
				}
				mu.Lock()
				tree.Dirs = append(tree.Dirs, object.DirEntry{Name: name, Tree: tc, Meta: mc})
				mu.Unlock()
			}()
		case typ == 0 || typ == fs.ModeSymlink:
			cm.sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-cm.sem }()
				c, err := cm.file(dfd, src, p, cp, typ == fs.ModeSymlink)
				if err != nil {
					fail(err)
					return
				}
				mu.Lock()
				tree.Files = append(tree.Files, object.FileEntry{Name: name, Checksum: c})
				mu.Unlock()
			}()
		default:
			fail(unsupported(p, typ))
		}
	}
	wg.Wait()
	if firstErr != nil {
		return object.Zero, object.Zero, firstErr
	}
	tc, err := cm.writeTree(tree)
	if err != nil {
		return object.Zero, object.Zero, err
	}
	mc, err := cm.t.WriteMeta(object.TypeDirMeta, dm.Marshal())
	if err != nil {
		return object.Zero, object.Zero, err
	}
	cm.addReach(index.Ref{Checksum: tc, Type: object.TypeDirTree})
	cm.addReach(index.Ref{Checksum: mc, Type: object.TypeDirMeta})
	return tc, mc, nil
}

// modeType converts a stat mode to the fs.FileMode type bits ReadDir uses.
func modeType(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	}
	return fs.ModeDevice
}

// unsupported is ostree's refusal of special files, naming the path.
func unsupported(path string, typ fs.FileMode) error {
	kind := "device"
	switch {
	case typ&fs.ModeNamedPipe != 0:
		kind = "fifo"
	case typ&fs.ModeSocket != 0:
		kind = "socket"
	case typ&fs.ModeCharDevice != 0:
		kind = "character device"
	}
	return fmt.Errorf("%s: not a regular file or symlink (a %s): only files, symlinks and directories can be committed", path, kind)
}

// file commits one regular file or symlink.
func (cm *committer) file(dfd int, name, path, cpath string, symlink bool) (object.Checksum, error) {
	cm.files.Add(1)
	if symlink {
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return object.Zero, fmt.Errorf("%s: %w", path, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return object.Zero, fmt.Errorf("%s: changed type while being committed", path)
		}
		h := object.FileHeader{Mode: cm.canonical(st.Mode)}
		h.UID, h.GID = cm.owner(st.Uid, st.Gid)
		buf := make([]byte, 4096)
		n, err := unix.Readlinkat(dfd, name, buf)
		if err != nil {
			return object.Zero, fmt.Errorf("reading symlink %s: %w", path, err)
		}
		h.Target = string(buf[:n])
		if h.Target == "" {
			return object.Zero, fmt.Errorf("%s: symlink with an empty target", path)
		}
		if !cm.opts.NoXattrs {
			xs, err := pathXattrs(path, false)
			if err != nil {
				return object.Zero, fmt.Errorf("%s: %w", path, err)
			}
			h.Xattrs = xs
		}
		c := object.ContentChecksum(&h, nil)
		cm.addFile(c, int64(len(h.Target)))
		return c, cm.t.writeContent(c, &h, contentSource{})
	}

	// O_NONBLOCK: should the entry have become a fifo, opening it must not hang.
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOATIME
	fd, err := unix.Openat(dfd, name, flags, 0)
	if errors.Is(err, unix.EPERM) { // O_NOATIME needs ownership
		fd, err = unix.Openat(dfd, name, flags&^unix.O_NOATIME, 0)
	}
	if err != nil {
		return object.Zero, fmt.Errorf("opening %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return object.Zero, fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return object.Zero, unsupported(path, modeType(st.Mode))
	}
	h := object.FileHeader{Mode: cm.fileMode(cm.withAdded(cpath, st.Mode))}
	h.UID, h.GID = cm.owner(st.Uid, st.Gid)
	if !cm.opts.NoXattrs {
		xs, err := fdXattrs(fd)
		if err != nil {
			return object.Zero, fmt.Errorf("%s: %w", path, err)
		}
		h.Xattrs = xs
	}
	size := st.Size
	src := contentSource{fd: fd, size: size}
	var c object.Checksum
	if size <= smallFile {
		bp, _ := cm.bufs.Get().(*[]byte)
		if bp == nil {
			b := make([]byte, smallFile)
			bp = &b
		}
		defer cm.bufs.Put(bp)
		buf := (*bp)[:size]
		n, err := io.ReadFull(io.NewSectionReader(fdReaderAt(fd), 0, size), buf)
		if err != nil {
			return object.Zero, fmt.Errorf("reading %s: %w", path, err)
		}
		src.data = buf[:n]
		c = object.ContentChecksum(&h, src.data)
	} else {
		hs := object.NewContentHash(&h)
		n, err := io.Copy(hs, io.NewSectionReader(fdReaderAt(fd), 0, size))
		if err != nil {
			return object.Zero, fmt.Errorf("reading %s: %w", path, err)
		}
		if n != size {
			return object.Zero, fmt.Errorf("%s changed size while being committed", path)
		}
		c = object.SumHash(hs)
	}
	cm.bytes.Add(size)
	cm.addFile(c, size)
	if cm.opts.Consume && cm.adoptable(&st, &h) {
		adopted, err := cm.t.adoptFile(c, dfd, name, &st)
		if err != nil {
			return object.Zero, fmt.Errorf("%s: %w", path, err)
		}
		if adopted {
			return c, nil
		}
	}
	if err := cm.t.writeContent(c, &h, src); err != nil {
		return object.Zero, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
