package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"arbor/store/object"
)

// CheckoutOptions follow ostree checkout's flags.
type CheckoutOptions struct {
	// UserMode (-U) ignores ownership and xattrs and drops setuid/setgid.
	UserMode bool
	// RequireHardlinks (-H) fails instead of copying when a file cannot be
	// hardlinked from the repo.
	RequireHardlinks bool
	// Union (--union) writes into an existing directory, replacing files.
	Union bool
	// ForceCopy (-C) copies every file, never hardlinking one.
	ForceCopy bool
	// Subpath (--subpath) checks out only this path of the commit.
	Subpath string
	// Progress, when set, gets the number of files written so far.
	Progress func(files int64)
	// AllowPartial checks out of a partly fetched commit, for a subpath
	// that was fetched whole; a missing object still fails the checkout.
	AllowPartial bool
	// PassthroughWhiteouts makes each file named .ostree-wh.NAME an
	// overlayfs whiteout (a 0:0 character device) NAME with the file's
	// mode and owner, for container layers kept in a tree.
	PassthroughWhiteouts bool
}

// whiteoutPrefix names a file that stands for a whiteout.
const whiteoutPrefix = ".ostree-wh."

type checkout struct {
	r     *Repo
	opts  *CheckoutOptions
	files atomic.Int64
	// canLink is cleared after the first EXDEV, so later files copy at once.
	canLink atomic.Bool
	objects int // fd of objects/, so links resolve two path components

	metaMu sync.Mutex
	metas  map[object.Checksum]object.DirMeta // most trees share a few dirmetas
}

func (co *checkout) dirMeta(c object.Checksum) (object.DirMeta, error) {
	co.metaMu.Lock()
	m, ok := co.metas[c]
	co.metaMu.Unlock()
	if ok {
		return m, nil
	}
	m, err := co.r.ReadDirMeta(c)
	if err == nil {
		co.metaMu.Lock()
		co.metas[c] = m
		co.metaMu.Unlock()
	}
	return m, err
}

// Checkout writes a commit (or a part of it) out to dest as files. Files are
// hardlinked from bare and bare-user repos when the link would have the
// right owner and mode, and copied otherwise.
func (r *Repo) Checkout(ctx context.Context, commit object.Checksum, dest string, opts CheckoutOptions) error {
	if r.IsPartial(commit) && !opts.AllowPartial {
		return fmt.Errorf("commit %s is partial (not all of its objects are present): pull it completely first", commit)
	}
	n, err := r.Lookup(commit, opts.Subpath)
	if err != nil {
		return err
	}
	co := &checkout{r: r, opts: &opts, metas: map[object.Checksum]object.DirMeta{}}
	objects, err := unix.Open(filepath.Join(r.path, "objects"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	defer unix.Close(objects)
	co.objects = objects
	if r.mode == ModeBareUserOnly {
		// Its files are all root's with no xattrs: only user mode
		// means anything, so it is taken without being asked for.
		opts.UserMode = true
	}
	if opts.RequireHardlinks && opts.ForceCopy {
		return errors.New("checkout: hardlinks required (-H) and copies forced (-C): give one")
	}
	co.canLink.Store(!opts.ForceCopy && (r.mode == ModeBareUser || r.mode == ModeBare || r.mode == ModeBareUserOnly))
	if opts.RequireHardlinks {
		// ostree's words, which scripts check.
		switch {
		case !co.canLink.Load():
			return fmt.Errorf("checkout: hardlinks required but a %s repo holds no files to link", r.mode)
		case !sameDevice(objects, dest):
			return fmt.Errorf("checkout: Unable to do hardlink checkout across devices (from %s to %s)", r.path, dest)
		case r.mode == ModeBareUser && !opts.UserMode:
			return errors.New("checkout: User repository mode requires user checkout mode to hardlink (-U)")
		case r.mode == ModeBare && opts.UserMode:
			return errors.New("checkout: Bare repository mode cannot hardlink in user checkout mode")
		}
	}
	var stop chan struct{}
	if opts.Progress != nil {
		stop = make(chan struct{})
		defer close(stop)
		go progressLoop(stop, func() { opts.Progress(co.files.Load()) })
	}
	if !n.IsDir {
		// A file subpath lands inside dest under its own name, as with ostree.
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return fmt.Errorf("checkout: %w", err)
		}
		d, err := os.Open(dest)
		if err != nil {
			return fmt.Errorf("checkout: %w", err)
		}
		defer d.Close()
		return co.file(int(d.Fd()), filepath.Base(n.Path), filepath.Join(dest, filepath.Base(n.Path)), n.File)
	}
	parent, _ := filepath.Split(filepath.Clean(dest))
	if parent == "" {
		parent = "."
	}
	pd, err := os.Open(parent)
	if err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	defer pd.Close()
	err = WalkPaths(ctx, r, NodeRoot(commit, n), runtime.GOMAXPROCS(0), checkoutDir{fd: int(pd.Fd()), path: dest, top: true}, co)
	if err != nil && ctx.Err() != nil {
		// As ostree's, a stopped checkout leaves what it wrote; each
		// directory gets its mode only once complete, so an incomplete
		// one stays private to its owner (0700).
		return fmt.Errorf("checkout of %s into %s stopped, leaving it incomplete: %w", commit, dest, err)
	}
	return err
}

// progressLoop calls fn every 100 ms until stop is closed.
func progressLoop(stop chan struct{}, fn func()) {
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			fn()
		}
	}
}

// checkoutDir is a directory of a checkout being written: its open fd, or
// for the top, the fd of the directory it is made in.
type checkoutDir struct {
	fd   int
	path string
	top  bool
}

// Enter creates one directory. It is created owner-writable and given its
// real mode in Leave, once its contents exist, so read-only directories
// can be filled.
func (co *checkout) Enter(ctx context.Context, parent checkoutDir, d Dir) (checkoutDir, error) {
	if _, err := co.dirMeta(d.Meta); err != nil {
		return checkoutDir{}, err
	}
	name, path := d.Name, filepath.Join(parent.path, d.Name)
	if parent.top {
		name, path = filepath.Base(filepath.Clean(parent.path)), parent.path
	}
	err := unix.Mkdirat(parent.fd, name, 0o700)
	if errors.Is(err, unix.EEXIST) && (co.opts.Union || parent.top && co.isEmptyDir(parent.fd, name)) {
		err = nil
	}
	if err != nil {
		return checkoutDir{}, fmt.Errorf("creating directory %s: %w", path, err)
	}
	fd, err := unix.Openat(parent.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return checkoutDir{}, fmt.Errorf("opening directory %s: %w", path, err)
	}
	return checkoutDir{fd: fd, path: path}, nil
}

func (co *checkout) File(ctx context.Context, s checkoutDir, d Dir, f object.FileEntry) error {
	if name, ok := strings.CutPrefix(f.Name, whiteoutPrefix); ok && co.opts.PassthroughWhiteouts {
		return co.whiteout(s.fd, name, filepath.Join(s.path, name), f.Checksum)
	}
	return co.file(s.fd, f.Name, filepath.Join(s.path, f.Name), f.Checksum)
}

// whiteout makes the whiteout device a .ostree-wh. file stands for.
func (co *checkout) whiteout(dfd int, name, path string, c object.Checksum) error {
	ct, err := co.r.OpenContent(c)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	h := ct.Header
	ct.Close()
	co.files.Add(1)
	if err := unix.Mknodat(dfd, name, unix.S_IFCHR|(h.Mode&0o7777), 0); err != nil {
		return fmt.Errorf("creating whiteout %s: %w", path, err)
	}
	if !co.opts.UserMode {
		if err := unix.Fchownat(dfd, name, int(h.UID), int(h.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	// mknod's mode is filtered by the umask.
	if err := unix.Fchmodat(dfd, name, h.Mode&0o7777, 0); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Leave gives a complete directory its owner, xattrs and mode.
func (co *checkout) Leave(ctx context.Context, s checkoutDir, d Dir, err error) error {
	defer unix.Close(s.fd)
	if err != nil {
		return err
	}
	m, err := co.dirMeta(d.Meta)
	if err != nil {
		return err
	}
	return co.applyMeta(s.fd, s.path, m.UID, m.GID, m.Mode, m.Xattrs)
}

// applyMeta gives a checked-out file or directory its owner, xattrs and
// mode; user mode skips owner and xattrs and drops setuid and setgid.
func (co *checkout) applyMeta(fd int, path string, uid, gid, mode uint32, xattrs []object.Xattr) error {
	mode &= object.ModePerm
	if co.opts.UserMode {
		mode &^= unix.S_ISUID | unix.S_ISGID
	} else {
		if err := unix.Fchown(fd, int(uid), int(gid)); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, x := range xattrs {
			if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
				return fmt.Errorf("%s: setting xattr %s: %w", path, x.Name, err)
			}
		}
	}
	// After chown, which clears setuid bits.
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func (co *checkout) isEmptyDir(pfd int, name string) bool {
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	names, err := f.Readdirnames(1)
	return err == io.EOF && len(names) == 0
}

// linkable reports whether the object file can serve as the checked-out file.
func (co *checkout) linkable(h *object.FileHeader) bool {
	if !co.canLink.Load() {
		return false
	}
	switch co.r.mode {
	case ModeBareUser:
		// A symlink is a regular file there, its target inside.
		return co.opts.UserMode && !h.IsSymlink()
	case ModeBareUserOnly:
		// The object's owner is the repo's, not the file's, which is only
		// right for user-mode checkouts (and its mode lacks setuid and o+w,
		// as ostree's -U checkouts do).
		return co.opts.UserMode
	case ModeBare:
		// A bare object carries the file's owner: a user-mode checkout,
		// which gives its files the caller's, copies it instead. A
		// symlink is a symlink there, linked as a file is.
		return !co.opts.UserMode
	}
	return false
}

// fastLink hardlinks a bare-user object into a user-mode checkout reading
// nothing but its user.ostreemeta xattr: this is the whole cost of a
// checkout, so it is kept to two syscalls. It returns false when the file
// needs the general path (a symlink, or linking failed).
func (co *checkout) fastLink(dfd int, name string, c object.Checksum) bool {
	if co.r.mode != ModeBareUser || !co.opts.UserMode || !co.canLink.Load() || co.opts.Union {
		return false
	}
	var buf [256]byte
	n, err := getxattrAt(co.objects, objectRel(c), "user.ostreemeta", buf[:])
	if err != nil || n < 12 {
		return false
	}
	mode := uint32(buf[8])<<24 | uint32(buf[9])<<16 | uint32(buf[10])<<8 | uint32(buf[11])
	if mode&object.ModeTypeMask != object.ModeRegular {
		return false
	}
	return unix.Linkat(co.objects, objectRel(c), dfd, name, 0) == nil
}

func (co *checkout) file(dfd int, name, path string, c object.Checksum) error {
	if co.fastLink(dfd, name, c) {
		co.files.Add(1)
		return nil
	}
	ct, err := co.r.OpenContent(c)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer ct.Close()
	h := &ct.Header
	co.files.Add(1)
	if co.opts.Union {
		if err := unix.Unlinkat(dfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EISDIR) {
			return fmt.Errorf("replacing %s: %w", path, err)
		}
	}
	if co.linkable(h) {
		err := unix.Linkat(co.objects, objectRel(c), dfd, name, 0)
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.EXDEV) {
			co.canLink.Store(false)
		} else if !errors.Is(err, unix.EMLINK) {
			return fmt.Errorf("linking %s: %w", path, err)
		}
	}
	if co.opts.RequireHardlinks && !h.IsSymlink() { // symlinks are made, never linked, as by ostree
		return fmt.Errorf("%s: cannot hardlink %s from the repo and hardlinks are required", path, c)
	}
	if h.IsSymlink() {
		if err := unix.Symlinkat(h.Target, dfd, name); err != nil {
			return fmt.Errorf("creating symlink %s: %w", path, err)
		}
		if !co.opts.UserMode {
			if err := unix.Fchownat(dfd, name, int(h.UID), int(h.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			for _, x := range h.Xattrs {
				if err := unix.Lsetxattr(path, x.Name, x.Value, 0); err != nil {
					return fmt.Errorf("%s: setting xattr %s: %w", path, x.Name, err)
				}
			}
		}
		return nil
	}
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	out := os.NewFile(uintptr(fd), path)
	defer out.Close()
	if raw := ct.File(); raw != nil {
		_, err = copyContent(fd, contentSource{fd: int(raw.Fd()), size: int64(ct.Size)})
	} else {
		_, err = io.Copy(out, ct.Reader)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := co.applyMeta(fd, path, h.UID, h.GID, h.Mode, h.Xattrs); err != nil {
		return err
	}
	if err := unix.Futimes(fd, []unix.Timeval{{}, {}}); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return out.Close()
}

// objectRel is a bare content object's path relative to objects/.
func objectRel(c object.Checksum) string {
	return strings.TrimPrefix(object.Path(c, object.TypeFile, false), "objects/")
}

// sameDevice reports whether dest (or, before it exists, the nearest
// directory above it) is on the filesystem of the directory fd.
func sameDevice(fd int, dest string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(fd, &a) != nil {
		return true // let linking say what is wrong
	}
	for p := filepath.Clean(dest); ; p = filepath.Dir(p) {
		if unix.Stat(p, &b) == nil {
			return a.Dev == b.Dev
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}
