package store

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"arbor/store/index"
	"arbor/store/object"
)

// stagingPrefix differs from ostree's "staging-" so that ostree never adopts
// an arbor staging directory left by a killed process.
const stagingPrefix = "arbor-staging-"

// newStagingPrefix names a staging directory being made; one a killed
// writer left is removed once it is a minute old.
const newStagingPrefix = "arbor-new-staging-"

// Txn collects new objects in a staging directory and moves them into
// objects/ only when all of them are written, so a killed writer leaves no
// partial object behind. Commits are moved last.
type Txn struct {
	r       *Repo
	idx     *index.Index
	staging string
	lock    *os.File

	mu      sync.Mutex
	claimed map[index.Ref]bool
	written map[index.Ref]bool // claimed and completely written
	staged  []index.Entry
	// contentBytes is the stored size of content objects written, as
	// ostree's pull reports it.
	contentBytes int64
	dirs         [256]int // fds of staging/XX, 0 until made; names resolve from them
	unlock       func()

	// pubMu makes publishes one at a time: a pull's flush in the
	// background and its ticker's (each directory's stamps before and
	// after its renames are only this writer's then).
	pubMu sync.Mutex
	// renamedUnsynced says an intermediate publish renamed objects into
	// place whose names are not yet durable: the final publish syncs for
	// them, even with nothing left to move.
	renamedUnsynced bool
	// writeback starts each object's writing to disk as soon as it is
	// written (see StartWriteback).
	writeback bool
}

// StartWriteback has each object this transaction writes from now on sent
// to the disk at once, not when the kernel's writeback comes to it: a
// writer that stages its objects on goroutines of its own while it works
// (a delta's) then finds them mostly on disk when it syncs them. The sync
// that makes them durable is the same. A writer of many small objects
// had better let the kernel gather them.
func (t *Txn) StartWriteback() {
	t.mu.Lock()
	t.writeback = t.r.fsync
	t.mu.Unlock()
}

// startWriteback starts the writing of fd's data, when asked for.
func (t *Txn) startWriteback(fd int) {
	t.mu.Lock()
	on := t.writeback
	t.mu.Unlock()
	if on {
		// Only a hint: the sync before the renames is what counts.
		unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	}
}

// Begin starts a transaction. It takes the shared repo lock (as ostree does
// for writes) and removes staging directories that killed writers left.
func (r *Repo) Begin(ctx context.Context) (*Txn, error) {
	idx, err := r.Index(ctx)
	if err != nil {
		return nil, err
	}
	unlock, err := r.Lock(ctx, LockShared)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(r.path, "tmp")
	var rnd [8]byte
	rand.Read(rnd[:])
	// Made under a name reapStaging leaves alone, locked, then renamed:
	// another writer's reapStaging could otherwise find it unlocked, as
	// dead writers' are, between the mkdir and the lock (the lock is the
	// inode's, and stays through the rename).
	name := hex.EncodeToString(rnd[:])
	dir, fresh := filepath.Join(tmp, stagingPrefix+name), filepath.Join(tmp, newStagingPrefix+name)
	if err := os.MkdirAll(fresh, 0o755); err != nil {
		unlock()
		return nil, fmt.Errorf("creating staging directory: %w", err)
	}
	lock, err := os.Open(fresh)
	if err == nil {
		if err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
			err = os.Rename(fresh, dir)
		}
	}
	if err != nil {
		unlock()
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(fresh)
		return nil, fmt.Errorf("locking staging directory %s: %w", dir, err)
	}
	t := &Txn{r: r, idx: idx, staging: dir, lock: lock, claimed: map[index.Ref]bool{}, written: map[index.Ref]bool{}, unlock: unlock}
	t.reapStaging(tmp)
	return t, nil
}

// reapStaging takes in what writers that are gone left staged (see
// adopt), and removes their directories: a live writer holds a lock on
// its directory.
func (t *Txn) reapStaging(tmp string) {
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), newStagingPrefix) {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.RemoveAll(filepath.Join(tmp, e.Name()))
			}
			continue
		}
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagingPrefix) || filepath.Join(tmp, e.Name()) == t.staging {
			continue
		}
		p := filepath.Join(tmp, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			t.adopt(p)
		}
		f.Close()
	}
}

// Has reports whether an object is in the repo or already in this transaction.
func (t *Txn) Has(ref index.Ref) (bool, error) {
	t.mu.Lock()
	c := t.claimed[ref]
	t.mu.Unlock()
	if c {
		return true, nil
	}
	if has, err := t.idx.Has(ref); has || err != nil {
		return has, err
	}
	return t.r.inParents(ref), nil
}

// claim returns true when the caller should write the object: it is neither
// in the repo nor being written by another worker of this transaction.
func (t *Txn) claim(ref index.Ref) (bool, error) {
	t.mu.Lock()
	if t.claimed[ref] {
		t.mu.Unlock()
		return false, nil
	}
	t.claimed[ref] = true
	t.mu.Unlock()
	has, err := t.idx.Has(ref)
	if err != nil || !has {
		if err == nil && t.r.inParents(ref) {
			return false, nil // a parent repository has it
		}
		return err == nil, err
	}
	return false, nil
}

// unclaim lets another writer try again after a failed write.
func (t *Txn) unclaim(ref index.Ref) {
	t.mu.Lock()
	delete(t.claimed, ref)
	t.mu.Unlock()
}

// stageDir returns the fd of the staging directory for an object and the
// object's file name in it, creating the directory on first use.
func (t *Txn) stageDir(ref index.Ref) (int, string, error) {
	rel := object.Path(ref.Checksum, ref.Type, t.r.archive()) // objects/XX/NAME
	name := rel[len("objects/XX/"):]
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd := t.dirs[ref.Checksum[0]]; fd > 0 {
		return fd, name, nil
	}
	dir := filepath.Join(t.staging, rel[len("objects/"):len("objects/XX")])
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return 0, "", err
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, "", err
	}
	t.dirs[ref.Checksum[0]] = fd
	return fd, name, nil
}

// Prepare makes the staging directories of objects this transaction is
// about to write, ahead of their writing: a pull makes those of a delta's
// part while it decodes the part, on a core that would wait otherwise.
// A directory it could not make is made again when an object needs it.
func (t *Txn) Prepare(refs []index.Ref) {
	var done [256]bool
	for _, r := range refs {
		if p := r.Checksum[0]; !done[p] {
			done[p] = true
			t.stageDir(r)
		}
	}
}

func (t *Txn) staged1(ref index.Ref, size int64) {
	t.mu.Lock()
	if ref.Type == object.TypeFile {
		t.contentBytes += size
	}
	t.staged = append(t.staged, index.Entry{Ref: ref, Size: size})
	t.written[ref] = true
	t.mu.Unlock()
}

// ContentBytes is the stored size of the content objects this
// transaction wrote so far.
func (t *Txn) ContentBytes() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.contentBytes
}

// Stored reports whether an object is in the repo or completely written in
// this transaction; unlike Has, an object another worker is still writing
// does not count, so a reader can use what Stored promises.
func (t *Txn) Stored(ref index.Ref) (bool, error) {
	t.mu.Lock()
	w := t.written[ref]
	t.mu.Unlock()
	if w {
		return true, nil
	}
	has, err := t.idx.Has(ref)
	if err == nil && !has && t.r.inParents(ref) {
		return true, nil
	}
	if err != nil || !has {
		return false, err
	}
	// This index may be a long-lived one (the daemon's) that does not see
	// another process's prune: the file decides.
	return t.r.HasObject(ref.Checksum, ref.Type)
}

// WriteMeta stores a metadata object and returns its checksum. The bytes
// must already be in normal form (they are hashed as given).
func (t *Txn) WriteMeta(typ object.Type, data []byte) (object.Checksum, error) {
	c := object.Sha256(data)
	ref := index.Ref{Checksum: c, Type: typ}
	return c, t.writeMetaAs(ref, data)
}

func (t *Txn) writeMetaAs(ref index.Ref, data []byte) error {
	ok, err := t.claim(ref)
	if err != nil || !ok {
		return err
	}
	if err := t.writeStaged(ref, data); err != nil {
		t.unclaim(ref)
		return err
	}
	return nil
}

func (t *Txn) writeStaged(ref index.Ref, data []byte) error {
	dfd, name, err := t.stageDir(ref)
	if err == nil {
		err = writeFileAt(dfd, name, data, 0o644, t.startWriteback)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", object.Name(ref.Checksum, ref.Type), err)
	}
	t.staged1(ref, int64(len(data)))
	return nil
}

// writeFileAt creates a new file in a directory and writes data to it.
func writeFileAt(dfd int, name string, data []byte, perm uint32, written func(fd int)) error {
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, perm)
	if err != nil {
		return err
	}
	if err := writeAll(fd, data); err != nil {
		unix.Close(fd)
		return err
	}
	if written != nil {
		written(fd)
	}
	if err := unix.Fchmod(fd, perm); err != nil { // whatever the umask
		unix.Close(fd)
		return err
	}
	return unix.Close(fd)
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// WriteCommitMeta stores detached metadata for a commit, replacing any.
func (t *Txn) WriteCommitMeta(commit object.Checksum, data []byte) error {
	ref := index.Ref{Checksum: commit, Type: object.TypeCommitMeta}
	if err := t.writeStaged(ref, data); err != nil {
		return err
	}
	t.mu.Lock()
	t.claimed[ref] = true
	t.mu.Unlock()
	return nil
}

// contentSource is what a content object is written from: bytes in memory,
// or a file read (or copied in the kernel) on demand.
type contentSource struct {
	data   []byte
	fd     int       // source file when data is nil and size > 0
	stream io.Reader // or a stream of exactly size bytes
	size   int64
}

func (s contentSource) reader() io.Reader {
	if s.stream != nil {
		return s.stream
	}
	if s.data != nil || s.size == 0 {
		return bytesReader(s.data)
	}
	return io.NewSectionReader(fdReaderAt(s.fd), 0, s.size)
}

// fdReaderAt reads a raw descriptor without the runtime poller: regular
// files never block, and the poller costs syscalls per file.
type fdReaderAt int

func (f fdReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(int(f), p, off)
	if err == nil && n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	if n < 0 {
		n = 0
	}
	return n, err
}

// writeContent stores a content object whose checksum the caller computed.
func (t *Txn) writeContent(c object.Checksum, h *object.FileHeader, src contentSource) error {
	ref := index.Ref{Checksum: c, Type: object.TypeFile}
	ok, err := t.claim(ref)
	if err != nil || !ok {
		return err
	}
	dfd, name, err := t.stageDir(ref)
	var size int64
	if err == nil {
		size, err = t.r.writeContentFile(dfd, name, h, src, t.startWriteback)
	}
	if err != nil {
		unix.Unlinkat(dfd, name, 0)
		t.unclaim(ref)
		return fmt.Errorf("writing %s: %w", object.Name(c, object.TypeFile), err)
	}
	t.staged1(ref, size)
	return nil
}

// writeContentFile writes one content object file, name in directory dfd,
// in the repo's mode and returns its size on disk.
//
// written, when not nil, is told of the descriptor of a regular file once
// its data is written.
func (r *Repo) writeContentFile(dfd int, name string, h *object.FileHeader, src contentSource, written func(fd int)) (int64, error) {
	if h.IsSymlink() && (r.mode == ModeBare || r.mode == ModeBareUserOnly) {
		if err := unix.Symlinkat(h.Target, dfd, name); err != nil {
			return 0, err
		}
		if r.mode == ModeBare {
			if err := unix.Fchownat(dfd, name, int(h.UID), int(h.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return 0, err
			}
			at := fmt.Sprintf("/proc/self/fd/%d/%s", dfd, name)
			for _, x := range h.Xattrs {
				if err := unix.Lsetxattr(at, x.Name, x.Value, 0); err != nil {
					return 0, fmt.Errorf("setting xattr %s: %w", x.Name, err)
				}
			}
		}
		return int64(len(h.Target)), nil
	}
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	if r.mode == ModeArchive {
		f := os.NewFile(uintptr(fd), name)
		fd = -1
		defer f.Close()
		bw := bufio.NewWriterSize(f, 64<<10)
		if err := r.compressor.WriteArchive(bw, h, uint64(src.size), src.reader()); err != nil {
			return 0, err
		}
		if err := bw.Flush(); err != nil {
			return 0, err
		}
		if err := f.Chmod(0o644); err != nil {
			return 0, err
		}
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		return st.Size(), f.Close()
	}
	var size int64
	if h.IsSymlink() { // bare-user: the target and a NUL in a regular file
		if err := writeAll(fd, []byte(h.Target+"\x00")); err != nil {
			return 0, err
		}
		size = int64(len(h.Target) + 1)
	} else if size, err = copyContent(fd, src); err != nil {
		return 0, err
	}
	if written != nil {
		written(fd)
	}
	perm := h.Mode & object.ModePerm
	switch r.mode {
	case ModeBareUser:
		perm = perm&0o775 | 0o400
		if h.IsSymlink() {
			perm = 0o644
		}
		if err := unix.Fsetxattr(fd, "user.ostreemeta", h.MarshalUserMeta(), 0); err != nil {
			return 0, fmt.Errorf("setting user.ostreemeta (the filesystem needs user xattrs): %w", err)
		}
	case ModeBareUserOnly:
		perm &= 0o775
	case ModeBare:
		if err := unix.Fchown(fd, int(h.UID), int(h.GID)); err != nil {
			return 0, err
		}
		for _, x := range h.Xattrs {
			if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
				return 0, fmt.Errorf("setting xattr %s: %w", x.Name, err)
			}
		}
	}
	// Chmod after chown: chown clears setuid bits.
	if err := unix.Fchmod(fd, perm); err != nil {
		return 0, err
	}
	// Objects carry no timestamp; OSTree gives them mtime 0.
	if err := unix.Futimes(fd, []unix.Timeval{{}, {}}); err != nil {
		return 0, err
	}
	err = unix.Close(fd)
	fd = -1
	return size, err
}

// copyContent writes the payload, in the kernel when it comes from a file.
func copyContent(dst int, src contentSource) (int64, error) {
	if src.stream != nil {
		n, err := io.Copy(fdWriter(dst), src.stream)
		if err == nil && n != src.size {
			err = fmt.Errorf("%d bytes where %d were expected", n, src.size)
		}
		return n, err
	}
	if src.data != nil || src.size == 0 {
		return int64(len(src.data)), writeAll(dst, src.data)
	}
	var off int64
	for off < src.size {
		n, err := unix.CopyFileRange(src.fd, &off, dst, nil, int(src.size-off), 0)
		if err != nil || n == 0 {
			if off == 0 && (errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP)) {
				return copyByRead(dst, src)
			}
			if err == nil {
				err = fmt.Errorf("source shrank to %d bytes while being read", off)
			}
			return off, err
		}
	}
	return off, nil
}

func copyByRead(dst int, src contentSource) (int64, error) {
	buf := make([]byte, 256<<10)
	var off int64
	for off < src.size {
		n, err := unix.Pread(src.fd, buf, off)
		if err != nil {
			return off, err
		}
		if n == 0 {
			return off, fmt.Errorf("source shrank to %d bytes while being read", off)
		}
		if err := writeAll(dst, buf[:n]); err != nil {
			return off, err
		}
		off += int64(n)
	}
	return off, nil
}

// Commit makes every staged object visible: it flushes them to disk (when
// core.fsync is on, as ostree does), renames them into objects/ with
// commits last, and records them in the index.
func (t *Txn) Commit() error {
	defer t.release()
	t.mu.Lock()
	batch := t.staged
	t.staged = nil
	t.mu.Unlock()
	return t.publish(batch, true)
}

// publish moves staged objects into objects/ (see Commit). Only the final
// publish, after which refs get written, also waits for the renames to be
// durable; an intermediate one only needs the objects' data on disk
// before they get their names.
func (t *Txn) publish(staged []index.Entry, final bool) error {
	t.pubMu.Lock()
	defer t.pubMu.Unlock()
	if t.r.fsync && final && len(staged) == 0 && t.renamedUnsynced {
		if err := unix.Syncfs(int(t.lock.Fd())); err != nil {
			return fmt.Errorf("syncing objects: %w", err)
		}
		t.renamedUnsynced = false
	}
	if t.r.fsync && len(staged) > 0 {
		if err := unix.Syncfs(int(t.lock.Fd())); err != nil {
			return fmt.Errorf("syncing staged objects: %w", err)
		}
	}
	// Commits last; the rest a directory after another.
	sort.SliceStable(staged, func(i, j int) bool {
		ci, cj := staged[i].Type == object.TypeCommit, staged[j].Type == object.TypeCommit
		if ci != cj {
			return cj
		}
		return staged[i].Checksum[0] < staged[j].Checksum[0]
	})
	var objDirs [256]int
	var before [256]int64
	defer func() {
		for _, fd := range objDirs {
			if fd > 0 {
				unix.Close(fd)
			}
		}
	}()
	t.mu.Lock()
	from := t.dirs // staging directories are only ever added
	t.mu.Unlock()
	for _, e := range staged {
		rel := object.Path(e.Checksum, e.Type, t.r.archive())
		p := e.Checksum[0]
		if objDirs[p] == 0 {
			dir := filepath.Join(t.r.path, filepath.Dir(rel))
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if errors.Is(err, unix.ENOENT) {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return fmt.Errorf("creating %s: %w", filepath.Dir(rel), err)
				}
				fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			}
			if err != nil {
				return fmt.Errorf("opening %s: %w", filepath.Dir(rel), err)
			}
			objDirs[p] = fd
			before[p] = dirMtime(fd)
		}
		name := rel[len("objects/XX/"):]
		if err := unix.Renameat(from[p], name, objDirs[p], name); err != nil {
			return fmt.Errorf("moving %s into place: %w", object.Name(e.Checksum, e.Type), err)
		}
		if e.Type == object.TypeCommit {
			// A commit stored again is no longer deleted.
			if err := t.r.removeTombstone(e.Checksum); err != nil {
				return err
			}
		}
	}
	if final && t.r.fsync && len(staged) > 0 {
		// The renames themselves, so refs written next never point past
		// them (and those of earlier publishes).
		if err := unix.Syncfs(int(t.lock.Fd())); err != nil {
			return fmt.Errorf("syncing objects: %w", err)
		}
		t.renamedUnsynced = false
	} else if len(staged) > 0 {
		t.renamedUnsynced = true
	}
	var dirs []index.DirWrite
	for p, fd := range objDirs {
		if fd > 0 && before[p] != 0 {
			if after := dirMtime(fd); after != 0 {
				dirs = append(dirs, index.DirWrite{Prefix: byte(p), Before: before[p], After: after})
			}
		}
	}
	if err := t.idx.AddWritten(staged, dirs); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// dirMtime is an open directory's mtime in ns, 0 when it cannot be read.
func dirMtime(fd int) int64 {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0
	}
	return st.Mtim.Nano()
}

// Abort drops everything staged.
func (t *Txn) Abort() { t.release() }

func (t *Txn) release() {
	// A publish still running in the background (a pull's) ends first.
	t.pubMu.Lock()
	defer t.pubMu.Unlock()
	if t.lock == nil {
		return
	}
	// After a publish the staging directories are empty: each goes
	// by one rmdir, by name, not by a read of it (RemoveAll reads each
	// directory first). What an abort leaves in them RemoveAll takes.
	var name [2]byte
	const hex = "0123456789abcdef"
	for i, fd := range t.dirs {
		if fd > 0 {
			unix.Close(fd)
			t.dirs[i] = 0
			name[0], name[1] = hex[i>>4], hex[i&15]
			unix.Unlinkat(int(t.lock.Fd()), string(name[:]), unix.AT_REMOVEDIR)
		}
	}
	os.RemoveAll(t.staging)
	t.lock.Close()
	t.lock = nil
	t.unlock()
}

// fdWriter writes to a raw descriptor.
type fdWriter int

func (f fdWriter) Write(p []byte) (int, error) {
	if err := writeAll(int(f), p); err != nil {
		return 0, err
	}
	return len(p), nil
}
