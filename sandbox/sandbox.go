// Package sandbox runs a command the way bubblewrap does for flatpak, in
// Go and without a setuid helper: new namespaces, a fresh tmpfs root
// entered with pivot_root, a runtime at /usr and an app at /app mounted
// read-only from file descriptors, and no way back to privileges.
//
// The work inside the namespaces is done by the same binary started again
// (as runc does): a program that uses Run must call MaybeInit first thing
// in main (and in TestMain).
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"arbor/sandbox/boot"
)

// Spec, Bind and Features are the sandbox's description; they live in
// package boot, which the sandbox's own init runs without cgo.
type (
	Spec     = boot.Spec
	Bind     = boot.Bind
	Features = boot.Features
)

// Stdio are the command's standard streams; nil ones are /dev/null.
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run runs the command and returns its exit status (128+N when killed by
// signal N). The sandbox dies with the caller.
func Run(ctx context.Context, spec Spec, stdio Stdio) (int, error) {
	if len(spec.Args) == 0 {
		return 0, errors.New("sandbox: no command")
	}
	if spec.Runtime == "" {
		return 0, errors.New("sandbox: no runtime")
	}
	priv := os.Geteuid() == 0
	if !priv || spec.UID == 0 && spec.GID == 0 && spec.UserName == "" {
		spec.UID, spec.GID = os.Getuid(), os.Getgid()
	}
	if !spec.System {
		prog, err := compileFilter(spec.Features)
		if err != nil {
			return 0, fmt.Errorf("sandbox: %w", err)
		}
		spec.Seccomp = prog
	} else if !priv {
		return 0, errors.New("sandbox: running a system tree needs root")
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer specR.Close()
	// init writes one byte here once the sandbox is built: an exit without
	// it is a failure to build, not the command's status.
	readyR, readyW, err := os.Pipe()
	if err != nil {
		specW.Close()
		return 0, err
	}
	defer readyR.Close()
	cmd := exec.CommandContext(ctx, initPath())
	cmd.Args = []string{boot.InitArg0}
	cmd.Env = []string{}
	cmd.Stdin = stdio.Stdin
	// Output to anything but a file is copied here, so that Run can return
	// once the copies end, without waiting for init to be gone.
	var copies sync.WaitGroup
	defer copies.Wait() // after the write ends are closed, below
	var ends []*os.File
	defer func() {
		for _, f := range ends {
			f.Close()
		}
	}()
	for _, o := range []struct {
		dst *io.Writer
		w   io.Writer
	}{{&cmd.Stdout, stdio.Stdout}, {&cmd.Stderr, stdio.Stderr}} {
		if f, ok := o.w.(*os.File); ok || o.w == nil {
			if ok {
				*o.dst = f
			}
			continue
		}
		if o.dst == &cmd.Stderr && cmd.Stdout != nil && sameWriter(stdio.Stderr, stdio.Stdout) {
			cmd.Stderr = cmd.Stdout // one pipe, one copier, as exec does
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		*o.dst = w
		ends = append(ends, w)
		copies.Add(1)
		go func() {
			defer copies.Done()
			defer r.Close()
			io.Copy(o.w, r)
		}()
	}
	cmd.ExtraFiles = []*os.File{specR, readyW}
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP)
	if !spec.Network {
		flags |= unix.CLONE_NEWNET
	}
	if !spec.IPC {
		flags |= unix.CLONE_NEWIPC
	}
	attr := &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL, Setsid: true}
	if !priv {
		// A user namespace with only the caller mapped, as bubblewrap
		// makes when it is not setuid; setgroups is denied.
		attr.Cloneflags |= unix.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: spec.UID, HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: spec.GID, HostID: os.Getgid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
		// init runs as the caller's uid inside, so exec would drop the
		// capabilities it has in its new namespace; these it needs to
		// build the root, and drops before the command starts.
		attr.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SYS_CHROOT, unix.CAP_NET_ADMIN, unix.CAP_SETPCAP}
	}
	cmd.SysProcAttr = attr
	err = cmd.Start()
	readyW.Close()
	for _, f := range ends {
		f.Close()
	}
	ends = nil
	if err != nil {
		specW.Close()
		return 0, fmt.Errorf("sandbox: starting: %w", err)
	}
	err = json.NewEncoder(specW).Encode(spec)
	specW.Close()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, fmt.Errorf("sandbox: passing the spec: %w", err)
	}
	var b [2]byte
	n, _ := io.ReadFull(readyR, b[:])
	if n == 2 {
		// init sent the command's status and is on its way out; it is
		// reaped in the background (it dies with this process anyway).
		go cmd.Wait()
		return int(b[1]), nil
	}
	err = cmd.Wait()
	if n == 0 {
		return 0, fmt.Errorf("sandbox: could not be set up (the reason is on stderr): %v", err)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("sandbox: %w", err)
	}
	return 0, nil
}

// sameWriter compares two writers without panicking on values of
// uncomparable types.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() { recover() }()
	return a == b
}

// initPath is the program that becomes the sandbox's init: the small
// arbor-sandbox-init beside this binary when there is one, else this
// binary again.
func initPath() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), boot.InitArg0)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return "/proc/self/exe"
}

// MaybeInit runs the sandbox's init when this process is one, and never
// returns then.
func MaybeInit() { boot.MaybeInit() }
