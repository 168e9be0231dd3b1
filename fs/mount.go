package fs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// MountConfig says how a tree is mounted.
type MountConfig struct {
	// Name is the mount's source in /proc/self/mountinfo.
	Name string
	// Privileged mounts with mount(2) from this process (root), open to
	// every user; otherwise fusermount3 mounts for this user alone.
	Privileged bool
	// Setuid honours setuid and setgid bits and file capabilities (a
	// lazy OS deployment's /usr); privileged mounts only. Everything else
	// is mounted nosuid.
	Setuid bool
}

// ErrNotOurs is returned for an unmount of a mount point where another
// mount than the one made is now found.
var ErrNotOurs = errors.New("another mount than this one is there now")

// Mounted is a tree being served at a mount point.
type Mounted struct {
	srv   *fuse.Server
	dir   string
	mntID uint64 // set when this process made the mount itself
}

// mountOptions are the go-fuse options arbor mounts with: read-only, kernel
// permission checks on the modes the commit records, long cache timeouts.
func mountOptions(c MountConfig) *gofs.Options {
	to := cacheTimeout
	o := &gofs.Options{
		EntryTimeout:    &to,
		AttrTimeout:     &to,
		NegativeTimeout: &to,
		// Inode numbers of files come from their checksums.
		FirstAutomaticIno: 1 << 63,
	}
	o.MountOptions = fuse.MountOptions{
		FsName:               c.Name,
		Name:                 "arbor",
		Options:              []string{"ro", "default_permissions"},
		MaxWrite:             1 << 20,
		MaxReadAhead:         1 << 20,
		EnableSymlinkCaching: true,
		AllowOther:           c.Privileged,
		// READDIRPLUS answers a listing and the lookups that follow it in
		// one round trip; a listing describes every file anyway (d_type).
	}
	return o
}

// Mount serves root (a Root, or a node whose children are Roots) at dir
// until it is unmounted. No symlink is followed on the way to dir: a
// privileged mount is made on the directory opened that way, so that a
// path swapped for a symlink meanwhile changes nothing.
func Mount(dir string, root gofs.InodeEmbedder, c MountConfig) (*Mounted, error) {
	if c.Setuid && !c.Privileged {
		return nil, fmt.Errorf("mounting %s: setuid files need a privileged mount", dir)
	}
	dfd, err := OpenDirNoFollow(dir)
	if err != nil {
		return nil, fmt.Errorf("mount point %w", err)
	}
	defer unix.Close(dfd)
	opts := mountOptions(c)
	raw := &noOpendir{RawFileSystem: gofs.NewNodeFS(root, opts)}
	at := dir
	if c.Privileged {
		ffd, err := mountAt(dfd, c, &opts.MountOptions)
		if err != nil {
			return nil, fmt.Errorf("mounting %s: %w", dir, err)
		}
		// go-fuse serves a connection it is handed as /dev/fd/N.
		at = fmt.Sprintf("/dev/fd/%d", ffd)
	}
	srv, err := fuse.NewServer(raw, at, &opts.MountOptions)
	if err != nil {
		if c.Privileged {
			// The connection's descriptor is go-fuse's now (it closes it
			// when INIT fails, the one likely failure); the mount goes.
			unix.Unmount(fmt.Sprintf("/proc/self/fd/%d", dfd), unix.MNT_DETACH)
		}
		return nil, fmt.Errorf("mounting %s: %w", dir, err)
	}
	go srv.Serve()
	m := &Mounted{srv: srv, dir: dir}
	if !c.Privileged {
		if err := srv.WaitMount(); err != nil {
			srv.Unmount()
			return nil, fmt.Errorf("mounting %s: %w", dir, err)
		}
		return m, nil
	}
	if err := m.settle(); err != nil {
		unix.Unmount(fmt.Sprintf("/proc/self/fd/%d", dfd), unix.MNT_DETACH)
		srv.Wait()
		return nil, fmt.Errorf("mounting %s: %w", dir, err)
	}
	return m, nil
}

// mountAt mounts a new FUSE connection on the directory dfd and returns
// the connection's descriptor.
func mountAt(dfd int, c MountConfig, o *fuse.MountOptions) (int, error) {
	ffd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening /dev/fuse: %w", err)
	}
	flags := uintptr(unix.MS_NODEV | unix.MS_RDONLY)
	if !c.Setuid {
		flags |= unix.MS_NOSUID
	}
	data := fmt.Sprintf("fd=%d,rootmode=40000,user_id=%d,group_id=%d,max_read=%d,default_permissions,allow_other",
		ffd, os.Geteuid(), os.Getegid(), o.MaxWrite)
	if err := unix.Mount(c.Name, fmt.Sprintf("/proc/self/fd/%d", dfd), "fuse."+o.Name, flags, data); err != nil {
		unix.Close(ffd)
		return -1, err
	}
	return ffd, nil
}

// settle records which mount is ours and makes the kernel ask POLL once,
// as go-fuse does after mounting, so that it never asks again (a POLL
// could wait on the very thread that would answer it).
func (m *Mounted) settle() error {
	fd, err := OpenDirNoFollow(m.dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if m.mntID, err = mountID(fd); err != nil {
		return err
	}
	if hack, err := unix.Openat(fd, ".go-fuse-epoll-hack", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		unix.Poll([]unix.PollFd{{Fd: int32(hack), Events: unix.POLLIN | unix.POLLPRI | unix.POLLOUT}}, 0)
		unix.Close(hack)
	}
	return nil
}

// Wait returns once the mount is gone (unmounted here or from outside).
func (m *Mounted) Wait() { m.srv.Wait() }

// Unmount ends the mount, if the mount point still holds it.
func (m *Mounted) Unmount() error {
	if m.mntID == 0 {
		return m.srv.Unmount()
	}
	if err := m.check(); err != nil {
		return fmt.Errorf("unmounting: %w", err)
	}
	// As go-fuse does, a few tries: the kernel may still count files
	// just closed.
	var err error
	delay := time.Duration(0)
	for try := 0; try < 5; try++ {
		if err = UnmountNoFollow(m.dir, 0); !errors.Is(err, unix.EBUSY) {
			break
		}
		delay = 2*delay + 5*time.Millisecond
		time.Sleep(delay)
	}
	if err != nil {
		return err
	}
	m.srv.Wait()
	return nil
}

// UnmountNoFollow unmounts the mount at dir, reached without following a
// symlink: through a descriptor of its parent opened so, and not
// following the last component. (A descriptor of the mount itself would
// keep it busy.)
func UnmountNoFollow(dir string, flags int) error {
	dir = filepath.Clean(dir)
	pfd, err := OpenDirNoFollow(filepath.Dir(dir))
	if err != nil {
		return fmt.Errorf("unmounting %s: %w", dir, err)
	}
	defer unix.Close(pfd)
	at := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, filepath.Base(dir))
	if err := unix.Unmount(at, flags|unix.UMOUNT_NOFOLLOW); err != nil {
		return fmt.Errorf("unmounting %s: %w", dir, err)
	}
	return nil
}

// check makes sure the mount point, reached without symlinks, is still
// this mount.
func (m *Mounted) check() error {
	fd, err := OpenDirNoFollow(m.dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	id, err := mountID(fd)
	if err != nil {
		return fmt.Errorf("%s: %w", m.dir, err)
	}
	if id != m.mntID {
		return fmt.Errorf("%s: %w", m.dir, ErrNotOurs)
	}
	return nil
}

// OpenDirNoFollow opens a directory by absolute path as O_PATH, refusing
// a symlink anywhere in the path.
func OpenDirNoFollow(dir string) (int, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, dir, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case errors.Is(err, unix.ELOOP):
		return -1, fmt.Errorf("%s: a symlink is on the way; refused", dir)
	case errors.Is(err, unix.ENOTDIR):
		return -1, fmt.Errorf("%s: not a directory", dir)
	case err != nil:
		return -1, fmt.Errorf("%s: %w", dir, err)
	}
	return fd, nil
}

// mountID is the id of the mount a descriptor is on.
func mountID(fd int) (uint64, error) {
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &st); err != nil {
		return 0, fmt.Errorf("statx: %w", err)
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return 0, errors.New("the kernel gives no mount id")
	}
	return st.Mnt_id, nil
}
