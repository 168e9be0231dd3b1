//go:build !amd64

package boot

import (
	"syscall"
	"unsafe"
)

// The sandbox's first process is started by a few lines of assembly,
// written for amd64 only so far.

func cloneOnStack(nr, arg0, arg1, stack uintptr, region unsafe.Pointer, a, b uintptr) (pid, errno uintptr) {
	return 0, uintptr(syscall.ENOSYS)
}

const sysClone = 0

func startChild(flags, stack uintptr, region unsafe.Pointer, a, b uintptr) (int, syscall.Errno) {
	return 0, syscall.ENOSYS
}

func startChildIn(args *[11]uint64, cgroupFD int, flags, stack uintptr, region unsafe.Pointer, a, b uintptr) (int, syscall.Errno) {
	return 0, syscall.ENOSYS
}
