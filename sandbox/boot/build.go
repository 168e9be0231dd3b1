package boot

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"arbor/internal/mounts"
)

// The new root is built on a tmpfs in this private place, then entered
// with pivot_root; the old root is detached.
const base = "/tmp"

// given is what the sandbox's first process is given besides its
// spec: the command's standard streams, the descriptor for reports, and
// what it copies from the host.
type given struct {
	stdio         [3]int
	status        int
	hostname      string
	machineID     []byte
	hostEtc       map[string][]byte // resolver files, with the network
	localtimeZone string            // "zoneinfo/…" of the host's /etc/localtime
	lastCap       int               // the kernel's last capability
}

// compile makes the program that builds the sandbox's root, enters it,
// gives up every privilege, starts the command and reaps.
func compile(p *program, spec *Spec, g *given) error {
	// Nothing done here may leak back to the host's mounts.
	p.mount("making mounts private", "", "/", "", unix.MS_SLAVE|unix.MS_REC, "")

	// Host paths are opened first, refusing symlinks anywhere in them, and
	// mounted from the descriptor: a path swapped for a symlink after this
	// point changes nothing (the flaw behind CVE-2024-42472). They are
	// opened before a tmpfs covers /tmp.
	ms, err := mounts.Read()
	if err != nil {
		return fmt.Errorf("sandbox: the host's mounts: %w", err)
	}
	runtimeTree, err := p.tree(ms, "runtime", spec.Runtime, false, false)
	if err != nil {
		return err
	}
	var appTree hostTree
	if spec.App != "" {
		if appTree, err = p.tree(ms, "app", spec.App, spec.AppWritable, false); err != nil {
			return err
		}
	}
	binds := make([]hostTree, len(spec.Binds))
	bindDirs := make([]bool, len(spec.Binds))
	dests := make([]string, len(spec.Binds))
	for i, b := range spec.Binds {
		if !filepath.IsAbs(b.Dest) || filepath.Clean(b.Dest) != b.Dest || b.Dest == "/" {
			return fmt.Errorf("bind destination %q: not a clean absolute path", b.Dest)
		}
		// /proc is the kernel's, masked below by path: nothing may be
		// bound into it (nor over what is masked there).
		if b.Dest == "/proc" || strings.HasPrefix(b.Dest, "/proc/") {
			return fmt.Errorf("bind %s: inside /proc; refused", b.Dest)
		}
		dests[i] = b.Dest[1:]
		// Of the path itself: a symlink is refused when it is opened.
		fi, err := os.Lstat(b.Source)
		if err != nil {
			return fmt.Errorf("bind %s: %w", b.Source, err)
		}
		bindDirs[i] = fi.IsDir()
		if binds[i], err = p.tree(ms, "bind", b.Source, b.Writable, b.Device); err != nil {
			return err
		}
	}
	devNames := []string{"null", "zero", "full", "random", "urandom", "tty"}
	devs := make([]uint64, len(devNames))
	for i, d := range devNames {
		devs[i] = p.devTree("/dev/" + d)
	}

	p.mount("tmpfs on "+base, "tmpfs", base, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755")
	var maskFile, maskDir string
	if !spec.System {
		maskFile, maskDir = p.maskSource(base)
	}
	root := filepath.Join(base, "root")
	p.mkdir(root, 0o755, false)
	p.mount("tmpfs root", "tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755")
	l := newLayout(p, root)
	at := l.in
	p.sys("opening the new root", unix.SYS_OPENAT, num(unix.AT_FDCWD), imm(p.str(root)), num(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)).dst = l.rootFD
	for _, d := range []string{"usr", "app", "proc", "dev", "tmp", "etc", "run", "var", "oldroot", "run/user"} {
		l.mkdir(p, d, 0o755)
	}
	p.move("runtime at /usr", runtimeTree.reg, at("usr"))
	p.readOnlyBelow(runtimeTree)
	l.mounted("usr")
	if spec.App != "" {
		p.move("app at /app", appTree.reg, at("app"))
		p.readOnlyBelow(appTree)
		l.mounted("app")
	}
	// /bin, /lib, /lib64, /sbin point into /usr where the runtime has
	// them: the link is made when usr/D/. can be looked up.
	for _, d := range []string{"bin", "lib", "lib32", "lib64", "sbin"} {
		r := p.reg()
		o := p.sys("looking for /usr/"+d, unix.SYS_FACCESSAT, num(unix.AT_FDCWD), imm(p.str(at("usr/"+d+"/."))), num(unix.F_OK))
		o.dst, o.flags = r, opOptional
		p.symlink("usr/"+d, at(d)).guard = r
		l.made(d)
	}
	if !spec.System {
		if err := compileEtc(p, l, spec, g); err != nil {
			return err
		}
	}
	p.mount("/proc", "proc", at("proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	l.mounted("proc")
	dev := at("dev")
	p.mount("/dev", "tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755")
	for i, name := range devNames {
		node := filepath.Join(dev, name)
		p.createFile("/dev/"+name, node, nil, 0o666, false).guard = devs[i]
		p.move("/dev/"+name, devs[i], node).guard = devs[i]
		l.made("dev/" + name)
	}
	for _, d := range []string{"pts", "shm"} {
		l.mkdir(p, "dev/"+d, 0o755)
	}
	p.mount("/dev/pts", "devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
	l.mounted("dev/pts")
	p.mount("/dev/shm", "tmpfs", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777")
	for _, link := range [][2]string{{"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"}} {
		p.symlink(link[1], filepath.Join(dev, link[0]))
		l.made("dev/" + link[0])
	}
	p.mount("/tmp", "tmpfs", at("tmp"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777")
	run := RuntimeDir(spec.UID)[1:]
	if err := l.mkdirAll(p, run, 0o700); err != nil {
		return fmt.Errorf("the runtime directory /%s: %w", run, err)
	}
	// Writable, as the root is not: apps make their sockets and state
	// there (dconf, pulse, a compositor's clients).
	p.mount("/"+run, "tmpfs", at(run), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700")
	p.chown(at(run), spec.UID, spec.GID, false)
	home := strings.TrimPrefix(filepath.Clean(homeOf(spec)), "/")
	if err := l.mkdirAll(p, home, 0o755); err != nil {
		return fmt.Errorf("home %s: %w", homeOf(spec), err)
	}
	p.chown(at(home), spec.UID, spec.GID, true)
	// Before the binds, so that nothing is made inside one.
	if spec.Info != nil {
		info := at(".flatpak-info")
		p.createFile("/.flatpak-info", info, spec.Info, 0o600, false)
		p.chown(info, spec.UID, spec.GID, false)
		l.made(".flatpak-info")
		p.symlink("../../../.flatpak-info", at(run+"/flatpak-info"))
		l.made(run + "/flatpak-info")
	}
	for i, b := range spec.Binds {
		p.bindAt(l, "bind "+b.Dest, binds[i].reg, dests[i], bindDirs[i])
		p.readOnlyBelow(binds[i])
	}
	if !spec.System {
		p.protect(l, dests, maskFile, maskDir)
	}
	p.sys("closing the new root", unix.SYS_CLOSE, in(l.rootFD))
	p.sys("pivot_root", unix.SYS_PIVOT_ROOT, imm(p.str(root)), imm(p.str(l.in("oldroot"))))
	p.sys("entering the new root", unix.SYS_CHDIR, imm(p.str("/")))
	p.sys("detaching the old root", unix.SYS_UMOUNT2, imm(p.str("/oldroot")), num(unix.MNT_DETACH))
	p.sys("removing /oldroot", unix.SYS_UNLINKAT, num(unix.AT_FDCWD), imm(p.str("/oldroot")), num(unix.AT_REMOVEDIR))
	// The root itself is read-only: only /tmp, /run/user and binds are
	// writable.
	p.mount("making / read-only", "", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
	if g.hostname != "" {
		p.sys("setting the hostname", unix.SYS_SETHOSTNAME, imm(p.str(g.hostname)), num(len(g.hostname))).flags = opOptional
	}
	if !spec.Network {
		if err := p.loopbackUp(); err != nil {
			return err
		}
	}
	if !spec.System {
		p.lockDown(g.lastCap)
		if err := p.seccomp(spec.Seccomp); err != nil {
			return err
		}
	}
	return p.spawn(spec, g)
}

// hostTree is the clone of a host tree, held in a register until it is
// moved into place.
type hostTree struct {
	reg          uint64
	what, source string
	subs         []submount // kernel file systems below, for readOnlyBelow
}

// tree opens path without following any symlink in it and clones the
// mount tree there, with nosuid, nodev unless device, and read-only unless
// writable and not a kernel file system; ms is the host's mount table, for
// what is mounted below (see below.go).
func (p *program) tree(ms []mounts.Mount, what, path string, writable, device bool) (hostTree, error) {
	if !filepath.IsAbs(path) {
		return hostTree{}, fmt.Errorf("%s %s: not an absolute path", what, path)
	}
	proc, kernel := hostKernelFS(ms, path)
	if proc {
		return hostTree{}, fmt.Errorf("%s %s: a proc file system; refused", what, path)
	}
	writable = writable && !kernel
	t := hostTree{what: what, source: filepath.Clean(path)}
	below, err := kernelBelow(ms, what, t.source, writable)
	if err != nil {
		return hostTree{}, err
	}
	t.subs = make([]submount, len(below))
	for i, m := range below {
		if t.subs[i], err = pin(what, t.source, m); err != nil {
			return hostTree{}, err
		}
	}
	fd := p.reg()
	tree := p.reg()
	step := what + " " + path
	how := p.words(unix.O_PATH|unix.O_CLOEXEC, 0, unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
	p.sys(step, unix.SYS_OPENAT2, num(unix.AT_FDCWD), imm(p.str(path)), imm(how), imm(24)).dst = fd
	p.sys(step+": cloning the mount", unix.SYS_OPEN_TREE, in(fd), imm(p.str("")),
		num(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)).dst = tree
	attr := uint64(unix.MOUNT_ATTR_NOSUID)
	if !device {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if !writable {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	p.sys(step+": restricting the mount", unix.SYS_MOUNT_SETATTR, in(tree), imm(p.str("")),
		num(unix.AT_EMPTY_PATH|unix.AT_RECURSIVE), imm(p.words(attr, 0, 0, 0)), imm(32))
	p.sys(step, unix.SYS_CLOSE, in(fd))
	t.reg = tree
	return t, nil
}

// devTree clones a host device node's mount, when there is one: the
// register is -1 without.
func (p *program) devTree(path string) uint64 {
	fd := p.reg()
	tree := p.reg()
	o := p.sys(path, unix.SYS_OPENAT, num(unix.AT_FDCWD), imm(p.str(path)), num(unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW))
	o.dst, o.flags = fd, opOptional
	o = p.sys(path, unix.SYS_OPEN_TREE, in(fd), imm(p.str("")), num(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH))
	o.dst, o.guard, o.flags = tree, fd, opOptional
	o = p.sys(path, unix.SYS_MOUNT_SETATTR, in(tree), imm(p.str("")), num(unix.AT_EMPTY_PATH),
		imm(p.words(unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, 0, 0, 0)), imm(32))
	o.dst, o.guard, o.flags = tree, tree, opOptional|opMarkOnly
	p.sys(path, unix.SYS_CLOSE, in(fd)).guard = fd
	return tree
}

func (p *program) move(step string, tree uint64, dest string) *op {
	return p.sys(step, unix.SYS_MOVE_MOUNT, in(tree), imm(p.str("")), num(unix.AT_FDCWD), imm(p.str(dest)), num(unix.MOVE_MOUNT_F_EMPTY_PATH))
}

func (p *program) mount(step, source, target, fstype string, flags uintptr, data string) {
	// As x/sys does: empty data is NULL, which some file systems need.
	d := imm(0)
	if data != "" {
		d = imm(p.str(data))
	}
	p.sys(step, unix.SYS_MOUNT, imm(p.str(source)), imm(p.str(target)), imm(p.str(fstype)), num(flags), d)
}

func (p *program) mkdir(path string, mode uint32, mayExist bool) {
	o := p.sys("making "+path, unix.SYS_MKDIRAT, num(unix.AT_FDCWD), imm(p.str(path)), num(mode))
	if mayExist {
		o.ok = uint64(unix.EEXIST)
	}
}

func (p *program) symlink(target, link string) *op {
	return p.sys("making "+link, unix.SYS_SYMLINKAT, imm(p.str(target)), num(unix.AT_FDCWD), imm(p.str(link)))
}

func (p *program) chown(path string, uid, gid int, optional bool) {
	o := p.sys("giving "+path+" to its user", unix.SYS_FCHOWNAT, num(unix.AT_FDCWD), imm(p.str(path)), num(uid), num(gid), num(unix.AT_SYMLINK_NOFOLLOW))
	if optional {
		o.flags = opOptional
	}
}

// createFile makes a file with content; keep leaves one that exists
// (a mount point) as it is. It returns the first op, for a guard.
func (p *program) createFile(step, path string, content []byte, mode uint32, keep bool) *op {
	fd := p.reg()
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_CLOEXEC | unix.O_NOFOLLOW
	if !keep {
		flags |= unix.O_EXCL
	}
	first := len(p.ops)
	p.sys(step, unix.SYS_OPENAT, num(unix.AT_FDCWD), imm(p.str(path)), num(flags), num(mode)).dst = fd
	if len(content) > 0 {
		p.sys(step, unix.SYS_WRITE, in(fd), imm(p.data(content)), num(len(content)))
	}
	p.sys(step, unix.SYS_CLOSE, in(fd))
	// The guard of the first op is the caller's; the others follow it.
	for i := first + 1; i < len(p.ops); i++ {
		p.ops[i].guard = fd
	}
	return &p.ops[first]
}

// loopbackUp brings up lo in a new network namespace, as bubblewrap does.
func (p *program) loopbackUp() error {
	fd := p.reg()
	o := p.sys("a socket for lo", unix.SYS_SOCKET, num(unix.AF_INET), num(unix.SOCK_DGRAM|unix.SOCK_CLOEXEC), imm(0))
	o.dst, o.flags = fd, opOptional
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_UP)
	req := unsafe.Slice((*byte)(unsafe.Pointer(ifr)), unsafe.Sizeof(*ifr))
	o = p.sys("bringing lo up", unix.SYS_IOCTL, in(fd), num(unix.SIOCSIFFLAGS), imm(p.data(req)))
	o.guard, o.flags = fd, opOptional
	p.sys("a socket for lo", unix.SYS_CLOSE, in(fd)).guard = fd
	return nil
}

// lockDown leaves the command no way to gain privileges: no_new_privs,
// an empty capability bounding set and no capabilities.
func (p *program) lockDown(lastCap int) {
	p.sys("no_new_privs", unix.SYS_PRCTL, num(unix.PR_SET_NO_NEW_PRIVS), imm(1), imm(0), imm(0), imm(0))
	// Past the kernel's last capability the call fails with EINVAL.
	for c := 0; c <= lastCap; c++ {
		p.sys("dropping capabilities from the bounding set", unix.SYS_PRCTL,
			num(unix.PR_CAPBSET_DROP), num(c), imm(0), imm(0), imm(0)).ok = uint64(unix.EINVAL)
	}
	p.sys("clearing ambient capabilities", unix.SYS_PRCTL, num(unix.PR_CAP_AMBIENT), num(unix.PR_CAP_AMBIENT_CLEAR_ALL), imm(0), imm(0), imm(0)).flags = opOptional
	hdr := p.words(unix.LINUX_CAPABILITY_VERSION_3) // and pid 0: this process
	p.sys("dropping capabilities", unix.SYS_CAPSET, imm(hdr), imm(p.data(make([]byte, 24))))
}

// seccomp loads the compiled filter (the command inherits it).
func (p *program) seccomp(prog []byte) error {
	if len(prog) == 0 || len(prog)%8 != 0 || len(prog)/8 > 0xffff {
		return fmt.Errorf("seccomp program of %d bytes", len(prog))
	}
	filter := p.data(prog)
	fprog := p.words(uint64(len(prog)/8), filter)
	p.sys("loading the seccomp filter", unix.SYS_PRCTL, num(unix.PR_SET_SECCOMP), num(unix.SECCOMP_MODE_FILTER), imm(fprog), imm(0), imm(0))
	return nil
}

// spawn starts the command as PID 2, whose program sets its streams and
// directory and execs the command as execvp would with the sandbox's
// PATH (a name beginning with '-' is a name like any other); then PID 1
// reaps.
func (p *program) spawn(spec *Spec, g *given) error {
	pid := p.reg()
	spawn := len(p.ops)
	p.sys("starting "+spec.Args[0], trapSpawn)
	first := len(p.ops)
	p.sys("starting "+spec.Args[0], unix.SYS_PRCTL, num(unix.PR_SET_PDEATHSIG), num(unix.SIGKILL), imm(0), imm(0), imm(0))
	// The streams go through fresh descriptors above 2 first, so that
	// one of 0-2 being another's source is no trouble.
	var tmp [3]uint64
	for i, fd := range g.stdio {
		tmp[i] = p.reg()
		p.sys("the command's standard streams", unix.SYS_FCNTL, num(fd), num(unix.F_DUPFD_CLOEXEC), imm(3)).dst = tmp[i]
	}
	for i := range g.stdio {
		p.sys("the command's standard streams", unix.SYS_DUP3, in(tmp[i]), num(i), imm(0))
	}
	p.sys("the command's descriptors", unix.SYS_CLOSE_RANGE, imm(3), num(^uint32(0)), num(unix.CLOSE_RANGE_CLOEXEC))
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	p.sys("the command's directory "+dir, unix.SYS_CHDIR, imm(p.str(dir)))
	argv, envv := p.strv(spec.Args), p.strv(spec.Env)
	cands := candidates(spec.Args[0], spec.Env)
	for i, c := range cands {
		o := p.sys("starting "+c, unix.SYS_EXECVE, imm(p.str(c)), imm(argv), imm(envv))
		if i < len(cands)-1 {
			o.flags = opOptional
		} else {
			p.notFound = len(p.ops) - 1
		}
	}
	end := len(p.ops)
	p.ops[spawn].args = [6]uint64{uint64(first), uint64(end)}
	p.ops[spawn].dst = pid
	// PID 1 keeps only the status pipe: a reader of the command's output
	// sees its end when the command's processes end.
	p.sys("closing descriptors", unix.SYS_CLOSE_RANGE, imm(0), num(g.status-1), imm(0))
	p.sys("closing descriptors", unix.SYS_CLOSE_RANGE, num(g.status+1), num(^uint32(0)), imm(0))
	p.sys("reaping", trapReap, in(pid))
	return nil
}

// candidates are the paths execvp would try for name with env's PATH.
func candidates(name string, env []string) []string {
	if strings.Contains(name, "/") {
		return []string{name}
	}
	var out []string
	for _, d := range filepath.SplitList(searchPath(env)) {
		if d == "" {
			d = "."
		}
		out = append(out, filepath.Join(d, name))
	}
	if len(out) == 0 {
		out = []string{name}
	}
	return out
}

func searchPath(env []string) string {
	path := "/app/bin:/usr/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	return path
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

// compileEtc makes /etc: each entry of the runtime's etc (at /usr/etc)
// linked in, and passwd, group and machine-id generated; with the network
// shared, the host's resolver files, as flatpak does.
func compileEtc(p *program, l *layout, spec *Spec, g *given) error {
	etc := l.in("etc")
	generated := map[string][]byte{
		"passwd": fmt.Appendf(nil, "%s:x:%d:%d:%s:%s:/bin/sh\nnfsnobody:x:65534:65534:Unmapped user:/:/sbin/nologin\n",
			userName(spec), spec.UID, spec.GID, userName(spec), homeOf(spec)),
		"group": fmt.Appendf(nil, "%s:x:%d:\nnfsnobody:x:65534:\n", userName(spec), spec.GID),
	}
	if g.machineID != nil {
		generated["machine-id"] = g.machineID
	}
	skip := map[string]bool{}
	if spec.Network {
		for name, b := range g.hostEtc {
			generated[name] = b
		}
	}
	if g.localtimeZone != "" {
		// The zone name, resolved against the runtime's zoneinfo.
		p.symlink("/usr/share/"+g.localtimeZone, filepath.Join(etc, "localtime")).flags = opOptional
		l.made("etc/localtime")
		skip["localtime"] = true
	}
	for _, name := range slices.Sorted(maps.Keys(generated)) {
		p.createFile("/etc/"+name, filepath.Join(etc, name), generated[name], 0o644, false)
		l.made("etc/" + name)
		skip[name] = true
	}
	// The runtime's etc as the host sees it: the names are all that is
	// used, and each becomes a link into the sandbox's own /usr/etc. Not
	// through a symlink, which would list a host directory's names.
	fd, err := unix.Openat2(unix.AT_FDCWD, filepath.Join(spec.Runtime, "etc"), &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS})
	if err != nil {
		return nil // a runtime without etc
	}
	dir := os.NewFile(uintptr(fd), spec.Runtime+"/etc")
	ents, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return fmt.Errorf("runtime %s: %w", spec.Runtime, err)
	}
	for _, e := range ents {
		if skip[e.Name()] {
			continue
		}
		p.symlink("/usr/etc/"+e.Name(), filepath.Join(etc, e.Name()))
		l.made("etc/" + e.Name())
	}
	return nil
}
