package mountd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"arbor/mountd/mountinfo"
)

// Detach removes an arbor mount whose server is gone (or going): lazily,
// so that a process still inside it does not keep the mount point broken.
func Detach(dir string) error {
	if !mountinfo.IsArbor(dir) {
		return fmt.Errorf("%s: not an arbor mount", dir)
	}
	if os.Geteuid() == 0 {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmounting %s: %w", dir, err)
		}
		return nil
	}
	out, err := exec.Command("fusermount3", "-u", "-z", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("unmounting %s: fusermount3: %v: %s", dir, err, strings.TrimSpace(string(out)))
	}
	return nil
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
