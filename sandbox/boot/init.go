package boot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// InitArg0 marks a process started to be the sandbox's init.
const InitArg0 = "arbor-sandbox-init"

// MaybeInit runs the sandbox's init when this process is one, and never
// returns then.
func MaybeInit() {
	if len(os.Args) == 0 || os.Args[0] != InitArg0 {
		return
	}
	os.Exit(initMain())
}

// loadFilter loads the compiled seccomp program on this thread (the one
// that starts the command, which inherits it; no TSYNC).
func loadFilter(prog []byte) error {
	if len(prog) == 0 || len(prog)%8 != 0 || len(prog)/8 > 0xffff {
		return fmt.Errorf("seccomp program of %d bytes", len(prog))
	}
	insns := make([]unix.SockFilter, len(prog)/8)
	for i := range insns {
		b := prog[i*8:]
		insns[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	fprog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		return fmt.Errorf("loading the seccomp filter: %w", err)
	}
	runtime.KeepAlive(insns)
	return nil
}

// Descriptors init inherits.
const (
	specFD  = 3
	readyFD = 4
)

// initMain is PID 1 of the sandbox: it builds the root, then starts the
// command as PID 2 and reaps until it exits, whose status it returns.
func initMain() int {
	// Credentials, capabilities, no_new_privs and the root are per
	// thread until exec: everything happens on this one.
	runtime.LockOSThread()
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "arbor sandbox: %v\n", err)
		return 1
	}
	var spec Spec
	f := os.NewFile(specFD, "spec")
	if err := spec.Decode(f); err != nil {
		return fail(fmt.Errorf("reading the spec: %w", err))
	}
	f.Close()
	if err := build(&spec); err != nil {
		return fail(err)
	}
	if !spec.System {
		if err := lockDown(); err != nil {
			return fail(err)
		}
		if err := loadFilter(spec.Seccomp); err != nil {
			return fail(err)
		}
	}
	path, err := lookPath(spec.Args[0], spec.Env)
	if err != nil {
		return fail(err)
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	pid, err := syscall.ForkExec(path, spec.Args, &syscall.ProcAttr{
		Dir:   dir,
		Env:   spec.Env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return fail(fmt.Errorf("starting %s: %w", spec.Args[0], err))
	}
	// init needs the terminal no more; without it, a reader of the
	// command's output sees its end when the command's processes end.
	for fd := 0; fd <= 2; fd++ {
		unix.Close(fd)
	}
	ready := os.NewFile(readyFD, "ready")
	ready.Write([]byte{1})
	// The command's status goes out as soon as it is known: the caller
	// need not wait while the kernel tears the namespaces down.
	code := reap(pid)
	ready.Write([]byte{byte(code)})
	ready.Close()
	return code
}

// reap waits for every process of the sandbox (orphans end up with PID 1)
// and returns the command's status once it exits; the others die with the
// namespace when init exits.
func reap(main int) int {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 1
		}
		if pid != main {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// lookPath finds the command as execvp would with the sandbox's PATH; a
// name beginning with '-' is a name like any other.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/app/bin:/usr/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found in the sandbox (PATH=%s)", name, path)
}

// lockDown leaves the command no way to gain privileges: no_new_privs,
// an empty capability bounding set and no capabilities.
func lockDown() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	// Past the kernel's last capability the call fails with EINVAL: going
	// to 63 spares reading /proc/sys/kernel/cap_last_cap.
	for c := 0; c < 64; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	return nil
}
