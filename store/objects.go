package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"arbor/store/object"
)

// maxMetaSize caps metadata objects read from disk or the network, as
// OSTree does (OSTREE_MAX_METADATA_SIZE).
const maxMetaSize = 128 << 20

// ObjectPath is the absolute path of an object file.
func (r *Repo) ObjectPath(c object.Checksum, t object.Type) string {
	return filepath.Join(r.path, object.Path(c, t, r.archive()))
}

// ErrObjectMissing marks an object that is not in the repository.
var ErrObjectMissing = errors.New("object not found")

// missingFile is ErrObjectMissing for the content object named name
// (CHECKSUM.file), in ostree's words.
func missingFile(name string) error {
	return fmt.Errorf("Couldn't find file object '%s': %w", strings.TrimSuffix(name, ".file"), ErrObjectMissing)
}

// HasObject reports whether the object file exists.
func (r *Repo) HasObject(c object.Checksum, t object.Type) (bool, error) {
	_, err := os.Lstat(r.ObjectPath(c, t))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// ReadMeta reads a metadata object's bytes. It uses plain syscalls: this
// runs once per directory in checkouts and walks of large trees.
func (r *Repo) ReadMeta(c object.Checksum, t object.Type) ([]byte, error) {
	b, err := readSmallFile(r.ObjectPath(c, t), maxMetaSize)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			if r.parent != nil {
				return r.parent.ReadMeta(c, t)
			}
			// ostree's words, which scripts check.
			return nil, fmt.Errorf("No such metadata object %s: %w", object.Name(c, t), ErrObjectMissing)
		}
		return nil, fmt.Errorf("reading %s: %w", object.Name(c, t), err)
	}
	return b, nil
}

// readSmallFile reads a whole file of at most max bytes.
func readSmallFile(path string, max int64) ([]byte, error) {
	return readSmallFileAt(unix.AT_FDCWD, path, max)
}

// readSmallFileAt is readSmallFile of name in the directory dfd.
func readSmallFileAt(dfd int, name string, max int64) ([]byte, error) {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Size > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	b := make([]byte, st.Size)
	for off := 0; off < len(b); {
		n, err := unix.Pread(fd, b[off:], int64(off))
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return b[:off], nil
		}
		off += n
	}
	return b, nil
}

// ReadCommit reads and decodes a commit.
func (r *Repo) ReadCommit(c object.Checksum) (*object.Commit, error) {
	b, err := r.ReadMeta(c, object.TypeCommit)
	if err != nil {
		return nil, err
	}
	cm, err := object.ParseCommit(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", object.Name(c, object.TypeCommit), err)
	}
	return cm, nil
}

// ReadDirTree reads and decodes a dirtree, refusing unsafe names.
func (r *Repo) ReadDirTree(c object.Checksum) (object.DirTree, error) {
	b, err := r.ReadMeta(c, object.TypeDirTree)
	if err != nil {
		return object.DirTree{}, err
	}
	t, err := object.ParseDirTree(b)
	if err != nil {
		return object.DirTree{}, fmt.Errorf("%s: %w", object.Name(c, object.TypeDirTree), err)
	}
	return t, nil
}

// ReadDirMeta reads and decodes a dirmeta.
func (r *Repo) ReadDirMeta(c object.Checksum) (object.DirMeta, error) {
	b, err := r.ReadMeta(c, object.TypeDirMeta)
	if err != nil {
		return object.DirMeta{}, err
	}
	m, err := object.ParseDirMeta(b)
	if err != nil {
		return object.DirMeta{}, fmt.Errorf("%s: %w", object.Name(c, object.TypeDirMeta), err)
	}
	return m, nil
}

// ReadDetachedMeta reads a commit's .commitmeta; nil when there is none.
func (r *Repo) ReadDetachedMeta(c object.Checksum) ([]object.MetaEntry, error) {
	b, err := r.ReadMeta(c, object.TypeCommitMeta)
	if errors.Is(err, ErrObjectMissing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := object.ParseVarDict(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", object.Name(c, object.TypeCommitMeta), err)
	}
	return m, nil
}

// Content is an open content object.
type Content struct {
	Header object.FileHeader
	Size   uint64
	// Reader yields the file's bytes (nothing for a symlink).
	io.Reader
	file    *os.File
	release func() error // gives pooled buffers back
}

// Close closes the object file.
func (c *Content) Close() error {
	if c.release != nil {
		c.release()
		c.release = nil
	}
	if c.file == nil {
		return nil
	}
	return c.file.Close()
}

// File is the object file itself when it holds the raw bytes (bare modes,
// regular files), for hardlinking or copy_file_range; nil otherwise.
func (c *Content) File() *os.File {
	if c.Header.IsSymlink() {
		return nil
	}
	if _, raw := c.Reader.(*os.File); raw {
		return c.file
	}
	return nil
}

// OpenContent opens a content object in any repo mode.
func (r *Repo) OpenContent(c object.Checksum) (*Content, error) {
	ct, err := r.openContentAt(r.ObjectPath(c, object.TypeFile), object.Name(c, object.TypeFile))
	if errors.Is(err, ErrObjectMissing) && r.parent != nil {
		return r.parent.OpenContent(c)
	}
	return ct, err
}

// openContentAt opens the content object stored at p (in objects/ or in
// a transaction's staging directory); a symlink there is the object, never
// followed.
func (r *Repo) openContentAt(p, name string) (*Content, error) {
	if r.mode == ModeBare || r.mode == ModeBareUserOnly {
		// Symlinks are real symlinks in these modes.
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil, missingFile(name)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			target, err := os.Readlink(p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			h := object.FileHeader{Mode: object.ModeSymlink | 0o777, Target: target}
			if r.mode == ModeBare {
				h.UID, h.GID = st.Uid, st.Gid
				if h.Xattrs, err = pathXattrs(p, false); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
			}
			return &Content{Header: h, Reader: bytes.NewReader(nil), file: nil}, nil
		}
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, missingFile(name)
		}
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	ct, err := r.readContent(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ct.file = f
	return ct, nil
}

func (r *Repo) readContent(f *os.File) (*Content, error) {
	switch r.mode {
	case ModeArchive:
		h, size, rd, err := r.decomp.ReadArchive(f)
		if err != nil {
			return nil, err
		}
		return &Content{Header: h, Size: size, Reader: rd, release: rd.Close}, nil
	case ModeBareUser:
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return nil, err
		}
		meta, err := fgetxattr(int(f.Fd()), "user.ostreemeta")
		if err != nil {
			return nil, fmt.Errorf("reading user.ostreemeta: %w", err)
		}
		// Decode the mode first: symlinks are stored as their target + NUL.
		h, err := object.ParseUserMeta(meta, "")
		if err != nil && h.Mode&object.ModeTypeMask != object.ModeSymlink {
			return nil, err
		}
		if h.Mode&object.ModeTypeMask == object.ModeSymlink {
			b, err := io.ReadAll(io.LimitReader(f, 1<<20))
			if err != nil {
				return nil, err
			}
			if len(b) < 2 || b[len(b)-1] != 0 {
				return nil, errors.New("bare-user symlink object without a NUL-terminated target")
			}
			if h, err = object.ParseUserMeta(meta, string(b[:len(b)-1])); err != nil {
				return nil, err
			}
			return &Content{Header: h, Reader: bytes.NewReader(nil)}, nil
		}
		return &Content{Header: h, Size: uint64(st.Size), Reader: f}, nil
	default: // bare, bare-user-only regular files
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return nil, err
		}
		h := object.FileHeader{Mode: st.Mode}
		if r.mode == ModeBare {
			h.UID, h.GID = st.Uid, st.Gid
			xs, err := fdXattrs(int(f.Fd()))
			if err != nil {
				return nil, err
			}
			h.Xattrs = xs
		}
		if err := h.Validate(); err != nil {
			return nil, err
		}
		return &Content{Header: h, Size: uint64(st.Size), Reader: f}, nil
	}
}

// StatContent describes a content object (header and size) without
// opening it where the mode allows: in a bare-user repository a regular
// file's header is its user.ostreemeta xattr. Listing a directory of a
// mount describes every file in it, so this is a hot path.
func (r *Repo) StatContent(c object.Checksum) (object.FileHeader, uint64, error) {
	if r.mode == ModeBareUser {
		p := r.ObjectPath(c, object.TypeFile)
		var st unix.Stat_t
		err := unix.Lstat(p, &st)
		if err == nil {
			var buf [512]byte
			n, xerr := unix.Lgetxattr(p, "user.ostreemeta", buf[:])
			if xerr == nil {
				h, perr := object.ParseUserMeta(buf[:n], "")
				if perr == nil && !h.IsSymlink() {
					return h, uint64(st.Size), nil
				}
			}
		} else if errors.Is(err, unix.ENOENT) {
			return object.FileHeader{}, 0, missingFile(object.Name(c, object.TypeFile))
		}
		// Symlinks, large xattrs and errors take the full path.
	}
	if r.mode == ModeArchive {
		// The header alone: opening would inflate the whole object.
		f, err := os.Open(r.ObjectPath(c, object.TypeFile))
		if errors.Is(err, fs.ErrNotExist) && r.parent != nil {
			return r.parent.StatContent(c)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return object.FileHeader{}, 0, missingFile(object.Name(c, object.TypeFile))
		}
		if err != nil {
			return object.FileHeader{}, 0, fmt.Errorf("opening %s: %w", object.Name(c, object.TypeFile), err)
		}
		defer f.Close()
		h, size, err := object.ReadArchiveHeader(bufio.NewReaderSize(f, 4096))
		if err != nil {
			return h, 0, fmt.Errorf("%s: %w", object.Name(c, object.TypeFile), err)
		}
		return h, size, nil
	}
	ct, err := r.OpenContent(c)
	if err != nil {
		return object.FileHeader{}, 0, err
	}
	defer ct.Close()
	return ct.Header, ct.Size, nil
}

// OpenData opens the file holding a regular content object's bytes, in
// a bare or bare-user repository, without reading its header: what a
// mount's reads need, once the object is known to be a regular file.
func (r *Repo) OpenData(c object.Checksum) (*os.File, error) {
	if r.mode == ModeArchive {
		return nil, fmt.Errorf("%s: an archive repository holds no raw object files", object.Name(c, object.TypeFile))
	}
	f, err := os.Open(r.ObjectPath(c, object.TypeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, missingFile(object.Name(c, object.TypeFile))
	}
	return f, err
}
