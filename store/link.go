package store

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"arbor/store/index"
	"arbor/store/object"
)

// LinkContent stores content object c by a hard link to src's file of
// it, as a copy between repositories of one mode on one filesystem costs
// no space. The linked file is hashed again before it is taken, so what
// is stored is what its name says. It reports false, with nothing
// stored, when the object cannot be linked (another mode, another
// filesystem, not whole): the caller copies it instead.
func (t *Txn) LinkContent(src *Repo, c object.Checksum) (bool, error) {
	ref := index.Ref{Checksum: c, Type: object.TypeFile}
	if src.Mode() != t.r.Mode() {
		return false, nil
	}
	ok, err := t.claim(ref)
	if err != nil || !ok {
		return false, err
	}
	linked, err := t.stageLink(ref, src.ObjectPath(c, object.TypeFile), func(_ int, _, staged string) bool {
		return t.r.verifyAt(ref, staged) == nil
	})
	if err != nil || !linked {
		t.unclaim(ref)
	}
	return linked, err
}

// stageLink links src into the staging directory as ref's object, and
// keeps the link only when it is linkedImmutable and check passes on
// the staged link (the file that will be published, not src's name,
// which could be swapped meanwhile). false, with nothing staged: the
// caller copies. The claim on ref is the caller's.
func (t *Txn) stageLink(ref index.Ref, src string, check func(dfd int, name, staged string) bool) (bool, error) {
	dfd, name, err := t.stageDir(ref)
	if err != nil {
		return false, fmt.Errorf("staging %s: %w", object.Name(ref.Checksum, ref.Type), err)
	}
	if unix.Linkat(unix.AT_FDCWD, src, dfd, name, 0) != nil {
		return false, nil // EXDEV, EPERM, or not there
	}
	staged := filepath.Join(t.staging, ref.Checksum.String()[:2], name)
	var st unix.Stat_t
	if !linkedImmutable(dfd, name) || !check(dfd, name, staged) || unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		unix.Unlinkat(dfd, name, 0)
		return false, nil
	}
	t.staged1(ref, st.Size)
	return true, nil
}

// linkedImmutable says whether a file linked in from another repository
// can be kept shared: the inode stays the other repository's too, so it
// must be one nobody else can change after it was checked, a regular file
// of this user with no write bits for group or others (a symlink cannot
// be changed in place). Otherwise it is copied.
func linkedImmutable(dfd int, name string) bool {
	var st unix.Stat_t
	if unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return true
	case unix.S_IFREG:
		return st.Uid == uint32(unix.Geteuid()) && st.Mode&0o022 == 0
	}
	return false
}
