// Package fs serves one commit as a read-only FUSE tree. It reads objects
// only through a Source, so the same tree works over the local store and
// over a store that fetches objects the first time they are needed.
package fs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"arbor/store/object"
)

// Source gives the objects of a tree. Whatever it returns is bound to the
// commit: checked against its checksum, or a file's header from a tree
// index whose signature verified. Only a source over a remote that does
// not verify signatures may answer File with a header the server claims,
// which is checked when the content arrives; a mount that honours setuid
// bits is given no such source.
type Source interface {
	DirTree(ctx context.Context, c object.Checksum) (*object.DirTree, error)
	DirMeta(ctx context.Context, c object.Checksum) (*object.DirMeta, error)
	// File describes a content object: its header and size.
	File(ctx context.Context, c object.Checksum) (FileInfo, error)
	// Open gives a regular file's bytes.
	Open(ctx context.Context, c object.Checksum) (Data, error)
}

// LocalSource is a Source that can tell what it answers without waiting
// (the store, a tree index, what a probe brought), so that a listing
// describes those entries and leaves the others to a lookup, which only
// the entries a program stats will cost. A Source without it answers
// everything at once.
type LocalSource interface {
	FileLocal(c object.Checksum) (FileInfo, bool)
	DirLocal(tree, meta object.Checksum) bool
	// Settle waits for what is on its way and answers many entries at
	// once (a tree index being loaded): a listing asks before it lists
	// entries as unknown, which would cost a lookup each.
	Settle(ctx context.Context) error
}

// Prefetcher is a Source that can fetch in the background what it
// expects to be read soon.
type Prefetcher interface {
	// Background runs work apart from any request, bounded by the
	// source's life.
	Background(work func(ctx context.Context))
	// FetchFile fetches a file whole, unless it is stored.
	FetchFile(ctx context.Context, c object.Checksum) error
}

// FileInfo is what a stat of a content object needs.
type FileInfo struct {
	object.FileHeader
	Size uint64
}

// Data is an open regular file's content.
type Data interface {
	io.ReaderAt
	Close() error
}

// ReadObserver hears about the first read of each file of a mount, for
// prefetch profiles.
type ReadObserver func(path string, c object.Checksum)

// cacheTimeout is how long the kernel may keep entries and attributes:
// a commit never changes.
const cacheTimeout = time.Hour

// Options tune a tree.
type Options struct {
	// OnRead, when set, is told of each file's first read.
	OnRead ReadObserver
	// Passthrough lets the kernel read large files straight from the
	// store's files (Linux 6.9+, and only for a privileged server): one
	// page cache copy for every mount and checkout of a file. It costs an
	// OPEN round trip per open, which the default no-open mode avoids; a
	// tar of many small files measured 4x slower with it.
	Passthrough bool
	// OnError, when set, is told why an operation failed with EIO.
	OnError func(path string, err error)
	// Statfs, when set, fills in statfs answers (the store's filesystem).
	Statfs func(out *fuse.StatfsOut)
}

// tree is what every node of one mount shares.
type tree struct {
	src    Source
	opts   Options
	reads  atomic.Int64 // bytes served, for the control API
	errors atomic.Int64
}

// Stats are counters of a mounted tree.
type Stats struct {
	BytesRead int64
	Errors    int64
}

// Root is the root directory node of a mounted commit.
type Root struct {
	dir
}

// NewRoot makes the root node of a commit's tree.
func NewRoot(src Source, rootTree, rootMeta object.Checksum, opts Options) *Root {
	r := &Root{dir{t: &tree{src: src, opts: opts}, treeSum: rootTree, metaSum: rootMeta, path: ""}}
	rand.Read(r.salt[:])
	return r
}

// Move shows another tree at the root (the ref a mount follows moved),
// and has the kernel drop what it cached of the old one: the next lookup
// of any path finds the new tree, whose directories get inode numbers of
// their own. What programs hold open (files, a working directory) stays
// the old tree's, whole, as an OS deployment's files do across an upgrade.
// Files keep their inodes where their content is the same.
func (r *Root) Move(ctx context.Context, rootTree, rootMeta object.Checksum) {
	r.mu.Lock()
	if r.treeSum == rootTree && r.metaSum == rootMeta {
		r.mu.Unlock()
		return
	}
	old := r.dt
	r.treeSum, r.metaSum = rootTree, rootMeta
	r.dt, r.meta, r.infos = nil, nil, nil
	r.gen++
	rand.Read(r.salt[:])
	r.mu.Unlock()
	// The kernel keeps entries, negative ones too, for an hour: every name
	// of either tree is dropped.
	names := map[string]bool{}
	add := func(dt *object.DirTree) {
		for _, f := range dt.Files {
			names[f.Name] = true
		}
		for _, d := range dt.Dirs {
			names[d.Name] = true
		}
	}
	if old != nil {
		add(old)
	}
	if dt, _, err := r.load(ctx); err == nil {
		add(dt)
	}
	for name := range names {
		r.NotifyEntry(name) // ENOENT: the kernel had not looked it up
	}
	r.NotifyContent(0, 0) // the root's attributes and cached listing
}

// Stats returns the tree's counters.
func (r *Root) Stats() Stats {
	return Stats{BytesRead: r.t.reads.Load(), Errors: r.t.errors.Load()}
}

// fileIno is a content object's inode number: the same object is the same
// inode wherever it appears, as in a hardlink checkout. The top bit is
// left to go-fuse's automatic numbers, which directories use.
func fileIno(c object.Checksum) uint64 {
	ino := binary.BigEndian.Uint64(c[:8]) &^ (1 << 63)
	if ino < 2 {
		ino += 2
	}
	return ino
}

// toErrno turns a source error into what the kernel is told; the details
// belong in the daemon's log, the caller only learns that I/O failed.
func (t *tree) toErrno(path string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	t.errors.Add(1)
	if t.opts.OnError != nil {
		t.opts.OnError(path, err)
	}
	return syscall.EIO
}

func setTimes(a *fuse.Attr) {
	a.Atime, a.Mtime, a.Ctime = 0, 0, 0
	a.Atimensec, a.Mtimensec, a.Ctimensec = 0, 0, 0
}
