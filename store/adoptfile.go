package store

import (
	"fmt"

	"golang.org/x/sys/unix"

	"arbor/store/index"
	"arbor/store/object"
)

// adoptable reports whether a file being consumed (commit --consume) is,
// as it is on disk, the object its header describes in this repository,
// so that the object can be the file itself: in a bare repository its
// owner, mode and xattrs as committed; in a bare-user-only one its mode.
// bare-user objects carry their header in an xattr the file lacks.
func (cm *committer) adoptable(st *unix.Stat_t, h *object.FileHeader) bool {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	switch cm.t.r.mode {
	case ModeBare:
		return !cm.opts.NoXattrs && st.Uid == h.UID && st.Gid == h.GID && st.Mode == h.Mode
	case ModeBareUserOnly:
		return st.Mode&object.ModePerm == h.Mode&0o775
	}
	return false
}

// adoptFile makes the file name in dfd, whose bytes and metadata were
// read through the file st describes, the content object c by
// hardlinking it into the transaction. It returns false, having done
// nothing, when the link cannot be made or the name no longer holds that
// file; true when the object is staged or was already stored.
func (t *Txn) adoptFile(c object.Checksum, dfd int, name string, st *unix.Stat_t) (bool, error) {
	ref := index.Ref{Checksum: c, Type: object.TypeFile}
	ok, err := t.claim(ref)
	if err != nil {
		return false, err
	}
	if !ok {
		return true, nil // stored, or being written by another file
	}
	sdfd, sname, err := t.stageDir(ref)
	if err != nil {
		t.unclaim(ref)
		return false, fmt.Errorf("adopting %s: %w", object.Name(c, object.TypeFile), err)
	}
	if unix.Linkat(dfd, name, sdfd, sname, 0) != nil {
		t.unclaim(ref)
		return false, nil
	}
	// The name may have been given to another file since it was read:
	// only the very file that was hashed may become the object.
	var got unix.Stat_t
	if unix.Fstatat(sdfd, sname, &got, unix.AT_SYMLINK_NOFOLLOW) != nil || got.Dev != st.Dev || got.Ino != st.Ino {
		unix.Unlinkat(sdfd, sname, 0)
		t.unclaim(ref)
		return false, nil
	}
	t.staged1(ref, got.Size)
	return true, nil
}
