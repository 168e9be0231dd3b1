package boot

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// EnterSpec is a command run inside a running sandbox, as `flatpak enter`
// runs one: in the namespaces of its first process, at its root, with no
// privileges and the seccomp filter an app of it has (which flatpak enter
// leaves out).
type EnterSpec struct {
	Target    int // the sandbox's first process, as the host sees it
	Args, Env []string
	Seccomp   []byte
}

// enterNamespaces are joined in this order: the user namespace first, for
// the rights to join the others; the mount namespace last, since the
// others' files are opened in the host's.
var enterNamespaces = []struct {
	name string
	flag int
}{
	{"user", unix.CLONE_NEWUSER}, {"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS}, {"net", unix.CLONE_NEWNET},
	{"pid", unix.CLONE_NEWPID}, {"cgroup", unix.CLONE_NEWCGROUP}, {"mnt", unix.CLONE_NEWNS},
}

// differing are the namespaces of target that are not this process's:
// those to join (a shared network is not joined, which would need rights
// over the host's).
func differing(target int) (names []string, err error) {
	for _, ns := range enterNamespaces {
		var mine, theirs unix.Stat_t
		if err := unix.Stat("/proc/self/ns/"+ns.name, &mine); err != nil {
			return nil, err
		}
		if err := unix.Stat("/proc/"+strconv.Itoa(target)+"/ns/"+ns.name, &theirs); err != nil {
			return nil, fmt.Errorf("sandbox: process %d: %w", target, err)
		}
		if mine.Ino != theirs.Ino || mine.Dev != theirs.Dev {
			names = append(names, ns.name)
		}
	}
	return names, nil
}

// CloneToEnter starts the process that will join the sandbox: its own
// copy of memory when it joins a user namespace, which the kernel allows
// no process sharing its memory.
func (p *Proc) CloneToEnter(target int) error {
	defer func() {
		unix.Close(p.progR)
		p.progR = -1
	}()
	names, err := differing(target)
	if err != nil {
		return err
	}
	p.joins = names
	share := !slices.Contains(names, "user")
	if !slices.Contains(names, "mnt") {
		return fmt.Errorf("sandbox: process %d shares this process's mounts: not a sandbox", target)
	}
	_, err = p.clone(0, share, false)
	return err
}

// CompileEnter makes the process's program from e; after CloneToEnter.
func (p *Proc) CompileEnter(e *EnterSpec) error {
	p.hostFacts(&Spec{})
	p.prog = newProgram(p.base)
	p.args0, p.path = e.Args[0], searchPath(e.Env)
	prog := p.prog
	dir := "/proc/" + strconv.Itoa(e.Target) + "/"
	root := prog.reg()
	prog.sys("opening the sandbox's root", unix.SYS_OPENAT, num(unix.AT_FDCWD), imm(prog.str(dir+"root")), num(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)).dst = root
	fds := map[string]uint64{}
	for _, n := range p.joins {
		fds[n] = prog.reg()
		prog.sys("opening its "+n+" namespace", unix.SYS_OPENAT, num(unix.AT_FDCWD), imm(prog.str(dir+"ns/"+n)), num(unix.O_RDONLY|unix.O_CLOEXEC)).dst = fds[n]
	}
	for _, ns := range enterNamespaces {
		if fd, ok := fds[ns.name]; ok {
			prog.sys("joining its "+ns.name+" namespace", unix.SYS_SETNS, in(fd), num(ns.flag))
		}
	}
	prog.sys("entering its root", unix.SYS_FCHDIR, in(root))
	prog.sys("entering its root", unix.SYS_CHROOT, imm(prog.str(".")))
	prog.lockDown(p.given.lastCap)
	if err := prog.seccomp(e.Seccomp); err != nil {
		return err
	}
	if err := prog.spawn(&Spec{Args: e.Args, Env: e.Env}, &p.given); err != nil {
		return err
	}
	img, err := prog.bytes(p.given.status)
	if err != nil {
		return err
	}
	p.img = img
	return nil
}

// Environ is the environment of the sandbox's command: the first child
// of its first process (the first process is this program's clone, whose
// environment is the caller's).
func Environ(target int) ([]string, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	want := strconv.Itoa(target)
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == want {
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err != nil {
				return nil, err
			}
			return strings.Split(strings.TrimRight(string(env), "\x00"), "\x00"), nil
		}
	}
	return nil, fmt.Errorf("sandbox: process %d runs no command", target)
}
