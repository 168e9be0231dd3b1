package boot

import (
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// layout is what the program knows, while it is compiled, of the new
// root's paths (relative to it: "home/u/data"). A directory it made in a
// tmpfs of its own holds nothing it did not put there, so paths made only
// of such directories are created and used by path. Anything else is
// foreign: the inside of a tree mounted from the host, where an app of an
// earlier run, or one running now, may have planted symlinks; the kernel's
// own trees; and what the program made that is not a directory (the /etc
// and /bin links). Foreign paths are created a component at a time from a
// directory descriptor and opened with RESOLVE_NO_SYMLINKS: a symlink
// there is refused, never followed (a host symlink followed before
// pivot_root leads to the host's files).
type layout struct {
	root    string          // the new root, as this process sees it before pivot_root
	rootFD  uint64          // register: the new root, O_PATH
	dirs    map[string]bool // directories made here
	foreign map[string]bool // of those, the ones something else is mounted on
	others  map[string]bool // made here, and not directories
	scratch [2]uint64       // registers for walking foreign paths
}

func newLayout(p *program, root string) *layout {
	return &layout{root: root, rootFD: p.reg(), dirs: map[string]bool{"": true},
		foreign: map[string]bool{}, others: map[string]bool{}, scratch: [2]uint64{p.reg(), p.reg()}}
}

func (l *layout) in(rel string) string { return path.Join(l.root, rel) }

// own says whether rel is a directory made here whose entries are all
// known.
func (l *layout) own(rel string) bool { return l.dirs[rel] && !l.foreign[rel] }

// mkdir makes rel, whose parent is a directory made here, by path.
func (l *layout) mkdir(p *program, rel string, mode uint32) {
	p.mkdir(l.in(rel), mode, false)
	l.dirs[rel] = true
}

// mkdirAll makes rel and what is missing above it, by path, which only
// directories made here may hold (the home, the runtime directory).
func (l *layout) mkdirAll(p *program, rel string, mode uint32) error {
	if rel == "" || rel == "." || l.dirs[rel] {
		return nil
	}
	parent := path.Dir(rel)
	if parent == "." {
		parent = ""
	}
	if err := l.mkdirAll(p, parent, 0o755); err != nil {
		return err
	}
	if !l.own(parent) {
		return fmt.Errorf("/%s is not a directory of the sandbox's own", parent)
	}
	if l.others[rel] {
		return fmt.Errorf("/%s is not a directory of the sandbox's own", rel)
	}
	l.mkdir(p, rel, mode)
	return nil
}

// made records a file or link made at rel.
func (l *layout) made(rel string) { l.others[rel] = true }

// mounted records a mount of something foreign at rel: what is below it
// is no longer known.
func (l *layout) mounted(rel string) {
	if !l.dirs[rel] {
		l.others[rel] = true
		return
	}
	l.foreign[rel] = true
	for d := range l.dirs {
		if strings.HasPrefix(d, rel+"/") {
			delete(l.dirs, d)
		}
	}
	for d := range l.others {
		if strings.HasPrefix(d, rel+"/") {
			delete(l.others, d)
		}
	}
}

// how is an open_how for openat2 in the pool, made once per kind.
func (p *program) how(flags uint64) uint64 {
	if a, ok := p.hows[flags]; ok {
		return a
	}
	a := p.words(flags|unix.O_PATH|unix.O_CLOEXEC, 0, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
	p.hows[flags] = a
	return a
}

// target makes what is missing of rel (a directory, or a file when dir
// is false) and returns a register holding it opened O_PATH, for a mount
// onto it; step names the failure. The register is one of the layout's
// scratch ones: it is free again once the caller closes it.
func (p *program) target(l *layout, step, rel string, dir bool) uint64 {
	comps := strings.Split(rel, "/")
	kind := uint64(0)
	if dir {
		kind = unix.O_DIRECTORY
	}
	// The part made of directories made here, and what can be added to
	// it by path.
	k := 0
	for ; k < len(comps); k++ {
		parent, pre := strings.Join(comps[:k], "/"), strings.Join(comps[:k+1], "/")
		if !l.own(parent) || l.others[pre] {
			break
		}
		if l.dirs[pre] {
			continue
		}
		if k == len(comps)-1 && !dir {
			p.sys(step, unix.SYS_MKNODAT, num(unix.AT_FDCWD), imm(p.str(l.in(pre))), num(unix.S_IFREG|0o644), imm(0))
			l.made(pre)
			continue
		}
		l.mkdir(p, pre, 0o755)
	}
	fd := l.scratch[0]
	if k == len(comps) {
		// One openat2 checks the whole path all the same.
		p.sys(step, unix.SYS_OPENAT2, in(l.rootFD), imm(p.str(rel)), imm(p.how(kind)), imm(24)).dst = fd
		return fd
	}
	// The rest is foreign: a component at a time, never through a
	// symlink, each made if missing in the directory just opened.
	dfd := l.rootFD
	if k > 0 {
		p.sys(step, unix.SYS_OPENAT2, in(l.rootFD), imm(p.str(strings.Join(comps[:k], "/"))), imm(p.how(unix.O_DIRECTORY)), imm(24)).dst = fd
		dfd = fd
	}
	for j := k; j < len(comps); j++ {
		next := l.scratch[0]
		if dfd == next {
			next = l.scratch[1]
		}
		name := imm(p.str(comps[j]))
		flags := uint64(unix.O_DIRECTORY)
		if j == len(comps)-1 && !dir {
			p.sys(step, unix.SYS_MKNODAT, in(dfd), name, num(unix.S_IFREG|0o644), imm(0)).ok = uint64(unix.EEXIST)
			flags = 0
		} else {
			p.sys(step, unix.SYS_MKDIRAT, in(dfd), name, num(0o755)).ok = uint64(unix.EEXIST)
		}
		p.sys(step, unix.SYS_OPENAT2, in(dfd), name, imm(p.how(flags)), imm(24)).dst = next
		if dfd != l.rootFD {
			p.sys(step, unix.SYS_CLOSE, in(dfd))
		}
		dfd = next
	}
	return dfd
}

// bindAt mounts the tree (a register) onto rel, made if missing.
func (p *program) bindAt(l *layout, step string, tree uint64, rel string, dir bool) {
	t := p.target(l, step, rel, dir)
	p.sys(step, unix.SYS_MOVE_MOUNT, in(tree), imm(p.str("")), in(t), imm(p.str("")),
		num(unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH))
	p.sys(step, unix.SYS_CLOSE, in(t))
	l.mounted(rel)
}
