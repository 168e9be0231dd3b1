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

	"golang.org/x/sys/unix"

	"arbor/store/index"
	"arbor/store/object"
)

// stagingPrefix differs from ostree's "staging-" so that ostree never adopts
// an arbor staging directory left by a killed process.
const stagingPrefix = "arbor-staging-"

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
	staged  []index.Entry
	dirs    [256]bool
	unlock  func()
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
	r.cleanStaging(tmp)
	var rnd [8]byte
	rand.Read(rnd[:])
	dir := filepath.Join(tmp, stagingPrefix+hex.EncodeToString(rnd[:]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		unlock()
		return nil, fmt.Errorf("creating staging directory: %w", err)
	}
	lock, err := os.Open(dir)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		unlock()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("locking staging directory: %w", err)
	}
	return &Txn{r: r, idx: idx, staging: dir, lock: lock, claimed: map[index.Ref]bool{}, unlock: unlock}, nil
}

// cleanStaging removes staging directories whose writer is gone: a live
// writer holds a lock on its directory.
func (r *Repo) cleanStaging(tmp string) {
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagingPrefix) {
			continue
		}
		p := filepath.Join(tmp, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(p)
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
	return t.idx.Has(ref)
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

// stagePath returns the staging path of an object, creating its directory.
func (t *Txn) stagePath(ref index.Ref) (string, error) {
	p := filepath.Join(t.staging, object.Path(ref.Checksum, ref.Type, t.r.archive()))
	t.mu.Lock()
	made := t.dirs[ref.Checksum[0]]
	t.mu.Unlock()
	if !made {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		t.mu.Lock()
		t.dirs[ref.Checksum[0]] = true
		t.mu.Unlock()
	}
	return p, nil
}

func (t *Txn) staged1(ref index.Ref, size int64) {
	t.mu.Lock()
	t.staged = append(t.staged, index.Entry{Ref: ref, Size: size})
	t.mu.Unlock()
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
	p, err := t.stagePath(ref)
	if err == nil {
		err = os.WriteFile(p, data, 0o644)
	}
	if err != nil {
		t.unclaim(ref)
		return fmt.Errorf("writing %s: %w", object.Name(ref.Checksum, ref.Type), err)
	}
	t.staged1(ref, int64(len(data)))
	return nil
}

// WriteCommitMeta stores detached metadata for a commit, replacing any.
func (t *Txn) WriteCommitMeta(commit object.Checksum, data []byte) error {
	ref := index.Ref{Checksum: commit, Type: object.TypeCommitMeta}
	p, err := t.stagePath(ref)
	if err == nil {
		err = os.WriteFile(p, data, 0o644)
	}
	if err != nil {
		return fmt.Errorf("writing detached metadata of %s: %w", commit, err)
	}
	t.mu.Lock()
	t.claimed[ref] = true
	t.mu.Unlock()
	t.staged1(ref, int64(len(data)))
	return nil
}

// contentSource is what a content object is written from: bytes in memory,
// or a file section read (or copied in the kernel) on demand.
type contentSource struct {
	data []byte
	file *os.File
	size int64
}

func (s contentSource) reader() io.Reader {
	if s.data != nil || s.file == nil {
		return bytesReader(s.data)
	}
	return io.NewSectionReader(s.file, 0, s.size)
}

// writeContent stores a content object whose checksum the caller computed.
func (t *Txn) writeContent(c object.Checksum, h *object.FileHeader, src contentSource) error {
	ref := index.Ref{Checksum: c, Type: object.TypeFile}
	ok, err := t.claim(ref)
	if err != nil || !ok {
		return err
	}
	p, err := t.stagePath(ref)
	var size int64
	if err == nil {
		size, err = t.r.writeContentFile(p, h, src)
	}
	if err != nil {
		os.Remove(p)
		t.unclaim(ref)
		return fmt.Errorf("writing %s: %w", object.Name(c, object.TypeFile), err)
	}
	t.staged1(ref, size)
	return nil
}

// writeContentFile writes one content object file in the repo's mode and
// returns its size on disk.
func (r *Repo) writeContentFile(p string, h *object.FileHeader, src contentSource) (int64, error) {
	switch {
	case r.mode == ModeArchive:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		bw := bufio.NewWriterSize(f, 64<<10)
		if err := object.WriteArchive(bw, h, uint64(src.size), src.reader(), r.zlibLevel); err != nil {
			return 0, err
		}
		if err := bw.Flush(); err != nil {
			return 0, err
		}
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		return st.Size(), f.Close()
	case h.IsSymlink() && (r.mode == ModeBare || r.mode == ModeBareUserOnly):
		if err := os.Symlink(h.Target, p); err != nil {
			return 0, err
		}
		if r.mode == ModeBare {
			if err := os.Lchown(p, int(h.UID), int(h.GID)); err != nil {
				return 0, err
			}
			for _, x := range h.Xattrs {
				if err := unix.Lsetxattr(p, x.Name, x.Value, 0); err != nil {
					return 0, fmt.Errorf("setting xattr %s: %w", x.Name, err)
				}
			}
		}
		return int64(len(h.Target)), nil
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fd := int(f.Fd())
	var size int64
	if h.IsSymlink() { // bare-user: the target and a NUL in a regular file
		n, err := f.WriteString(h.Target + "\x00")
		if err != nil {
			return 0, err
		}
		size = int64(n)
	} else if size, err = copyContent(f, src); err != nil {
		return 0, err
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
	return size, f.Close()
}

// copyContent writes the payload, in the kernel when it comes from a file.
func copyContent(dst *os.File, src contentSource) (int64, error) {
	if src.data != nil || src.file == nil {
		n, err := dst.Write(src.data)
		return int64(n), err
	}
	var off int64
	for off < src.size {
		n, err := unix.CopyFileRange(int(src.file.Fd()), &off, int(dst.Fd()), nil, int(src.size-off), 0)
		if err != nil || n == 0 {
			if off == 0 && (errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)) {
				return io.Copy(dst, io.NewSectionReader(src.file, 0, src.size))
			}
			if err == nil {
				err = fmt.Errorf("source shrank to %d bytes while being read", off)
			}
			return off, err
		}
	}
	return off, nil
}

// Commit makes every staged object visible: it flushes them to disk (when
// core.fsync is on, as ostree does), renames them into objects/ with
// commits last, and records them in the index.
func (t *Txn) Commit() error {
	defer t.release()
	if t.r.fsync && len(t.staged) > 0 {
		if err := unix.Syncfs(int(t.lock.Fd())); err != nil {
			return fmt.Errorf("syncing staged objects: %w", err)
		}
	}
	sort.SliceStable(t.staged, func(i, j int) bool {
		return t.staged[i].Type != object.TypeCommit && t.staged[j].Type == object.TypeCommit
	})
	var made [256]bool
	for _, e := range t.staged {
		rel := object.Path(e.Checksum, e.Type, t.r.archive())
		dst := filepath.Join(t.r.path, rel)
		if !made[e.Checksum[0]] {
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", filepath.Dir(rel), err)
			}
			made[e.Checksum[0]] = true
		}
		if err := os.Rename(filepath.Join(t.staging, rel), dst); err != nil {
			return fmt.Errorf("moving %s into place: %w", object.Name(e.Checksum, e.Type), err)
		}
	}
	if t.r.fsync && len(t.staged) > 0 {
		// The renames themselves, so refs written next never point past them.
		if err := unix.Syncfs(int(t.lock.Fd())); err != nil {
			return fmt.Errorf("syncing objects: %w", err)
		}
	}
	if err := t.idx.Add(t.staged); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// Abort drops everything staged.
func (t *Txn) Abort() { t.release() }

func (t *Txn) release() {
	if t.lock == nil {
		return
	}
	os.RemoveAll(t.staging)
	t.lock.Close()
	t.lock = nil
	t.unlock()
}
