// Package sysroot keeps a machine's operating system as ostree keeps it:
// commits deployed in a sysroot (ostree/repo, ostree/deploy/STATEROOT/...),
// bootloader entries naming them, and one atomic switch between two
// complete boot configurations. The layout is ostree's, so ostree admin
// reads what arbor writes and the reverse.
package sysroot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"arbor/deploy/history"
	"arbor/store"
	"arbor/store/keyfile"
	"arbor/store/object"
)

// Sysroot is an open sysroot and its repository.
type Sysroot struct {
	Path string
	Repo *store.Repo
	// Mounter serves lazy deployments; without one, only materialized
	// deployments can be made.
	Mounter Mounter
	// History records deployments, rollbacks, pins and upgrades; nil
	// records nothing.
	History *history.Log
	// Debug changes behaviour for tests and odd systems, as ostree's
	// OSTREE_SYSROOT_DEBUG does.
	Debug Debug
	// Written, when set, hears of each new boot configuration.
	Written func(BootWrite)
	// Grub2Mkconfig writes grub.cfg for a grub2 system (default:
	// grub2-mkconfig on $PATH).
	Grub2Mkconfig string
}

// BootWrite says what a new boot configuration changed.
type BootWrite struct {
	// Swap is a new boot version (new loader entries); without it only
	// the ostree/boot.B links changed.
	Swap                        bool
	BootVersion, SubBootVersion int
	CountChange                 int // deployments now less before
}

// Debug is what OSTREE_SYSROOT_DEBUG names, comma-separated.
type Debug struct {
	// NoDtb leaves device tree directories out of boot checksums and
	// /boot.
	NoDtb bool
	// TestFifreeze fails each boot configuration write where /boot
	// would be frozen and thawed, to test the recovery from it.
	TestFifreeze bool
	// MutableDeployments leaves deployment roots without the immutable
	// flag.
	MutableDeployments bool
}

// ParseDebug reads OSTREE_SYSROOT_DEBUG's value; unknown names are
// ignored.
func ParseDebug(v string) Debug {
	var d Debug
	for _, f := range strings.Split(v, ",") {
		switch strings.TrimSpace(f) {
		case "no-dtb":
			d.NoDtb = true
		case "test-fifreeze":
			d.TestFifreeze = true
		case "mutable-deployments":
			d.MutableDeployments = true
		}
	}
	return d
}

// Mounter mounts a commit's /usr lazily for a thin client's deployment,
// to stay mounted across restarts until unmounted (the daemon, in arbor).
// With setuid, the mount honours setuid bits and file capabilities, and
// serves only verified attributes.
type Mounter interface {
	MountUsr(ctx context.Context, source, dir string, setuid bool) error
	Unmount(ctx context.Context, dir string) error
}

// InitFS makes an empty sysroot at path, as `ostree admin init-fs` does:
// the top directories of a root filesystem and a bare repository.
func InitFS(path string, modern bool) error {
	type dir struct {
		name string
		mode os.FileMode
	}
	dirs := []dir{{"boot", 0o755}, {"ostree", 0o755}, {"ostree/deploy", 0o755}}
	if !modern {
		// The rest of a root, which a system that mounts its own API
		// filesystems (ostree's --modern) makes itself.
		dirs = append(dirs, dir{"dev", 0o755}, dir{"home", 0o755}, dir{"proc", 0o755}, dir{"run", 0o755},
			dir{"sys", 0o755}, dir{"tmp", 0o1777}, dir{"root", 0o700})
	}
	for _, d := range dirs {
		p := filepath.Join(path, d.name)
		if err := os.MkdirAll(p, d.mode); err != nil {
			return fmt.Errorf("init-fs %s: %w", path, err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return fmt.Errorf("init-fs %s: %w", path, err)
		}
	}
	repo := filepath.Join(path, "ostree", "repo")
	if _, err := os.Stat(filepath.Join(repo, "config")); err == nil {
		return nil
	}
	r, err := store.Init(repo, store.ModeBare)
	if err != nil {
		return fmt.Errorf("init-fs %s: %w", path, err)
	}
	return r.Close()
}

// Open opens the sysroot at path.
func Open(path string) (*Sysroot, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(filepath.Join(path, "ostree", "deploy")); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a sysroot: no ostree/deploy (run admin init-fs)", path)
	}
	r, err := store.Open(filepath.Join(path, "ostree", "repo"))
	if err != nil {
		return nil, fmt.Errorf("sysroot %s: %w", path, err)
	}
	return &Sysroot{Path: path, Repo: r}, nil
}

// Close closes the repository.
func (s *Sysroot) Close() error { return s.Repo.Close() }

// ValidateStateroot refuses names that are not one path element.
func ValidateStateroot(name string) error {
	if err := object.ValidateName(name); err != nil {
		return fmt.Errorf("stateroot %q: %w", name, err)
	}
	return nil
}

func (s *Sysroot) stateroot(name string) string {
	return filepath.Join(s.Path, "ostree", "deploy", name)
}

// OSInit makes a stateroot: its deploy directory and the /var its
// deployments share.
func (s *Sysroot) OSInit(name string) error {
	if err := ValidateStateroot(name); err != nil {
		return err
	}
	root := s.stateroot(name)
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"var", 0o755}, {"var/lib", 0o755}, {"var/log", 0o755}, {"var/tmp", 0o1777}} {
		if err := os.MkdirAll(filepath.Join(root, d.name), d.mode); err != nil {
			return fmt.Errorf("os-init %s: %w", name, err)
		}
		os.Chmod(filepath.Join(root, d.name), d.mode)
	}
	for link, target := range map[string]string{"var/lock": "../run/lock", "var/run": "../run"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("os-init %s: %w", name, err)
		}
	}
	return nil
}

// Stateroots lists the sysroot's stateroots.
func (s *Sysroot) Stateroots() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.Path, "ostree", "deploy"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && ValidateStateroot(e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// bootVersion is N of the boot/loader -> loader.N symlink (0 without one).
func (s *Sysroot) bootVersion() int {
	return linkVersion(filepath.Join(s.Path, "boot", "loader"), "loader.")
}

// subBootVersion is S of the ostree/boot.B -> boot.B.S symlink (0 without one).
func (s *Sysroot) subBootVersion(b int) int {
	return linkVersion(filepath.Join(s.Path, "ostree", fmt.Sprintf("boot.%d", b)), fmt.Sprintf("boot.%d.", b))
}

func linkVersion(link, prefix string) int {
	t, err := os.Readlink(link)
	if err != nil {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(t, prefix)); err == nil && (n == 0 || n == 1) {
		return n
	}
	return 0
}

// syncFS flushes the whole filesystem holding path (one call for a
// checkout's many files, as ostree does).
func syncFS(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return &fs.PathError{Op: "syncfs", Path: path, Err: err}
	}
	return nil
}

// setImmutable sets or clears the immutable flag of a deployment's root,
// as ostree sets it so that nothing is added at the top of a root by
// mistake. Filesystems without the flag are left as they are.
func setImmutable(dir string, on bool) error {
	const immutable = 0x10 // FS_IMMUTABLE_FL
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return nil
	}
	want := flags &^ immutable
	if on {
		want |= immutable
	}
	if want == flags {
		return nil
	}
	if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, want); err != nil &&
		!errors.Is(err, unix.ENOTTY) && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EINVAL) {
		return &fs.PathError{Op: "set flags", Path: dir, Err: err}
	}
	return nil
}

// RepoPath is the repository of the sysroot at root.
func RepoPath(root string) string { return filepath.Join(root, "ostree", "repo") }

// RemotesConfigDir is where a remote added to the repository of root goes
// as its own file: a deployment's root (one with a /sysroot) keeps its
// remotes in its etc/ostree/remotes.d, unless the repository's
// core.add-remotes-config-dir is false; "" means the repository's config,
// as for the physical sysroot.
func RemotesConfigDir(root string, repoConfig *keyfile.File) string {
	if fi, err := os.Stat(filepath.Join(root, "sysroot")); err != nil || !fi.IsDir() {
		return ""
	}
	if on, err := repoConfig.Bool("core", "add-remotes-config-dir", true); err == nil && !on {
		return ""
	}
	return filepath.Join(root, "etc", "ostree", "remotes.d")
}
