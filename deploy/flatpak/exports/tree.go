package exports

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// tree reads an untrusted directory, an export/ checked out of a commit,
// by file descriptors beneath its root: no symbolic link is followed on
// the way or at the end, only regular files are read, and only so much.
type tree struct {
	root int
	name string // how errors name the root
}

func openTree(dir, name string) (*tree, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &tree{root: fd, name: name}, nil
}

func (t *tree) close() { unix.Close(t.root) }

func (t *tree) path(rel string) string { return t.name + "/" + rel }

// open opens rel beneath the root, refusing a symbolic link anywhere.
func (t *tree) open(rel string, flags int) (*os.File, error) {
	if flags&unix.O_DIRECTORY == 0 {
		flags |= unix.O_NOFOLLOW // with O_DIRECTORY it would turn ELOOP into ENOTDIR
	}
	fd, err := unix.Openat2(t.root, rel, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("%s: a symbolic link is on the way (exports are read from regular files and directories only)", t.path(rel))
	case errors.Is(err, unix.ENOTDIR):
		return nil, fmt.Errorf("%s: not a directory", t.path(rel))
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: t.path(rel), Err: err}
	}
	return os.NewFile(uintptr(fd), t.path(rel)), nil
}

// entry is a name in a directory of the tree and its type (S_IFMT bits),
// not followed.
type entry struct {
	name string
	typ  uint32
}

// readDir lists the directory rel.
func (t *tree) readDir(rel string) ([]entry, error) {
	d, err := t.open(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.path(rel), err)
	}
	out := make([]entry, 0, len(names))
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(int(d.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, &fs.PathError{Op: "stat", Path: t.path(rel + "/" + n), Err: err}
		}
		out = append(out, entry{name: n, typ: st.Mode & unix.S_IFMT})
	}
	return out, nil
}

// readFile reads the regular file rel, of at most limit bytes.
func (t *tree) readFile(rel string, limit int64) ([]byte, error) {
	// O_NONBLOCK: a FIFO put in place of the file fails the type check
	// below instead of blocking the open.
	f, err := t.open(rel, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", t.path(rel), fi.Mode().Type())
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, over the limit of %d bytes for an exported file", t.path(rel), fi.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.path(rel), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: over the limit of %d bytes for an exported file", t.path(rel), limit)
	}
	return b, nil
}
