// Package sandbox runs a command the way bubblewrap does for flatpak, in
// Go and without a setuid helper: new namespaces, a fresh tmpfs root
// entered with pivot_root, a runtime at /usr and an app at /app mounted
// read-only from file descriptors, and no way back to privileges.
//
// The work inside the namespaces is done by a clone of the caller (see
// package boot) that runs a list of system calls the caller made for it,
// and no Go, until the command's exec.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

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
	sb := New(ctx, NamespacesOf(spec), stdio)
	defer sb.Close()
	if err := sb.Prepare(spec); err != nil {
		return 0, err
	}
	sb.Start()
	return sb.Run()
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

// Namespaces is what starting a sandbox takes from its spec: its
// namespaces, and the features its seccomp program allows.
type Namespaces struct {
	Network, IPC bool // shared with the host
	UID, GID     int  // who runs inside, as in Spec
	UserName     string
	Features     Features
}

// NamespacesOf is the part of spec that Start needs.
func NamespacesOf(spec Spec) Namespaces {
	return Namespaces{Network: spec.Network, IPC: spec.IPC, UID: spec.UID, GID: spec.GID, UserName: spec.UserName, Features: spec.Features}
}

// ids are who runs inside: the caller, unless root chose someone.
func (ns Namespaces) ids() (uid, gid int) {
	if os.Geteuid() != 0 || ns.UID == 0 && ns.GID == 0 && ns.UserName == "" {
		return os.Getuid(), os.Getgid()
	}
	return ns.UID, ns.GID
}

// Sandbox is a sandbox being made. Making its namespaces (Start) is
// most of a start's time; a caller that knows the permissions finishes
// the spec and hands it over (Prepare) on another goroutine meanwhile.
type Sandbox struct {
	ctx      context.Context
	ns       Namespaces
	err      error // New's or Start's
	proc     *boot.Proc
	prepared bool
	closers  []io.Closer // this process's copies of the command's streams
	copies   sync.WaitGroup
	ran      bool
}

// New makes what a sandbox with these namespaces needs, and no process
// yet.
func New(ctx context.Context, ns Namespaces, stdio Stdio) *Sandbox {
	sb := &Sandbox{ctx: ctx, ns: ns}
	files, err := sb.streams(stdio)
	if err == nil {
		sb.proc, err = boot.New(files)
	}
	if err != nil {
		sb.closeStreams()
		sb.err = err
	}
	return sb
}

// Start makes the namespaces and the sandbox's first process, which waits
// for Run.
func (sb *Sandbox) Start() {
	if sb.err != nil {
		return
	}
	uid, gid := sb.ns.ids()
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP)
	if !sb.ns.Network {
		flags |= unix.CLONE_NEWNET
	}
	if !sb.ns.IPC {
		flags |= unix.CLONE_NEWIPC
	}
	var users *boot.IDMap
	if os.Geteuid() != 0 {
		// A user namespace with only the caller mapped, as bubblewrap
		// makes when it is not setuid; setgroups is denied.
		flags |= unix.CLONE_NEWUSER
		users = &boot.IDMap{UID: uid, GID: gid}
	}
	sb.err = sb.proc.Clone(flags, users)
}

// IntoCgroup has Start make the sandbox in the cgroup (v2) open at fd,
// where the kernel can (clone3); InCgroup says whether it did.
func (sb *Sandbox) IntoCgroup(fd int) {
	if sb.proc != nil {
		sb.proc.IntoCgroup(fd)
	}
}

// InCgroup says whether Start made the sandbox in IntoCgroup's cgroup.
func (sb *Sandbox) InCgroup() bool { return sb.proc != nil && sb.proc.InCgroup() }

// Pid is the sandbox's first process, as the host sees it, once Start
// made it; 0 before or after a failed start.
func (sb *Sandbox) Pid() int {
	if sb.proc == nil || sb.err != nil {
		return 0
	}
	return sb.proc.Pid()
}

// Prepare takes the spec, whose namespace fields must be those the
// sandbox was made with, and compiles what the first process will do. It
// may run while Start does.
func (sb *Sandbox) Prepare(spec Spec) error {
	if err := check(spec); err != nil {
		return err
	}
	if NamespacesOf(spec) != sb.ns {
		return errors.New("sandbox: the spec's namespaces differ from those it was started with")
	}
	if sb.proc == nil {
		return nil // New failed: Run says why
	}
	spec.UID, spec.GID = sb.ns.ids()
	if !spec.System {
		prog, err := SeccompProgram(spec.Features)
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		spec.Seccomp = prog
	}
	if err := sb.proc.Compile(&spec); err != nil {
		return err
	}
	sb.prepared = true
	return nil
}

// streams are the command's standard streams as files: the caller's own
// files as they are, /dev/null for nil, and a pipe copied here for any
// other reader or writer.
func (sb *Sandbox) streams(stdio Stdio) ([3]*os.File, error) {
	var files [3]*os.File
	keep := func(f *os.File) { sb.closers = append(sb.closers, f) }
	if f, ok := stdio.Stdin.(*os.File); ok {
		files[0] = f
	} else if stdio.Stdin == nil {
		f, err := os.Open(os.DevNull)
		if err != nil {
			return files, err
		}
		files[0] = f
		keep(f)
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return files, err
		}
		files[0] = r
		keep(r)
		go func() {
			io.Copy(w, stdio.Stdin)
			w.Close()
		}()
	}
	for i, o := range []io.Writer{stdio.Stdout, stdio.Stderr} {
		if f, ok := o.(*os.File); ok {
			files[1+i] = f
			continue
		}
		if o == nil {
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				return files, err
			}
			files[1+i] = f
			keep(f)
			continue
		}
		if i == 1 && sameWriter(stdio.Stderr, stdio.Stdout) {
			files[2] = files[1] // one pipe, one copier, as exec does
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return files, err
		}
		files[1+i] = w
		keep(w)
		sb.copies.Add(1)
		go func() {
			defer sb.copies.Done()
			defer r.Close()
			io.Copy(o, r)
		}()
	}
	return files, nil
}

// closeStreams closes this process's copies of the command's streams,
// which the sandbox has its own of once its program is sent.
func (sb *Sandbox) closeStreams() {
	for _, c := range sb.closers {
		c.Close()
	}
	sb.closers = nil
}

// Close ends a sandbox that Run was not called on; after Run it does
// nothing.
func (sb *Sandbox) Close() {
	if sb.ran {
		return
	}
	sb.ran = true
	if sb.proc != nil {
		sb.proc.Kill()
	}
	sb.closeStreams()
	sb.copies.Wait()
}

// Run hands the prepared spec over and returns the command's exit status
// (128+N when killed by signal N).
func (sb *Sandbox) Run() (int, error) {
	if sb.ran {
		return 0, errors.New("sandbox: run twice")
	}
	if sb.err != nil || !sb.prepared {
		sb.Close()
		if sb.err == nil {
			return 0, errors.New("sandbox: run without a spec")
		}
		return 0, sb.err
	}
	sb.ran = true
	defer sb.copies.Wait() // once the command's output ends
	err := sb.proc.Send()
	sb.closeStreams()
	if err != nil {
		sb.proc.Kill()
		return 0, err
	}
	if done := sb.ctx.Done(); done != nil {
		ran := make(chan struct{})
		defer close(ran)
		go func() {
			select {
			case <-done:
				sb.proc.Kill()
			case <-ran:
			}
		}()
	}
	return sb.proc.Wait()
}

// sameWriter compares two writers without panicking on values of
// uncomparable types.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() { recover() }()
	return a == b
}
