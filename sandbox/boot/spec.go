// Package boot starts arbor's sandbox: it clones the first process into
// new namespaces and hands it a program of system calls that builds the
// root, gives up every privilege, loads the seccomp program it is given,
// starts the command and reaps. It is pure Go (no cgo).
package boot

import "strconv"

// Spec is one sandboxed command.
type Spec struct {
	Runtime string // host directory mounted read-only at /usr
	App     string // host directory mounted read-only at /app; "" for none
	// AppWritable mounts /app read-write, for building an app.
	AppWritable bool
	Args        []string // the command: a path, or a name looked up in /app/bin:/usr/bin
	Env         []string // the command's whole environment
	Dir         string   // working directory inside; "" for /
	Network     bool     // share the host's network namespace
	IPC         bool     // share the host's IPC namespace
	Binds       []Bind   // host paths made visible inside
	// UID and GID are who the command runs as inside; the caller's ids
	// unless running as root, when they may be set.
	UID, GID int
	UserName string // for the generated /etc/passwd; "user" when empty
	Features Features
	// Seccomp is the compiled filter (struct sock_filter entries), which
	// the caller builds with libseccomp.
	Seccomp []byte
	// Info, when set, is written to /.flatpak-info (mode 0600, owned by
	// the user), where software looks for what sandbox it runs in.
	Info []byte
	Home string // home directory inside; /home/USER when empty
	// System runs a whole operating system tree rather than an app: /etc
	// comes from Binds as it is, and the command keeps every privilege
	// (no seccomp filter, no capability dropped).
	System bool
}

// Bind makes a host path visible in the sandbox.
type Bind struct {
	Source   string // host path, opened without following symlinks
	Dest     string // absolute path inside
	Writable bool
	Device   bool // device nodes work through it (no nodev)
}

// Features loosen the seccomp filter as flatpak's [Context] features do.
type Features struct {
	Devel     bool // ptrace, perf_event_open and any personality
	Multiarch bool // 32-bit x86 on x86_64, and modify_ldt
	Bluetooth bool // AF_BLUETOOTH sockets
	Canbus    bool // AF_CAN sockets
}

// RuntimeDir is the user's XDG_RUNTIME_DIR inside the sandbox.
func RuntimeDir(uid int) string { return "/run/user/" + strconv.Itoa(uid) }
