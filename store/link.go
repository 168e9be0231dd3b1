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
	dfd, name, err := t.stageDir(ref)
	if err != nil {
		t.unclaim(ref)
		return false, err
	}
	if err := unix.Linkat(unix.AT_FDCWD, src.ObjectPath(c, object.TypeFile), dfd, name, 0); err != nil {
		t.unclaim(ref)
		return false, nil // EXDEV, EPERM, or not there: copy it
	}
	// The staged link, not the source's name, is what is checked: it is
	// the file that will be published.
	staged := filepath.Join(t.staging, c.String()[:2], name)
	if !linkedImmutable(dfd, name) {
		unix.Unlinkat(dfd, name, 0)
		t.unclaim(ref)
		return false, nil
	}
	if err := t.r.verifyAt(ref, staged); err != nil {
		unix.Unlinkat(dfd, name, 0)
		t.unclaim(ref)
		return false, nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		unix.Unlinkat(dfd, name, 0)
		t.unclaim(ref)
		return false, fmt.Errorf("linking %s: %w", object.Name(c, object.TypeFile), err)
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
