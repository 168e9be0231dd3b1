package mountd

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"arbor/fs"
	"arbor/mountd/mountinfo"
)

// Detach removes a mount of the repository at repo whose server is gone
// (or going): lazily, so that a process still inside it does not keep the
// mount point broken. Another repository's mount is refused, and so is a
// path with a symlink on the way.
func Detach(repo, dir string) error {
	if !Owns(repo, dir) {
		if mountinfo.IsArbor(dir) {
			return fmt.Errorf("%s: an arbor mount of another repository than %s; refused", dir, repo)
		}
		return fmt.Errorf("%s: not an arbor mount", dir)
	}
	if os.Geteuid() == 0 {
		// The mount point itself may not answer (its server died); it
		// is reached through its parent.
		return fs.UnmountNoFollow(dir, unix.MNT_DETACH)
	}
	fd, err := fs.OpenDirNoFollow(filepath.Dir(filepath.Clean(dir)))
	if err != nil {
		return fmt.Errorf("unmounting %s: %w", dir, err)
	}
	unix.Close(fd)
	out, err := exec.Command("fusermount3", "-u", "-z", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("unmounting %s: fusermount3: %v: %s", dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Owns reports whether the arbor mount at dir is the repository's: named
// so, or made before mounts named their repository and recorded in the
// repository's own lists of mounts.
func Owns(repo, dir string) bool {
	if mountinfo.OwnedBy(dir, repo) {
		return true
	}
	if !mountinfo.Untagged(dir) {
		return false
	}
	dir = filepath.Clean(dir)
	for _, p := range []string{statePath(repo), keptPath(repo)} {
		if slices.ContainsFunc(readRequests(p), func(r MountRequest) bool { return filepath.Clean(r.Mountpoint) == dir }) {
			return true
		}
	}
	return false
}

// maxSocketPath is what fits in sockaddr_un with room to spare.
const maxSocketPath = 100

// shortPath names path in a way that fits a unix socket address: a long
// one is reached through an open descriptor of its directory. The
// returned function closes that descriptor.
func shortPath(path string) (string, func(), error) {
	if len(path) <= maxSocketPath {
		return path, func() {}, nil
	}
	fd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("opening %s: %w", filepath.Dir(path), err)
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, filepath.Base(path)), func() { unix.Close(fd) }, nil
}

// listenPrivate listens on a unix socket at path that no other user can
// connect to from its first moment: it is made with mode 0600 in a
// directory of its own with mode 0700, then renamed into place. Peers are
// also checked as they connect (peerChecked).
func listenPrivate(path string) (net.Listener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".sock-")
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	addr, closeAddr, err := shortPath(tmp)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", addr)
	closeAddr()
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // the daemon removes the socket at its own path
	if err := os.Chmod(tmp, 0o600); err != nil {
		ul.Close()
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ul.Close()
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	return peerChecked{ul}, nil
}

// peerChecked accepts connections only from this daemon's user and root.
type peerChecked struct{ *net.UnixListener }

func (l peerChecked) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		if uid, ok := peerUID(c); ok && (uid == uint32(os.Geteuid()) || uid == 0) {
			return c, nil
		}
		c.Close()
	}
}

func peerUID(c *net.UnixConn) (uint32, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return 0, false
	}
	return cred.Uid, true
}
