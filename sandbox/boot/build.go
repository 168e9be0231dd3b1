package boot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The new root is built on a tmpfs in this private place, then entered
// with pivot_root; the old root is detached.
const base = "/tmp"

// build makes the sandbox's root and enters it.
func build(spec *Spec) error {
	// Nothing done here may leak back to the host's mounts.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	// Host paths are opened first, refusing symlinks anywhere in them, and
	// mounted from the descriptor: a path swapped for a symlink after this
	// point changes nothing (the flaw behind CVE-2024-42472).
	runtimeTree, _, err := treeOf(spec.Runtime, false, false)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	var appTree int = -1
	if spec.App != "" {
		if appTree, _, err = treeOf(spec.App, spec.AppWritable, false); err != nil {
			return fmt.Errorf("app: %w", err)
		}
	}
	binds := make([]int, len(spec.Binds))
	bindDirs := make([]bool, len(spec.Binds))
	for i, b := range spec.Binds {
		if !filepath.IsAbs(b.Dest) || filepath.Clean(b.Dest) != b.Dest || b.Dest == "/" {
			return fmt.Errorf("bind destination %q: not a clean absolute path", b.Dest)
		}
		if binds[i], bindDirs[i], err = treeOf(b.Source, b.Writable, b.Device); err != nil {
			return fmt.Errorf("bind %s: %w", b.Source, err)
		}
	}
	devs := map[string]int{}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if fd, err := treeOfDev("/dev/" + d); err == nil {
			devs[d] = fd
		}
	}

	if err := unix.Mount("tmpfs", base, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("tmpfs on %s: %w", base, err)
	}
	root := filepath.Join(base, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("tmpfs root: %w", err)
	}
	in := func(p string) string { return filepath.Join(root, p) }
	for _, d := range []string{"usr", "app", "proc", "dev", "tmp", "etc", "run", "var", "oldroot", "run/user"} {
		if err := os.MkdirAll(in(d), 0o755); err != nil {
			return err
		}
	}
	if err := moveTree(runtimeTree, in("usr")); err != nil {
		return fmt.Errorf("runtime at /usr: %w", err)
	}
	if appTree >= 0 {
		if err := moveTree(appTree, in("app")); err != nil {
			return fmt.Errorf("app at /app: %w", err)
		}
	}
	// /bin, /lib, /lib64, /sbin point into /usr where the runtime has them.
	for _, d := range []string{"bin", "lib", "lib32", "lib64", "sbin"} {
		if fi, err := os.Stat(in("usr/" + d)); err == nil && fi.IsDir() {
			if err := os.Symlink("usr/"+d, in(d)); err != nil {
				return err
			}
		}
	}
	if !spec.System {
		if err := buildEtc(root, spec); err != nil {
			return err
		}
	}
	if err := unix.Mount("proc", in("proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	if err := buildDev(in("dev"), devs); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", in("tmp"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("/tmp: %w", err)
	}
	run := in(RuntimeDir(spec.UID))
	if err := os.MkdirAll(run, 0o700); err != nil {
		return err
	}
	if err := os.Lchown(run, spec.UID, spec.GID); err != nil {
		return err
	}
	home := homeOf(spec)
	if err := os.MkdirAll(in(home), 0o755); err != nil {
		return err
	}
	os.Lchown(in(home), spec.UID, spec.GID)
	for i, b := range spec.Binds {
		dest := in(b.Dest)
		if err := makeDest(dest, bindDirs[i]); err != nil {
			return fmt.Errorf("bind %s: %w", b.Dest, err)
		}
		if err := moveTree(binds[i], dest); err != nil {
			return fmt.Errorf("bind %s: %w", b.Dest, err)
		}
	}

	if spec.Info != nil {
		info := in(".flatpak-info")
		if err := os.WriteFile(info, spec.Info, 0o600); err != nil {
			return err
		}
		if err := os.Lchown(info, spec.UID, spec.GID); err != nil {
			return err
		}
		if err := os.Symlink("../../../.flatpak-info", filepath.Join(run, "flatpak-info")); err != nil {
			return err
		}
	}
	if err := unix.PivotRoot(root, in("oldroot")); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/oldroot", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	if err := os.Remove("/oldroot"); err != nil {
		return err
	}
	// The root itself is read-only: only /tmp, /run/user and binds are
	// writable.
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("making / read-only: %w", err)
	}
	if h, err := os.Hostname(); err == nil {
		unix.Sethostname([]byte(h))
	}
	if !spec.Network {
		loopbackUp()
	}
	return nil
}

// treeOf opens path without following any symlink in it and clones the
// mount tree there, with nosuid, nodev unless device, and read-only unless
// writable. It also says whether path is a directory.
func treeOf(path string, writable, device bool) (int, bool, error) {
	if !filepath.IsAbs(path) {
		return -1, false, fmt.Errorf("%s: not an absolute path", path)
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		if err == unix.ELOOP {
			return -1, false, fmt.Errorf("%s: a symlink is on the way; refused", path)
		}
		return -1, false, fmt.Errorf("%s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, false, err
	}
	tree, err := cloneTree(fd, writable, device)
	return tree, st.Mode&unix.S_IFMT == unix.S_IFDIR, err
}

// makeDest makes a mount point: a directory, or an empty file for a file.
func makeDest(dest string, dir bool) error {
	if dir {
		return os.MkdirAll(dest, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if _, err := os.Lstat(dest); err == nil {
		return nil
	}
	return os.WriteFile(dest, nil, 0o644)
}

func treeOfDev(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return -1, err
	}
	return tree, unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC})
}

func cloneTree(fd int, writable, device bool) (int, error) {
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return -1, fmt.Errorf("cloning the mount: %w", err)
	}
	attr := uint64(unix.MOUNT_ATTR_NOSUID)
	if !device {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if !writable {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr}); err != nil {
		unix.Close(tree)
		return -1, fmt.Errorf("restricting the mount: %w", err)
	}
	return tree, nil
}

func moveTree(tree int, dest string) error {
	defer unix.Close(tree)
	return unix.MoveMount(tree, "", unix.AT_FDCWD, dest, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

// buildDev makes a minimal /dev: the harmless devices bound from the
// host, a private devpts, shm, and the usual links.
func buildDev(dev string, devs map[string]int) error {
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755"); err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	for name, tree := range devs {
		p := filepath.Join(dev, name)
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return err
		}
		if err := moveTree(tree, p); err != nil {
			return fmt.Errorf("/dev/%s: %w", name, err)
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620"); err != nil {
		return fmt.Errorf("/dev/pts: %w", err)
	}
	if err := unix.Mount("tmpfs", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("/dev/shm: %w", err)
	}
	for link, target := range map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "core": "/proc/kcore"} {
		if err := os.Symlink(target, filepath.Join(dev, link)); err != nil {
			return err
		}
	}
	return nil
}

func homeOf(spec *Spec) string {
	if spec.Home != "" {
		return spec.Home
	}
	return "/home/" + userName(spec)
}

func userName(spec *Spec) string {
	if spec.UserName != "" {
		return spec.UserName
	}
	return "user"
}

// buildEtc makes /etc: each entry of the runtime's etc (at /usr/etc)
// linked in, and passwd, group and machine-id generated; with the network
// shared, the host's resolver files, as flatpak does.
func buildEtc(root string, spec *Spec) error {
	etc := filepath.Join(root, "etc")
	generated := map[string]string{
		"passwd": fmt.Sprintf("%s:x:%d:%d:%s:%s:/bin/sh\nnfsnobody:x:65534:65534:Unmapped user:/:/sbin/nologin\n",
			userName(spec), spec.UID, spec.GID, userName(spec), homeOf(spec)),
		"group": fmt.Sprintf("%s:x:%d:\nnfsnobody:x:65534:\n", userName(spec), spec.GID),
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		generated["machine-id"] = string(b)
	}
	host := map[string]bool{}
	if spec.Network {
		for _, f := range []string{"resolv.conf", "hosts", "host.conf", "gai.conf"} {
			if b, err := os.ReadFile("/etc/" + f); err == nil {
				generated[f] = string(b)
				host[f] = true
			}
		}
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil && strings.Contains(target, "zoneinfo/") {
		// The zone name, resolved against the runtime's zoneinfo.
		zone := target[strings.Index(target, "zoneinfo/"):]
		os.Symlink("/usr/share/"+zone, filepath.Join(etc, "localtime"))
		host["localtime"] = true
	}
	for name, content := range generated {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(filepath.Join(root, "usr", "etc"))
	if err != nil {
		return nil // a runtime without etc
	}
	for _, e := range ents {
		if _, ok := generated[e.Name()]; ok || host[e.Name()] {
			continue
		}
		if err := os.Symlink("/usr/etc/"+e.Name(), filepath.Join(etc, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// loopbackUp brings up lo in a new network namespace, as bubblewrap does.
func loopbackUp() {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
