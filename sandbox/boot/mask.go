package boot

import (
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"arbor/internal/mounts"
)

type maskedPath struct {
	path string
	dir  bool // a directory, covered by an empty one; else a file
}

// The kernel's files a sandboxed command must not write or read, as runc
// and Docker hide them by default, and more: a command run by root keeps
// uid 0, which passes the permission checks of root's 0644 files even
// with no capability (core_pattern ran code as root on the host), and a
// shared network namespace makes /proc/sys/net the host's.
var (
	// readOnly are bound read-only onto themselves, recursively.
	readOnly = []string{"proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger"}
	// masked are covered by an empty read-only file or directory.
	masked = []maskedPath{
		{"proc/acpi", true}, {"proc/asound", true}, {"proc/scsi", true},
		{"proc/interrupts", false}, {"proc/kcore", false}, {"proc/keys", false},
		{"proc/latency_stats", false}, {"proc/timer_list", false}, {"proc/timer_stats", false},
		{"proc/sched_debug", false}, {"proc/kpagecount", false}, {"proc/kpageflags", false},
		{"proc/kpagecgroup", false},
		// Only where /sys (or a part of it) is bound in.
		{"sys/firmware", true}, {"sys/devices/virtual/powercap", true}, {"sys/devices/virtual/tpm", true},
	}
)

// maskSource makes, under base, an empty file and an empty directory on
// a read-only mount, which bind mounts of them inherit.
func (p *program) maskSource(base string) (file, dir string) {
	src := path.Join(base, "mask")
	file, dir = path.Join(src, "file"), path.Join(src, "dir")
	p.mkdir(src, 0o755, false)
	p.mkdir(dir, 0o555, false)
	p.sys("making "+file, unix.SYS_MKNODAT, num(unix.AT_FDCWD), imm(p.str(file)), num(unix.S_IFREG|0o444), imm(0))
	p.mount("making "+src+" read-only", src, src, "", unix.MS_BIND, "")
	p.mount("making "+src+" read-only", "", src, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	return file, dir
}

// protect makes the readOnly paths read-only and covers the masked ones,
// in the fresh /proc and in whatever of /sys the binds brought in. A path
// this kernel does not have is skipped; failing to protect one it has
// is an error naming it.
func (p *program) protect(l *layout, binds []string, file, dir string) {
	attr := p.words(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, 0, 0, 0)
	done := p.reg()
	for _, rel := range readOnly {
		// /proc is the kernel's, just mounted, with no bind inside it
		// (compile refuses one): its paths are used as they are.
		step := "making /" + rel + " read-only"
		o := p.sys(step, unix.SYS_MOUNT, imm(p.str(l.in(rel))), imm(p.str(l.in(rel))), imm(0), num(unix.MS_BIND|unix.MS_REC), imm(0))
		o.dst, o.ok = done, uint64(unix.ENOENT)
		p.sys(step, unix.SYS_MOUNT_SETATTR, num(unix.AT_FDCWD), imm(p.str(l.in(rel))),
			num(unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW), imm(attr), imm(32)).guard = done
	}
	for _, m := range masked {
		step := "masking /" + m.path
		src := file
		if m.dir {
			src = dir
		}
		if strings.HasPrefix(m.path, "proc/") {
			p.sys(step, unix.SYS_MOUNT, imm(p.str(src)), imm(p.str(l.in(m.path))), imm(0), num(unix.MS_BIND), imm(0)).ok = uint64(unix.ENOENT)
			continue
		}
		if !slices.ContainsFunc(binds, func(d string) bool { return within(m.path, d) || within(d, m.path) }) {
			continue
		}
		// Inside a bind from the host: resolved as every foreign path is.
		fd, tree := p.reg(), p.reg()
		o := p.sys(step, unix.SYS_OPENAT2, in(l.rootFD), imm(p.str(m.path)), imm(p.how(unix.O_DIRECTORY)), imm(24))
		o.dst, o.ok = fd, uint64(unix.ENOENT)
		o = p.sys(step, unix.SYS_OPEN_TREE, num(unix.AT_FDCWD), imm(p.str(src)), num(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC))
		o.dst, o.guard = tree, fd
		p.sys(step, unix.SYS_MOVE_MOUNT, in(tree), imm(p.str("")), in(fd), imm(p.str("")),
			num(unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)).guard = fd
		p.sys(step, unix.SYS_CLOSE, in(tree)).guard = fd
		p.sys(step, unix.SYS_CLOSE, in(fd)).guard = fd
	}
}

// within says whether rel is dir or inside it.
func within(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }

// Masked says whether the absolute path dest is, or is inside, a path the
// sandbox masks: a bind there would be hidden.
func Masked(dest string) bool {
	rel := strings.TrimPrefix(path.Clean(dest), "/")
	return slices.ContainsFunc(masked, func(m maskedPath) bool { return within(rel, m.path) })
}

// kernelFS are the kernel's own file systems other than proc, by the
// name mountinfo gives them and the magic statfs does. A tree from the
// host that is one, or has one mounted below it, has it read-only
// whatever the grant: as root, a writable /sys alone runs code as root on
// the host (/sys/kernel/uevent_helper).
var kernelFS = []fsKind{
	{"sysfs", unix.SYSFS_MAGIC}, {"debugfs", unix.DEBUGFS_MAGIC}, {"tracefs", unix.TRACEFS_MAGIC},
	{"securityfs", unix.SECURITYFS_MAGIC}, {"efivarfs", unix.EFIVARFS_MAGIC}, {"cgroup", unix.CGROUP_SUPER_MAGIC},
	{"cgroup2", unix.CGROUP2_SUPER_MAGIC}, {"bpf", unix.BPF_FS_MAGIC}, {"pstore", unix.PSTOREFS_MAGIC},
	{"selinuxfs", unix.SELINUX_MAGIC}, {"smackfs", unix.SMACK_MAGIC}, {"binfmt_misc", unix.BINFMTFS_MAGIC},
	// Not in the kernel's uapi headers, so not in x/sys.
	{"configfs", 0x62656570}, {"fusectl", 0x65735543},
}

type fsKind struct {
	name  string
	magic int64
}

// kernelFSNamed says whether mountinfo's type name is one of kernelFS.
func kernelFSNamed(name string) bool {
	return slices.ContainsFunc(kernelFS, func(k fsKind) bool { return k.name == name })
}

// hostKernelFS says what a host tree's source is: a proc file system,
// which is refused (the host's processes, and none of the masks above),
// or one of the kernel's others, which is cloned read-only. Only root can
// mount one, so the path cannot be changed for another between this look
// and the open. The kind comes from the mount table, by the source's
// mount id: a statfs would cost a FUSE source (a lazily mounted runtime)
// a round trip to its daemon on every start.
func hostKernelFS(ms []mounts.Mount, source string) (proc, readOnly bool) {
	var stx unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, source, unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_DONT_SYNC, unix.STATX_MNT_ID, &stx) == nil &&
		stx.Mask&unix.STATX_MNT_ID != 0 {
		if i := slices.IndexFunc(ms, func(m mounts.Mount) bool { return uint64(m.ID) == stx.Mnt_id }); i >= 0 {
			return ms[i].FSType == "proc", kernelFSNamed(ms[i].FSType)
		}
	}
	var st unix.Statfs_t
	if unix.Statfs(source, &st) != nil {
		return false, false // the open says why
	}
	return st.Type == unix.PROC_SUPER_MAGIC, slices.ContainsFunc(kernelFS, func(k fsKind) bool { return k.magic == st.Type })
}
