package boot

import (
	"syscall"
	"unsafe"
)

//go:linkname runtimeBeforeFork syscall.runtime_BeforeFork
func runtimeBeforeFork()

//go:linkname runtimeAfterFork syscall.runtime_AfterFork
func runtimeAfterFork()

// cloneOnStack is clone(2) (nr sysClone, arg0 the flags, arg1 the stack)
// or clone3(2) (nr sysClone3, arg0 its clone_args, arg1 their size) with
// the child running childMain(region, a, b) on the stack given, in
// assembly: a child sharing this process's memory must not return
// through Go frames it shares with the parent.
func cloneOnStack(nr, arg0, arg1, stack uintptr, region unsafe.Pointer, a, b uintptr) (pid, errno uintptr)

const (
	sysClone  = 56
	sysClone3 = 435
)

// startChild clones the sandbox's first process; signals are blocked
// around the clone, so that the child starts with every signal blocked
// and no Go handler can run in it before it resets them.
//
//go:nosplit
//go:norace
func startChild(flags, stack uintptr, region unsafe.Pointer, a, b uintptr) (int, syscall.Errno) {
	runtimeBeforeFork()
	pid, errno := cloneOnStack(sysClone, flags, stack, stack, region, a, b)
	runtimeAfterFork()
	return int(pid), syscall.Errno(errno)
}

// startChildIn is startChild with clone3 into the cgroup open at
// cgroupFD; args is the clone_args to fill, memory the child never
// writes. It returns ENOSYS where the kernel has no clone3.
//
//go:nosplit
//go:norace
func startChildIn(args *[11]uint64, cgroupFD int, flags, stack uintptr, region unsafe.Pointer, a, b uintptr) (int, syscall.Errno) {
	*args = [11]uint64{}
	args[0] = uint64(flags&^0xff) | cloneIntoCgroup
	args[4] = uint64(flags & 0xff) // the exit signal, which clone3 takes apart
	args[5] = uint64(stack) - 4096 // the stack: its top is stack
	args[6] = 4096
	args[10] = uint64(cgroupFD)
	runtimeBeforeFork()
	pid, errno := cloneOnStack(sysClone3, uintptr(unsafe.Pointer(args)), 88, stack, region, a, b)
	runtimeAfterFork()
	return int(pid), syscall.Errno(errno)
}

// cloneIntoCgroup is CLONE_INTO_CGROUP (Linux 5.7).
const cloneIntoCgroup = 0x200000000
