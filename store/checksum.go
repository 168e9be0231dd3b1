package store

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"arbor/store/object"
)

// FileChecksum is the content checksum a file (or symlink) at path would
// have committed as it is: its bytes, owner, mode and, unless noXattrs,
// its xattrs.
func FileChecksum(path string, noXattrs bool) (object.Checksum, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return object.Zero, fmt.Errorf("%s: %w", path, err)
	}
	h := object.FileHeader{UID: st.Uid, GID: st.Gid, Mode: st.Mode}
	if !noXattrs {
		xs, err := pathXattrs(path, false)
		if err != nil {
			return object.Zero, fmt.Errorf("%s: %w", path, err)
		}
		h.Xattrs = xs
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := os.Readlink(path)
		if err != nil {
			return object.Zero, fmt.Errorf("%s: %w", path, err)
		}
		h.Target = target
		return object.ContentChecksum(&h, nil), nil
	case unix.S_IFREG:
	default:
		return object.Zero, unsupported(path, modeType(st.Mode))
	}
	f, err := os.Open(path)
	if err != nil {
		return object.Zero, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	hs := object.NewContentHash(&h)
	if _, err := io.Copy(hs, f); err != nil {
		return object.Zero, fmt.Errorf("reading %s: %w", path, err)
	}
	return object.SumHash(hs), nil
}
