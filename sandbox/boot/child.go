package boot

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The sandbox's first process is a clone of the caller that shares its
// memory (see Proc.Clone for when it does not) and never runs Go again: on
// a stack of its own, it only makes the system calls of a program the
// caller compiled (see program.go), as the syscall package does between
// vfork and exec. Starting a second
// Go program for this cost more than everything the sandbox does (its
// runtime's start, its exec, decoding a spec), and a plain fork of a Go
// process as much again in copied page tables and copy-on-write faults.
//
// Nothing here may allocate, grow the stack, take a lock or write Go's
// memory: the functions are nosplit and norace, and everything they write
// is in the program's region, an anonymous mapping outside Go's heap.

// Layout of the region a program runs from.
const (
	regionSize = 1 << 20
	offLen     = 0  // u64: bytes of the image, this word included
	offNops    = 8  // u64: number of ops
	offStatus  = 16 // u64: descriptor for reports to the caller
	offOps     = 24 // u64: where the ops begin
	// The command's process reports its failure to start here (u64 op
	// index, u64 errno): it shares the memory.
	offSpawnPC    = 32
	offSpawnErrno = 40
	// A forked child whose ids the caller maps makes its memory dumpable
	// (the caller's may not be) and says so on descriptor this-1, before
	// it reads its program; 0 for none.
	offMapReady = 48
	offRegs     = 64  // nregs u64 registers
	nregs       = 256 // power of two: indexes are masked
	offPool     = offRegs + 8*nregs
	stackSize   = 64 << 10
	maxImage    = regionSize - 2*stackSize
	// Stack tops, below room for the arguments the first call takes.
	stackInit  = regionSize - stackSize - 64
	stackSpawn = regionSize - 64
	opSize     = uintptr(unsafe.Sizeof(op{}))
)

// op is one step: a system call whose arguments are immediates or
// registers, or one of the traps below.
type op struct {
	trap  uint64
	args  [6]uint64
	regs  uint64 // bit i set: args[i] names a register
	dst   uint64 // 1+register receiving the result; 0 for none
	guard uint64 // 1+register that must hold a value ≥ 0 for the op to run
	ok    uint64 // an errno that counts as success
	flags uint64
}

const (
	// opOptional: a failure is no failure; dst is set to -1, which
	// guards on it skip.
	opOptional = 1 << iota
	// opMarkOnly: success leaves dst as it is, so that an optional op can
	// mark an earlier op's result unusable.
	opMarkOnly
)

// Traps that are not system calls.
const (
	// trapSpawn starts the command's process (vfork-like: this one waits
	// until it has exec'ed), which runs ops args[0]..args[1]-1; this one
	// goes on at op args[1]. dst gets the child's pid.
	trapSpawn = 1<<20 + iota
	// trapReap says the sandbox is up, waits for every process, and exits
	// with the status of pid args[0] once that one exits, after reporting
	// it.
	trapReap
	// trapExpect fails with EXDEV unless the word at offset args[0] of
	// the region (what a system call wrote in the pool) is args[1].
	trapExpect
)

// Report bytes on the status descriptor.
const (
	reportMapReady = 'M' // before the program: the ids may be mapped
	reportFailed   = 'E' // then u32 op index, u32 errno
	reportUp       = 'R'
	reportStatus   = 'S' // then one byte of status
	reportSize     = 9
)

// spawned marks childMain's call in the command's process.
const spawned = ^uintptr(0)

// childName is what ps shows for the sandbox's first process.
const childName = "arbor-sandbox\x00"

// childMain is where both cloned processes begin, on their own stacks:
// the first process (a and b are its program's pipe ends) and the
// command's (a is spawned, b the index of the spawn op).
//
//go:nosplit
//go:norace
func childMain(region unsafe.Pointer, a, b uintptr) {
	if a == spawned {
		o := opAt(region, b)
		run(region, uintptr(o.args[0]), uintptr(o.args[1]), spawned)
		exit(127)
	}
	initMain(region, a, b)
	exit(1)
}

// initMain is the first process until its program reaps.
//
//go:nosplit
//go:norace
func initMain(region unsafe.Pointer, progR, progW uintptr) {
	// Go's handlers are no use here, and the caller's mask blocks every
	// signal: the command gets the defaults, and ignored signals stay
	// ignored across exec as usual.
	var sa [4]uint64 // struct sigaction: handler, flags, restorer, mask
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig == uintptr(unix.SIGHUP) || sig == uintptr(unix.SIGINT) {
			// The only ones Go leaves ignored when it started so (nohup).
			sa[0] = 0
			if syscall.RawSyscall6(unix.SYS_RT_SIGACTION, sig, 0, uintptr(unsafe.Pointer(&sa)), 8, 0, 0); sa[0] == 1 /* SIG_IGN */ {
				continue
			}
		}
		sa = [4]uint64{}
		syscall.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
	}
	var none uint64
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&none)), 0, 8, 0, 0)
	syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NAME, uintptr(unsafe.Pointer(unsafe.StringData(childName))), 0, 0, 0, 0)
	if fd := uintptr(*(*uint64)(unsafe.Add(region, offMapReady))); fd != 0 {
		syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 1, 0, 0, 0, 0)
		b := [reportSize]byte{reportMapReady}
		writeN(fd-1, &b, 1)
	}
	syscall.RawSyscall6(unix.SYS_CLOSE, progW, 0, 0, 0, 0, 0)
	syscall.RawSyscall6(unix.SYS_SETSID, 0, 0, 0, 0, 0, 0)
	// The caller's death kills the sandbox; had it died already, the
	// program's pipe ends early and this process leaves.
	syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0, 0)
	got := uintptr(0)
	want := uintptr(offLen + 8)
	for got < want {
		n, _, err := syscall.RawSyscall6(unix.SYS_READ, progR, uintptr(unsafe.Add(region, got)), want-got, 0, 0, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != 0 || n == 0 {
			exit(0)
		}
		got += n
		if got >= offLen+8 {
			want = uintptr(*(*uint64)(unsafe.Add(region, offLen)))
			if want > maxImage || want < offPool {
				exit(1)
			}
		}
	}
	syscall.RawSyscall6(unix.SYS_CLOSE, progR, 0, 0, 0, 0, 0)
	// This process may share the caller's memory, so nothing in the
	// sandbox may reach it: not dumpable, /proc/1/mem and ptrace need a
	// capability the command never has. (Not before the caller wrote
	// the id maps, which that would forbid.)
	syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0, 0, 0, 0, 0)
	status := uintptr(*(*uint64)(unsafe.Add(region, offStatus)))
	run(region, 0, uintptr(*(*uint64)(unsafe.Add(region, offNops))), status)
}

//go:nosplit
//go:norace
func opAt(region unsafe.Pointer, pc uintptr) *op {
	ops := unsafe.Add(region, *(*uint64)(unsafe.Add(region, offOps)))
	return (*op)(unsafe.Add(ops, pc*opSize))
}

// run runs ops [from, to); it returns only when they are all done. A
// failure is reported on descriptor report (in the region when that is
// spawned) and ends the process.
//
//go:nosplit
//go:norace
func run(region unsafe.Pointer, from, to, report uintptr) {
	regs := (*[nregs]uint64)(unsafe.Add(region, offRegs))
	for pc := from; pc < to; pc++ {
		o := opAt(region, pc)
		if o.guard != 0 && int64(regs[(o.guard-1)&(nregs-1)]) < 0 {
			continue
		}
		var a [6]uintptr
		for i := 0; i < 6; i++ {
			a[i] = uintptr(o.args[i])
			if o.regs&(1<<i) != 0 {
				a[i] = uintptr(regs[o.args[i]&(nregs-1)])
			}
		}
		var r uintptr
		var err syscall.Errno
		switch o.trap {
		case trapSpawn:
			*(*uint64)(unsafe.Add(region, offSpawnErrno)) = 0
			var e uintptr
			stack := uintptr(unsafe.Add(region, stackSpawn))
			r, e = cloneOnStack(sysClone, uintptr(unix.CLONE_VM|unix.CLONE_VFORK|unix.SIGCHLD), stack, stack, region, spawned, pc)
			err = syscall.Errno(e)
			if e == 0 {
				if se := *(*uint64)(unsafe.Add(region, offSpawnErrno)); se != 0 {
					fail(region, report, uintptr(*(*uint64)(unsafe.Add(region, offSpawnPC))), syscall.Errno(se))
				}
				pc = a[1] - 1
			}
		case trapReap:
			reap(report, a[0])
		case trapExpect:
			if *(*uint64)(unsafe.Add(region, a[0]&(regionSize-8))) != uint64(a[1]) {
				err = syscall.EXDEV
			}
		default:
			r, _, err = syscall.RawSyscall6(uintptr(o.trap), a[0], a[1], a[2], a[3], a[4], a[5])
		}
		if err != 0 && uint64(err) != o.ok {
			if o.flags&opOptional != 0 {
				if o.dst != 0 {
					regs[(o.dst-1)&(nregs-1)] = ^uint64(0)
				}
				continue
			}
			fail(region, report, pc, err)
		}
		if o.dst != 0 && o.flags&opMarkOnly == 0 {
			regs[(o.dst-1)&(nregs-1)] = uint64(r)
		}
	}
}

// reap is PID 1's last work: it reports the sandbox up, then waits for
// every process (orphans end up with PID 1) and, once main exits,
// reports its status and exits with it; the others die with the
// namespace.
//
//go:nosplit
//go:norace
func reap(report, main uintptr) {
	b := [reportSize]byte{reportUp}
	writeN(report, &b, 1)
	for {
		var ws syscall.WaitStatus
		pid, _, err := syscall.RawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&ws)), 0, 0, 0, 0)
		if err == syscall.EINTR {
			continue
		}
		code := 1
		if err == 0 && pid != main {
			continue
		}
		if err == 0 && ws.Signaled() {
			code = 128 + int(ws.Signal())
		} else if err == 0 {
			code = ws.ExitStatus()
		}
		b[0], b[1] = reportStatus, byte(code)
		writeN(report, &b, 2)
		exit(uintptr(code))
	}
}

// fail reports op pc's failure and ends the process.
//
//go:nosplit
//go:norace
func fail(region unsafe.Pointer, report, pc uintptr, err syscall.Errno) {
	if report == spawned {
		*(*uint64)(unsafe.Add(region, offSpawnPC)) = uint64(pc)
		*(*uint64)(unsafe.Add(region, offSpawnErrno)) = uint64(err)
		exit(127)
	}
	b := [reportSize]byte{reportFailed,
		byte(pc), byte(pc >> 8), byte(pc >> 16), byte(pc >> 24),
		byte(err), byte(err >> 8), byte(err >> 16), byte(err >> 24)}
	writeN(report, &b, reportSize)
	exit(1)
}

//go:nosplit
//go:norace
func writeN(fd uintptr, b *[reportSize]byte, n uintptr) {
	for done := uintptr(0); done < n; {
		w, _, err := syscall.RawSyscall6(unix.SYS_WRITE, fd, uintptr(unsafe.Add(unsafe.Pointer(b), done)), n-done, 0, 0, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != 0 {
			return
		}
		done += w
	}
}

//go:nosplit
//go:norace
func exit(code uintptr) {
	for {
		syscall.RawSyscall6(unix.SYS_EXIT_GROUP, code, 0, 0, 0, 0, 0)
	}
}
