package boot

import (
	"syscall"
	"unsafe"
)

//go:linkname runtimeBeforeFork syscall.runtime_BeforeFork
func runtimeBeforeFork()

//go:linkname runtimeAfterFork syscall.runtime_AfterFork
func runtimeAfterFork()

// cloneOnStack is clone(2) with the child running childMain(region, a, b)
// on the stack given, in assembly: a child sharing this process's memory
// must not return through Go frames it shares with the parent.
func cloneOnStack(flags, stack uintptr, region unsafe.Pointer, a, b uintptr) (pid, errno uintptr)

// startChild clones the sandbox's first process; signals are blocked
// around the clone, so that the child starts with every signal blocked
// and no Go handler can run in it before it resets them.
//
//go:nosplit
//go:norace
func startChild(flags, stack uintptr, region unsafe.Pointer, a, b uintptr) (int, syscall.Errno) {
	runtimeBeforeFork()
	pid, errno := cloneOnStack(flags, stack, region, a, b)
	runtimeAfterFork()
	return int(pid), syscall.Errno(errno)
}
