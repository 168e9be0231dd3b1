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
	if err := check(spec); err != nil {
		return 0, err
	}
	sb := Start(ctx, NamespacesOf(spec), stdio)
	defer sb.Close()
	return sb.Run(spec)
}

func check(spec Spec) error {
	if len(spec.Args) == 0 {
		return errors.New("sandbox: no command")
	}
	if spec.Runtime == "" {
		return errors.New("sandbox: no runtime")
	}
	if spec.System && os.Geteuid() != 0 {
		return errors.New("sandbox: running a system tree needs root")
	}
	return nil
}

// Namespaces is what making a sandbox's namespaces takes from its spec.
type Namespaces struct {
	Network, IPC bool // shared with the host
	UID, GID     int  // who runs inside, as in Spec
	UserName     string
}

// NamespacesOf is the part of spec that Start needs.
func NamespacesOf(spec Spec) Namespaces {
	return Namespaces{Network: spec.Network, IPC: spec.IPC, UID: spec.UID, GID: spec.GID, UserName: spec.UserName}
}

// ids are who runs inside: the caller, unless root chose someone.
func (ns Namespaces) ids() (uid, gid int) {
	if os.Geteuid() != 0 || ns.UID == 0 && ns.GID == 0 && ns.UserName == "" {
		return os.Getuid(), os.Getgid()
	}
	return ns.UID, ns.GID
}

// Sandbox is a sandbox being made, waiting for the rest of its spec.
type Sandbox struct {
	ns      Namespaces
	started chan struct{} // closed when start returned
	err     error         // start's
	cmd     *exec.Cmd
	specW   *os.File
	readyR  *os.File
	copies  sync.WaitGroup
	ran     bool
}

// Start makes the namespaces and starts the init, which waits for Run, in
// the background: a caller that knows the permissions starts a sandbox
// and finishes the spec meanwhile. Making namespaces and starting the
// init are most of a start's time, and the rest of the spec (the seccomp
// program, holds on commits) is done on the other processor.
func Start(ctx context.Context, ns Namespaces, stdio Stdio) *Sandbox {
	sb := &Sandbox{ns: ns, started: make(chan struct{})}
	go func() {
		defer close(sb.started)
		sb.err = sb.start(ctx, stdio)
	}()
	return sb
}

func (sb *Sandbox) start(ctx context.Context, stdio Stdio) error {
	uid, gid := sb.ns.ids()
	specR, specW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer specR.Close()
	// init writes one byte here once the sandbox is built: an exit without
	// it is a failure to build, not the command's status.
	readyR, readyW, err := os.Pipe()
	if err != nil {
		specW.Close()
		return err
	}
	cmd := exec.CommandContext(ctx, initPath())
	cmd.Args = []string{boot.InitArg0}
	cmd.Env = []string{}
	cmd.Stdin = stdio.Stdin
	// Output to anything but a file is copied here, so that Run can return
	// once the copies end, without waiting for init to be gone.
	var ends []*os.File
	fail := func(err error) error {
		for _, f := range ends {
			f.Close()
		}
		specW.Close()
		readyR.Close()
		readyW.Close()
		sb.copies.Wait()
		return err
	}
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
			return fail(err)
		}
		*o.dst = w
		ends = append(ends, w)
		sb.copies.Add(1)
		go func() {
			defer sb.copies.Done()
			defer r.Close()
			io.Copy(o.w, r)
		}()
	}
	cmd.ExtraFiles = []*os.File{specR, readyW}
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP)
	if !sb.ns.Network {
		flags |= unix.CLONE_NEWNET
	}
	if !sb.ns.IPC {
		flags |= unix.CLONE_NEWIPC
	}
	attr := &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL, Setsid: true}
	if os.Geteuid() != 0 {
		// A user namespace with only the caller mapped, as bubblewrap
		// makes when it is not setuid; setgroups is denied.
		attr.Cloneflags |= unix.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: os.Getgid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
		// init runs as the caller's uid inside, so exec would drop the
		// capabilities it has in its new namespace; these it needs to
		// build the root, and drops before the command starts.
		attr.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SYS_CHROOT, unix.CAP_NET_ADMIN, unix.CAP_SETPCAP}
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("sandbox: starting: %w", err))
	}
	readyW.Close()
	for _, f := range ends {
		f.Close()
	}
	sb.cmd, sb.specW, sb.readyR = cmd, specW, readyR
	return nil
}

// Close ends a sandbox that Run was not called on; after Run it does
// nothing.
func (sb *Sandbox) Close() {
	if sb.ran {
		return
	}
	sb.ran = true
	if <-sb.started; sb.err != nil {
		return
	}
	sb.cmd.Process.Kill()
	sb.specW.Close()
	sb.cmd.Wait()
	sb.readyR.Close()
	sb.copies.Wait()
}

// Run hands the spec over, whose namespace fields must be those Start was
// given, and returns the command's exit status (128+N when killed by
// signal N).
func (sb *Sandbox) Run(spec Spec) (int, error) {
	if sb.ran {
		return 0, errors.New("sandbox: run twice")
	}
	if err := check(spec); err != nil {
		sb.Close()
		return 0, err
	}
	if NamespacesOf(spec) != sb.ns {
		sb.Close()
		return 0, errors.New("sandbox: the spec's namespaces differ from those it was started with")
	}
	spec.UID, spec.GID = sb.ns.ids()
	if !spec.System {
		prog, err := compileFilter(spec.Features)
		if err != nil {
			sb.Close()
			return 0, fmt.Errorf("sandbox: %w", err)
		}
		spec.Seccomp = prog
	}
	if <-sb.started; sb.err != nil {
		sb.ran = true
		return 0, sb.err
	}
	sb.ran = true
	defer sb.copies.Wait() // once init's output ends
	defer sb.readyR.Close()
	err := func() error {
		defer sb.specW.Close()
		if err := spec.Encode(sb.specW); err != nil {
			return fmt.Errorf("sandbox: passing the spec: %w", err)
		}
		return nil
	}()
	cmd := sb.cmd
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, err
	}
	var b [2]byte
	n, _ := io.ReadFull(sb.readyR, b[:])
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
