package boot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Proc is a sandbox's first process: made (New), given its program
// (Compile) and cloned into its namespaces (Clone), on two goroutines if
// the caller likes, then sent the program (Send), which builds the root,
// starts the command and reaps (Wait).
type Proc struct {
	pid    int     // 0 until cloned
	region []byte  // the child's program and stacks, shared with it
	base   uintptr // the region's address
	progR  int     // the child's end of the program's pipe, until cloned
	progW  *os.File
	status *os.File
	given  given
	prog   *program
	img    []byte
	args0  string
	path   string
	joins  []string // the namespaces an enter joins
	// cgroupFD, when ≥ 0, is the cgroup the first process is started in
	// (clone3); inCgroup says it was.
	cgroupFD  int
	inCgroup  bool
	cloneArgs [11]uint64

	mu     sync.Mutex
	reaped bool
	ws     unix.WaitStatus
}

// IDMap maps the caller's ids into a new user namespace.
type IDMap struct{ UID, GID int }

// New makes what a sandbox's first process needs; stdio are the
// command's streams, kept open in this process until Send.
func New(stdio [3]*os.File) (*Proc, error) {
	var pipes [2][2]int // program, status
	for i := range pipes {
		if err := unix.Pipe2(pipes[i][:], unix.O_CLOEXEC); err != nil {
			if i == 1 {
				unix.Close(pipes[0][0])
				unix.Close(pipes[0][1])
			}
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	region, err := unix.Mmap(-1, 0, regionSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		for _, pp := range pipes {
			unix.Close(pp[0])
			unix.Close(pp[1])
		}
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	p := &Proc{region: region, base: uintptr(unsafe.Pointer(unsafe.SliceData(region))),
		progR:  pipes[0][0],
		progW:  os.NewFile(uintptr(pipes[0][1]), "sandbox program"),
		status: os.NewFile(uintptr(pipes[1][0]), "sandbox status"),
		given:  given{status: pipes[1][1]},
	}
	for i, f := range stdio {
		p.given.stdio[i] = int(f.Fd())
	}
	return p, nil
}

// Clone starts the process in new namespaces (CLONE_NEW* flags); with a
// user namespace, users maps the caller's ids. It waits for its program.
func (p *Proc) Clone(flags uintptr, users *IDMap) error {
	defer func() {
		unix.Close(p.progR)
		p.progR = -1
	}()
	// The memory is shared (nothing to copy, no copy-on-write faults)
	// while it is dumpable. The child makes it undumpable, and with a
	// user namespace the ids are mapped through /proc/PID, which an
	// undumpable memory makes root's: a later unprivileged sandbox of
	// this process forks instead, as does one that another sandbox's
	// start overtook, and that child makes its own copy dumpable until
	// the ids are mapped.
	share := users == nil || dumpable()
	for {
		pid, err := p.clone(flags, share, users != nil)
		if err != nil || users == nil {
			return err
		}
		if !share {
			var b [1]byte
			if _, err := io.ReadFull(p.status, b[:]); err != nil || b[0] != reportMapReady {
				return fmt.Errorf("sandbox: the first process ended before its ids were mapped")
			}
		}
		err = writeIDMaps(pid, users)
		if err == nil {
			return nil
		}
		if !share || !errors.Is(err, fs.ErrPermission) {
			return err
		}
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		waitPid(pid, &ws)
		p.mu.Lock()
		p.pid = 0
		p.mu.Unlock()
		share = false
	}
}

// clone starts the child; without CLONE_FILES, CLONE_FS or CLONE_SIGHAND
// its descriptors, root, directory and signal handlers are its own.
func (p *Proc) clone(flags uintptr, share, mapped bool) (int, error) {
	base := unsafe.Pointer(unsafe.SliceData(p.region))
	flags |= uintptr(unix.SIGCHLD)
	ready := uint64(0)
	if share {
		flags |= unix.CLONE_VM
	} else if mapped {
		ready = uint64(p.given.status) + 1
	}
	binary.NativeEndian.PutUint64(p.region[offMapReady:], ready)
	syscall.ForkLock.Lock()
	var pid int
	var errno syscall.Errno
	if p.cgroupFD > 0 {
		pid, errno = startChildIn(&p.cloneArgs, p.cgroupFD, flags, uintptr(unsafe.Add(base, stackInit)), base, uintptr(p.progR), p.progW.Fd())
		p.inCgroup = errno == 0
	}
	if p.cgroupFD <= 0 || errno != 0 {
		// No cgroup, or a kernel (or cgroup) that takes none: the caller
		// moves the process itself.
		pid, errno = startChild(flags, uintptr(unsafe.Add(base, stackInit)), base, uintptr(p.progR), p.progW.Fd())
	}
	syscall.ForkLock.Unlock()
	if errno != 0 {
		return 0, fmt.Errorf("sandbox: making its namespaces: %w", errno)
	}
	p.mu.Lock()
	p.pid = pid
	p.mu.Unlock()
	return pid, nil
}

func dumpable() bool {
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	return err == nil && d == 1
}

func writeIDMaps(pid int, m *IDMap) error {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	for _, w := range []struct{ file, data string }{
		{"uid_map", fmt.Sprintf("%d %d 1\n", m.UID, os.Getuid())},
		{"setgroups", "deny"},
		{"gid_map", fmt.Sprintf("%d %d 1\n", m.GID, os.Getgid())},
	} {
		if err := os.WriteFile(dir+w.file, []byte(w.data), 0); err != nil {
			return fmt.Errorf("sandbox: mapping ids: %w", err)
		}
	}
	return nil
}

// Compile makes the process's program from spec. It may run while Clone
// does, on another goroutine.
// IntoCgroup has Clone start the first process in the cgroup (v2) open
// at fd, where the kernel can; InCgroup says whether it did.
func (p *Proc) IntoCgroup(fd int) { p.cgroupFD = fd }

// InCgroup says whether the first process was started in IntoCgroup's
// cgroup.
func (p *Proc) InCgroup() bool { return p.inCgroup }

// Pid is the first process's, as this process sees it; 0 before Clone.
func (p *Proc) Pid() int { return p.pid }

func (p *Proc) Compile(spec *Spec) error {
	p.hostFacts(spec)
	p.prog = newProgram(p.base)
	p.args0, p.path = spec.Args[0], searchPath(spec.Env)
	if err := compile(p.prog, spec, &p.given); err != nil {
		return err
	}
	img, err := p.prog.bytes(p.given.status)
	if err != nil {
		return err
	}
	p.img = img
	return nil
}

// Send hands the cloned process its compiled program.
func (p *Proc) Send() error {
	defer p.closeChildEnds()
	defer p.progW.Close()
	if _, err := p.progW.Write(p.img); err != nil {
		return fmt.Errorf("sandbox: passing the spec: %w", err)
	}
	return nil
}

func (p *Proc) closeChildEnds() {
	if p.given.status > 0 {
		unix.Close(p.given.status)
		p.given.status = -1
	}
}

// hostFacts reads what the sandbox's /etc and hostname copy from the
// host.
func (p *Proc) hostFacts(spec *Spec) {
	p.given.hostname, _ = os.Hostname()
	if spec.System {
		return
	}
	p.given.lastCap = 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 && n < 63 {
			p.given.lastCap = n
		}
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		p.given.machineID = b
	}
	if spec.Network {
		p.given.hostEtc = map[string][]byte{}
		for _, f := range []string{"resolv.conf", "hosts", "host.conf", "gai.conf"} {
			if b, err := os.ReadFile("/etc/" + f); err == nil {
				p.given.hostEtc[f] = b
			}
		}
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil && strings.Contains(target, "zoneinfo/") {
		p.given.localtimeZone = target[strings.Index(target, "zoneinfo/"):]
	}
}

// Wait returns the command's exit status (128+N when killed by signal N)
// once it exits, or why the sandbox could not be made. The first process
// is reaped in the background once the status is known: the caller need
// not wait while the kernel tears the namespaces down.
func (p *Proc) Wait() (int, error) {
	defer p.status.Close()
	up := false
	var b [reportSize]byte
	for {
		if _, err := io.ReadFull(p.status, b[:1]); err != nil {
			break
		}
		if b[0] == reportUp {
			up = true
			continue
		}
		if b[0] == reportStatus {
			if _, err := io.ReadFull(p.status, b[1:2]); err == nil {
				go p.reap()
				return int(b[1]), nil
			}
		} else if b[0] == reportFailed {
			if _, err := io.ReadFull(p.status, b[1:]); err == nil {
				p.reap()
				pc := int(binary.LittleEndian.Uint32(b[1:]))
				errno := unix.Errno(binary.LittleEndian.Uint32(b[5:]))
				return 0, fmt.Errorf("sandbox: %w", p.prog.failure(pc, errno, p.args0, p.path))
			}
		}
		break // a report cut short, or not one: the process is gone
	}
	ws := p.reap()
	if !up {
		return 0, fmt.Errorf("sandbox: could not be set up (%s)", describe(ws))
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

func (p *Proc) reap() unix.WaitStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		if p.pid != 0 {
			waitPid(p.pid, &p.ws)
		}
		p.reaped = true
		unix.Munmap(p.region) // the child ran from it and is gone
	}
	return p.ws
}

// waitPid waits for pid to exit.
func waitPid(pid int, ws *unix.WaitStatus) {
	for {
		if _, err := unix.Wait4(pid, ws, 0, nil); !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// Reaped says whether the first process is gone and waited for.
func (p *Proc) Reaped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reaped
}

// Kill ends the sandbox and reaps its first process, unless that was
// done.
func (p *Proc) Kill() {
	p.mu.Lock()
	if !p.reaped && p.pid != 0 {
		unix.Kill(p.pid, unix.SIGKILL)
	}
	p.mu.Unlock()
	if p.progR >= 0 {
		unix.Close(p.progR)
		p.progR = -1
	}
	p.progW.Close()
	p.closeChildEnds()
	p.reap()
	p.status.Close()
}
