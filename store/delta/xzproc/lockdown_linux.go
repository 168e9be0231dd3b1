//go:build linux && cgo

package xzproc

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	retAllow = 0x7fff0000
	retErrno = 0x00050000
	retKill  = 0x80000000 // the whole process
	ldAbs    = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	jeq      = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jge      = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	jset     = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	ret      = unix.BPF_RET | unix.BPF_K
)

// lockDown confines every thread of the process, for good: no new
// privileges, and a seccomp filter of the calls below. clone is taken
// for threads only, tgkill for this process's own (Go preempts with
// it); clone3 is answered ENOSYS, so that the C library creates threads
// with clone, whose flags the filter can see. The program is built here,
// not compiled ahead as the sandbox's are (sandbox/rules): it names this
// process's pid.
func lockDown() error {
	if auditArch == 0 {
		return fmt.Errorf("no seccomp filter for %s", runtime.GOARCH)
	}
	// The calls made once locked down: reads and writes on the
	// descriptors given, and what Go's runtime and the C library need
	// for memory, threads and their signals. Opening, creating,
	// connecting, executing, tracing and signalling anything else are
	// refused.
	allowed := []uint32{
		unix.SYS_READ, unix.SYS_PREAD64, unix.SYS_WRITE, unix.SYS_CLOSE,
		unix.SYS_EXIT, unix.SYS_EXIT_GROUP,
		unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MREMAP, unix.SYS_MPROTECT, unix.SYS_BRK, unix.SYS_MADVISE,
		unix.SYS_FUTEX, unix.SYS_SCHED_YIELD, unix.SYS_NANOSLEEP, unix.SYS_CLOCK_NANOSLEEP, unix.SYS_CLOCK_GETTIME,
		unix.SYS_RT_SIGRETURN, unix.SYS_RT_SIGPROCMASK, unix.SYS_RT_SIGACTION, unix.SYS_SIGALTSTACK,
		unix.SYS_GETTID, unix.SYS_GETPID, unix.SYS_SET_ROBUST_LIST, unix.SYS_RSEQ,
		unix.SYS_SCHED_GETAFFINITY, unix.SYS_GETRANDOM, unix.SYS_RESTART_SYSCALL,
		// The runtime's poller, for its timers: descriptors of its own.
		unix.SYS_EPOLL_CREATE1, unix.SYS_EPOLL_CTL, unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_PWAIT2, unix.SYS_EVENTFD2,
	}
	pid := uint32(unix.Getpid())
	p := []unix.SockFilter{
		{Code: ldAbs, K: 4}, // arch
		{Code: jeq, Jt: 1, K: auditArch},
		{Code: ret, K: retKill},
		{Code: ldAbs, K: 0},                      // nr
		{Code: jge, Jt: 0, Jf: 1, K: 0x40000000}, // x32's
		{Code: ret, K: retKill},
	}
	for _, nr := range allowed {
		p = append(p, unix.SockFilter{Code: jeq, Jf: 1, K: nr}, unix.SockFilter{Code: ret, K: retAllow})
	}
	// clone only for threads (Go's, and the C library's): sharing
	// memory and the thread group, so never a process of its own.
	p = append(p,
		unix.SockFilter{Code: jeq, Jf: 5, K: unix.SYS_CLONE},
		unix.SockFilter{Code: ldAbs, K: 16}, // flags, the first argument
		unix.SockFilter{Code: jset, Jf: 2, K: unix.CLONE_THREAD},
		unix.SockFilter{Code: jset, Jf: 1, K: unix.CLONE_VM},
		unix.SockFilter{Code: ret, K: retAllow},
		unix.SockFilter{Code: ret, K: retErrno | uint32(unix.EPERM)},
	)
	p = append(p,
		unix.SockFilter{Code: jeq, Jf: 1, K: unix.SYS_CLONE3},
		unix.SockFilter{Code: ret, K: retErrno | uint32(unix.ENOSYS)},
		unix.SockFilter{Code: jeq, Jf: 3, K: unix.SYS_TGKILL},
		unix.SockFilter{Code: ldAbs, K: 16}, // tgid, the first argument
		unix.SockFilter{Code: jeq, Jf: 1, K: pid},
		unix.SockFilter{Code: ret, K: retAllow},
		unix.SockFilter{Code: ret, K: retErrno | uint32(unix.EPERM)},
	)
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(p)), Filter: &p[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return fmt.Errorf("seccomp: %w", e)
	}
	if r != 0 {
		// TSYNC names the thread it could not confine, and installs
		// nothing.
		return fmt.Errorf("seccomp: thread %d could not be confined", r)
	}
	return nil
}
