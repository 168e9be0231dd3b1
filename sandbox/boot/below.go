package boot

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"arbor/internal/mounts"
)

// A host tree is cloned with what is mounted below it, in the grant's
// mode: a build chroot's proc and sys, granted writable, would let a
// root-run app write core_pattern or uevent_helper and run code as root on
// the host. So, from the mount table read when the program is compiled, a
// proc file system below a tree refuses it, and the kernel's others below
// a writable tree are made read-only in the clone.

// submount is a kernel file system below a writable tree.
type submount struct {
	path     string // on the host
	rel      string // below the tree's source
	dev, ino uint64 // the directory it is mounted in
}

// kernelBelow are the kernel's file systems mounted below source, a clean
// path, that its clone must not leave writable: none when the clone is
// read-only all through. A proc file system there refuses the tree even
// read-only: it shows the host's processes and none of the masks.
func kernelBelow(ms []mounts.Mount, what, source string, writable bool) ([]mounts.Mount, error) {
	var out []mounts.Mount
	for _, m := range mounts.Below(ms, source) {
		if m.FSType == "proc" {
			return nil, fmt.Errorf("%s %s: %s is a proc file system; refused", what, source, m.Point)
		}
		if writable && kernelFSNamed(m.FSType) {
			out = append(out, m)
		}
	}
	return out, nil
}

// pin finds the directory m is mounted in, opened without following
// symlinks, and checks from it that m is the mount there now (not covered,
// not moved since the table was read). The program checks that it finds
// the same directory in the clone before it makes the mount there
// read-only: a directory renamed meanwhile, by an app that can write the
// tree, then fails the start instead of leaving the mount writable where
// it went.
func pin(what, source string, m mounts.Mount) (submount, error) {
	fail := func(err error) (submount, error) {
		return submount{}, fmt.Errorf("%s %s: %s (%s): %w", what, source, m.Point, m.FSType, err)
	}
	dir, name := filepath.Split(m.Point)
	dfd, err := unix.Openat2(unix.AT_FDCWD, dir, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return fail(err)
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	if err := unix.Fstat(dfd, &st); err != nil {
		return fail(err)
	}
	fd, err := unix.Openat2(dfd, name, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return fail(err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 || stx.Mnt_id != uint64(m.ID) {
		return fail(errors.New("covered by another mount, or moved; refused"))
	}
	rel := strings.TrimPrefix(m.Point, strings.TrimSuffix(source, "/")+"/")
	return submount{path: m.Point, rel: rel, dev: st.Dev, ino: st.Ino}, nil
}

// readOnlyBelow makes the kernel file systems below t read-only, nosuid,
// nodev and noexec, once t is in place (the kernel changes no mount of a
// detached tree but its root). Each is looked up from t's root without
// following symlinks, from its directory, which must be the one pinned. A
// lookup that fails, even with ENOENT, fails the start: the directory may
// have been renamed with the mount in it.
func (p *program) readOnlyBelow(t hostTree) {
	if len(t.subs) == 0 {
		return
	}
	fd, sub := p.reg(), p.reg()
	attr := p.words(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, 0, 0, 0)
	st := p.data(make([]byte, unsafe.Sizeof(unix.Stat_t{})))
	for _, s := range t.subs {
		step := t.what + " " + t.source + ": making " + s.path + " read-only"
		dir, name := filepath.Split(s.rel)
		parent := t.reg
		if dir != "" {
			p.sys(step, unix.SYS_OPENAT2, in(t.reg), imm(p.str(dir)), imm(p.how(unix.O_DIRECTORY)), imm(24)).dst = fd
			parent = fd
		}
		p.sys(step, unix.SYS_FSTAT, in(parent), imm(st))
		p.expect(step, st+uint64(unsafe.Offsetof(unix.Stat_t{}.Dev)), s.dev)
		p.expect(step, st+uint64(unsafe.Offsetof(unix.Stat_t{}.Ino)), s.ino)
		p.sys(step, unix.SYS_OPENAT2, in(parent), imm(p.str(name)), imm(p.how(0)), imm(24)).dst = sub
		if parent != t.reg {
			p.sys(step, unix.SYS_CLOSE, in(fd))
		}
		p.sys(step, unix.SYS_MOUNT_SETATTR, in(sub), imm(p.str("")), num(unix.AT_EMPTY_PATH|unix.AT_RECURSIVE), imm(attr), imm(32))
		p.sys(step, unix.SYS_CLOSE, in(sub))
	}
}
