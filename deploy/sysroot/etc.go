package sysroot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// EtcChange is one local change to /etc: 'M'odified, 'D'eleted or 'A'dded,
// at a path relative to /etc.
type EtcChange struct {
	Kind byte   `json:"kind"`
	Path string `json:"path"`
}

// EtcCounts is how many changes of each kind a merge carried over.
type EtcCounts struct{ Modified, Removed, Added int }

// diffEtc compares the defaults a deployment started from (orig, its
// usr/etc) with its /etc (modified), as ostree does: type, content, mode
// and owner count, xattrs do not. Below a deleted directory nothing more
// is listed.
func diffEtc(orig, modified string) ([]EtcChange, error) {
	var out []EtcChange
	err := filepath.WalkDir(orig, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(orig, p)
		if rel == "." {
			return nil
		}
		var a, b syscall.Stat_t
		if err := syscall.Lstat(p, &a); err != nil {
			return err
		}
		if err := syscall.Lstat(filepath.Join(modified, rel), &b); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				out = append(out, EtcChange{'D', rel})
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			return err
		}
		same, err := sameEntry(p, filepath.Join(modified, rel), &a, &b)
		if err != nil {
			return err
		}
		if !same {
			out = append(out, EtcChange{'M', rel})
			if a.Mode&syscall.S_IFMT == syscall.S_IFDIR && b.Mode&syscall.S_IFMT != syscall.S_IFDIR {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(modified, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(modified, p)
		if rel == "." {
			return nil
		}
		if _, err := os.Lstat(filepath.Join(orig, rel)); errors.Is(err, fs.ErrNotExist) {
			out = append(out, EtcChange{'A', rel}) // and what is below it, as ostree lists them
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// sameEntry compares two lstat'ed entries: type, mode, owner, and the
// bytes of files or the targets of symlinks.
func sameEntry(a, b string, sa, sb *syscall.Stat_t) (bool, error) {
	if sa.Mode != sb.Mode || sa.Uid != sb.Uid || sa.Gid != sb.Gid {
		return false, nil
	}
	switch sa.Mode & syscall.S_IFMT {
	case syscall.S_IFLNK:
		ta, err := os.Readlink(a)
		if err != nil {
			return false, err
		}
		tb, err := os.Readlink(b)
		return ta == tb, err
	case syscall.S_IFREG:
		if sa.Size != sb.Size {
			return false, nil
		}
		if sa.Dev == sb.Dev && sa.Ino == sb.Ino {
			return true, nil
		}
		ba, err := os.ReadFile(a)
		if err != nil {
			return false, err
		}
		bb, err := os.ReadFile(b)
		return bytes.Equal(ba, bb), err
	}
	return true, nil
}

// mergeEtc carries the local changes of a deployment (orig -> modified)
// onto a new deployment's /etc: deleted paths are deleted, modified and
// added ones copied over the new defaults.
func mergeEtc(orig, modified, etc string) (EtcCounts, error) {
	var n EtcCounts
	changes, err := diffEtc(orig, modified)
	if err != nil {
		return n, err
	}
	var added []string // directories copied whole
	for _, c := range changes {
		if slices.ContainsFunc(added, func(a string) bool { return strings.HasPrefix(c.Path, a+"/") }) {
			continue
		}
		dst := filepath.Join(etc, c.Path)
		src := filepath.Join(modified, c.Path)
		switch c.Kind {
		case 'D':
			n.Removed++
			if err := os.RemoveAll(dst); err != nil {
				return n, err
			}
		case 'M', 'A':
			if c.Kind == 'M' {
				n.Modified++
			} else {
				n.Added++
			}
			if err := makeParents(modified, etc, filepath.Dir(c.Path)); err != nil {
				return n, err
			}
			fi, err := os.Lstat(src)
			if err != nil {
				return n, err
			}
			if dfi, err := os.Lstat(dst); err == nil && dfi.IsDir() {
				if !fi.IsDir() {
					return n, fmt.Errorf("Modified config file newly defaults to directory '%s', cannot merge", c.Path)
				}
				// Its entries are compared one by one: only its own mode
				// and owner change here.
				if c.Kind == 'M' {
					if err := copyAttrs(src, dst, fi); err != nil {
						return n, err
					}
				}
				continue
			}
			if err := os.RemoveAll(dst); err != nil {
				return n, err
			}
			if err := copyEntry(src, dst); err != nil {
				return n, err
			}
			if fi.IsDir() {
				added = append(added, c.Path)
			}
		}
	}
	return n, nil
}

// makeParents creates rel's directories under etc where they are
// missing, with the attributes of those under modified.
func makeParents(modified, etc, rel string) error {
	if rel == "." || rel == "" {
		return nil
	}
	if err := makeParents(modified, etc, filepath.Dir(rel)); err != nil {
		return err
	}
	dst := filepath.Join(etc, rel)
	if fi, err := os.Lstat(dst); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: not a directory in the new /etc", rel)
		}
		return nil
	}
	src := filepath.Join(modified, rel)
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	return copyAttrs(src, dst, fi)
}

// copyEntry copies a file, symlink or directory tree, with modes, owners
// and xattrs; other kinds of file are left out.
func copyEntry(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(t, dst); err != nil {
			return err
		}
	case fi.IsDir():
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := copyEntry(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
	case fi.Mode().IsRegular():
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	default:
		// A fifo, socket or device has no place in /etc's merge: left
		// out, as ostree leaves it.
		return nil
	}
	return copyAttrs(src, dst, fi)
}

// copyAttrs gives dst the owner, mode and xattrs of src.
func copyAttrs(src, dst string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return &fs.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size == 0 {
		return nil
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(src, buf); err != nil {
		return nil
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		vs, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			continue
		}
		v := make([]byte, vs)
		if vs, err = unix.Lgetxattr(src, name, v); err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, name, v[:vs], 0); err != nil {
			return &fs.PathError{Op: "setxattr " + name, Path: dst, Err: err}
		}
	}
	return nil
}

// ConfigDiff lists the local changes to /etc of the stateroot's merge
// deployment against the defaults it came with.
func (s *Sysroot) ConfigDiff(stateroot string) ([]EtcChange, error) {
	ds, err := s.Deployments()
	if err != nil {
		return nil, err
	}
	m := MergeDeployment(ds, stateroot)
	if m == nil {
		return nil, errors.New("no deployment")
	}
	dir := s.Dir(m)
	return diffEtc(filepath.Join(dir, "usr", "etc"), filepath.Join(dir, "etc"))
}
