package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"arbor/store/index"
	"arbor/store/object"
)

// adopt takes into t what a dead writer left verified in its staging
// directory dir (locked by the caller), and removes the rest: a pull
// killed before its objects were published does not fetch them again
// when it is run again. Every object is hashed again first, as fsck
// would, since a killed writer may have left one half written. Commits
// and their signatures are left to be fetched again: they are small, and
// a commit's signatures are checked only as it is fetched.
func (t *Txn) adopt(dir string) {
	defer os.RemoveAll(dir)
	subs, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, sub := range subs {
		if !sub.IsDir() || len(sub.Name()) != 2 {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(dir, sub.Name()))
		if err != nil {
			continue
		}
		for _, e := range ents {
			c, typ, archive, ok := object.ParseLooseName(sub.Name(), e.Name())
			if !ok || typ == object.TypeFile && archive != t.r.archive() || typ == object.TypeCommit || typ == object.TypeCommitMeta {
				continue
			}
			t.adopt1(index.Ref{Checksum: c, Type: typ}, filepath.Join(dir, sub.Name(), e.Name()))
		}
	}
}

// adopt1 moves one staged object into t if it is whole and not stored.
func (t *Txn) adopt1(ref index.Ref, p string) {
	if has, err := t.Has(ref); err != nil || has {
		return
	}
	if err := t.r.verifyAt(ref, p); err != nil {
		return
	}
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil {
		return
	}
	ok, err := t.claim(ref)
	if err != nil || !ok {
		return
	}
	dfd, name, err := t.stageDir(ref)
	if err == nil {
		err = unix.Renameat(unix.AT_FDCWD, p, dfd, name)
	}
	if err != nil {
		t.unclaim(ref)
		return
	}
	t.staged1(ref, st.Size)
}

// verifyAt re-hashes the object stored at p (in objects/ or a staging
// directory) and checks its structure. A missing object is
// ErrObjectMissing; any other fault is ErrCorrupt.
func (r *Repo) verifyAt(ref index.Ref, p string) error {
	name := object.Name(ref.Checksum, ref.Type)
	if ref.Type != object.TypeFile {
		b, err := readSmallFile(p, maxMetaSize)
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s: %w", name, ErrObjectMissing)
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		return checkMeta(ref, b)
	}
	ct, err := r.openContentAt(p, name)
	if err != nil {
		if errors.Is(err, ErrObjectMissing) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer ct.Close()
	h := object.NewContentHash(&ct.Header)
	n, err := io.Copy(h, ct.Reader)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if uint64(n) != ct.Size {
		return fmt.Errorf("%w: %d bytes, header says %d", ErrCorrupt, n, ct.Size)
	}
	if got := object.SumHash(h); got != ref.Checksum {
		return mismatch(ref.Type, ref.Checksum, got)
	}
	return nil
}
