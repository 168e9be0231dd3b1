package sandbox

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"arbor/sandbox/boot"
)

// Host is what applying permissions needs to know of the caller.
type Host struct {
	Home       string            // the user's home directory
	UID        int               // the user's id
	RuntimeDir string            // the user's XDG_RUNTIME_DIR on the host
	Env        map[string]string // the host environment (DISPLAY, sockets)
	AppID      string            // for persistent directories; "" for none
	// SessionProxy and SystemProxy are the bus proxy's sockets for this
	// app, where a bus is reached through it; "" for none.
	SessionProxy, SystemProxy string
	// DocPortal is the document portal's mount on the host, where one
	// serves; "" for none.
	DocPortal string
}

// hostExcluded are top-level host directories "host" does not share.
var hostExcluded = map[string]bool{"app": true, "bin": true, "boot": true, "dev": true, "efi": true, "etc": true,
	"lib": true, "lib32": true, "lib64": true, "proc": true, "root": true, "run": true, "sbin": true, "sys": true,
	"tmp": true, "usr": true, "var": true}

// Namespaces is what Apply makes of spec's namespaces and features: enough to start
// the sandbox while the rest of the spec is made.
func (c *Context) Namespaces(spec Spec) Namespaces {
	ns := NamespacesOf(spec)
	ns.Network, ns.IPC = c.Shared["network"], c.Shared["ipc"]
	ns.Features = Features{Devel: c.Features["devel"], Multiarch: c.Features["multiarch"],
		Bluetooth: c.Features["bluetooth"], Canbus: c.Features["canbus"]}
	return ns
}

// Apply turns the permissions into the spec's shares, features, binds and
// environment. Locations missing on the host are skipped, as flatpak
// skips them, unless they are to be created.
func (c *Context) Apply(spec *Spec, h Host) ([]string, error) {
	ns := c.Namespaces(*spec)
	spec.Network, spec.IPC, spec.Features = ns.Network, ns.IPC, ns.Features
	var binds []Bind
	var env []string
	add := func(src, dest string, mode FSMode) error {
		if mode == FSNone {
			return nil
		}
		if _, err := os.Lstat(src); errors.Is(err, os.ErrNotExist) {
			if mode != FSCreate {
				return nil
			}
			if err := mkdirNoFollow(src); err != nil {
				return err
			}
		}
		binds = append(binds, Bind{Source: src, Dest: dest, Writable: mode != FSReadOnly})
		return nil
	}
	run := boot.RuntimeDir(h.UID)
	locs := make([]string, 0, len(c.Filesystems))
	for loc := range c.Filesystems {
		locs = append(locs, loc)
	}
	sort.Strings(locs)
	for _, loc := range locs {
		mode := c.Filesystems[loc]
		var err error
		switch {
		case loc == "host" || loc == "host-os" || loc == "host-etc":
			err = c.addHost(loc, mode, add)
		case loc == "home":
			err = add(h.Home, h.Home, mode)
		case strings.HasPrefix(loc, "~/"):
			p := filepath.Join(h.Home, loc[2:])
			err = add(p, p, mode)
		case strings.HasPrefix(loc, "/"):
			err = add(loc, loc, mode)
		default:
			name, sub, _ := strings.Cut(loc, "/")
			if name == "xdg-run" {
				if h.RuntimeDir != "" {
					err = add(filepath.Join(h.RuntimeDir, sub), filepath.Join(run, sub), mode)
				}
				break
			}
			p := filepath.Join(h.Home, xdgNames[name], sub)
			err = add(p, p, mode)
		}
		if err != nil {
			return nil, fmt.Errorf("filesystem %s: %w", loc, err)
		}
	}
	// Persistent directories stand in for parts of a home the app cannot
	// see; with the home shared they are not needed, as in flatpak.
	if h.AppID != "" && c.Filesystems["home"] == FSNone && c.Filesystems["host"] == FSNone {
		if err := ValidateID(h.AppID); err != nil {
			return nil, err
		}
		for _, v := range slices.Sorted(maps.Keys(c.Persistent)) {
			if !c.Persistent[v] {
				continue
			}
			p, err := persistentPath(v)
			if err != nil {
				return nil, err
			}
			src := filepath.Join(h.Home, ".var/app", h.AppID, p)
			if err := mkdirNoFollow(src); err != nil {
				return nil, fmt.Errorf("persistent=%s: %w", v, err)
			}
			binds = append(binds, Bind{Source: src, Dest: filepath.Join(h.Home, p), Writable: true})
		}
	}
	for _, d := range []struct{ name, path string }{{"dri", "/dev/dri"}, {"kvm", "/dev/kvm"}, {"shm", "/dev/shm"}} {
		if c.Devices[d.name] && !c.Devices["all"] {
			if _, err := os.Stat(d.path); err == nil {
				binds = append(binds, Bind{Source: d.path, Dest: d.path, Writable: true, Device: true})
			}
		}
	}
	if c.Devices["all"] {
		binds = append(binds, Bind{Source: "/dev", Dest: "/dev", Writable: true, Device: true})
	}
	// The documents the user gave this app through the document portal,
	// at flatpak's paths; the portal's other apps' and the host's files
	// are not there.
	if h.DocPortal != "" && h.AppID != "" {
		if err := ValidateID(h.AppID); err != nil {
			return nil, err
		}
		src := filepath.Join(h.DocPortal, "by-app", h.AppID)
		if fi, err := os.Lstat(src); err == nil && fi.IsDir() {
			binds = append(binds, Bind{Source: src, Dest: "/run/flatpak/doc", Writable: true}, Bind{Source: src, Dest: run + "/doc", Writable: true})
		}
	}
	sockEnv, sockBinds := c.sockets(h, run)
	binds = append(binds, sockBinds...)
	env = append(env, sockEnv...)
	for k, v := range c.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	// Parents before children, those already in the spec (the app's
	// directories) too, so that no bind hides another.
	spec.Binds = append(spec.Binds, binds...)
	sort.SliceStable(spec.Binds, func(i, j int) bool { return len(spec.Binds[i].Dest) < len(spec.Binds[j].Dest) })
	return env, nil
}

func (c *Context) addHost(loc string, mode FSMode, add func(src, dest string, mode FSMode) error) error {
	if loc == "host" {
		ents, err := os.ReadDir("/")
		if err != nil {
			return err
		}
		for _, e := range ents {
			if e.IsDir() && !hostExcluded[e.Name()] {
				if err := add("/"+e.Name(), "/"+e.Name(), mode); err != nil {
					return err
				}
			}
		}
	}
	if loc == "host" || loc == "host-os" {
		for _, d := range []string{"usr", "bin", "lib", "lib32", "lib64", "sbin"} {
			if fi, err := os.Lstat("/" + d); err == nil && fi.IsDir() {
				if err := add("/"+d, "/run/host/"+d, mode); err != nil {
					return err
				}
			}
		}
	}
	if loc == "host" || loc == "host-etc" {
		return add("/etc", "/run/host/etc", mode)
	}
	return nil
}

// ProxiedSessionBus is where an app finds its session bus proxy, as
// under flatpak.
const ProxiedSessionBus = "/run/flatpak/bus"

// BusSocketPath is the socket of a D-Bus unix:path= address; false for
// any other kind (an abstract socket, tcp).
func BusSocketPath(addr string) (string, bool) {
	p, ok := strings.CutPrefix(addr, "unix:path=")
	if !ok {
		return "", false
	}
	p, _, _ = strings.Cut(p, ",")
	return p, p != ""
}

// HostSystemBus is the path of the host's system bus socket, with the
// host's own links resolved (the usual address names /var/run, a link to
// /run): a bind refuses a symlink on its way.
func HostSystemBus(env map[string]string) string {
	p, ok := BusSocketPath(env["DBUS_SYSTEM_BUS_ADDRESS"])
	if !ok {
		p = "/run/dbus/system_bus_socket"
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	return p
}

// sockets shares the host sockets the context grants, at the paths and
// with the variables flatpak uses.
func (c *Context) sockets(h Host, run string) (env []string, binds []Bind) {
	sock := func(src, dest string) bool {
		if fi, err := os.Stat(src); err != nil || fi.Mode()&os.ModeSocket == 0 {
			return false
		}
		binds = append(binds, Bind{Source: src, Dest: dest, Writable: true})
		return true
	}
	if c.Sockets["x11"] || c.Sockets["fallback-x11"] && !c.Sockets["wayland"] {
		if d := h.Env["DISPLAY"]; strings.HasPrefix(d, ":") {
			n, _, _ := strings.Cut(d[1:], ".")
			if sock("/tmp/.X11-unix/X"+n, "/tmp/.X11-unix/X"+n) {
				env = append(env, "DISPLAY="+d)
			}
		}
	}
	if c.Sockets["wayland"] && h.RuntimeDir != "" {
		name := h.Env["WAYLAND_DISPLAY"]
		if name == "" {
			name = "wayland-0"
		}
		if sock(filepath.Join(h.RuntimeDir, name), run+"/wayland-0") {
			env = append(env, "WAYLAND_DISPLAY=wayland-0")
		}
	}
	if c.Sockets["pulseaudio"] && h.RuntimeDir != "" {
		if sock(filepath.Join(h.RuntimeDir, "pulse/native"), run+"/pulse/native") {
			env = append(env, "PULSE_SERVER=unix:"+run+"/pulse/native")
		}
	}
	if c.Sockets["session-bus"] {
		if p, ok := BusSocketPath(h.Env["DBUS_SESSION_BUS_ADDRESS"]); ok {
			if sock(p, run+"/bus") {
				env = append(env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+run+"/bus")
			}
		}
	} else if h.SessionProxy != "" && sock(h.SessionProxy, ProxiedSessionBus) {
		env = append(env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+ProxiedSessionBus)
	}
	const systemBus = "/run/dbus/system_bus_socket"
	if c.Sockets["system-bus"] {
		if sock(HostSystemBus(h.Env), systemBus) {
			env = append(env, "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+systemBus)
		}
	} else if h.SystemProxy != "" && sock(h.SystemProxy, systemBus) {
		env = append(env, "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+systemBus)
	}
	if c.Sockets["pcsc"] {
		sock("/run/pcscd/pcscd.comm", "/run/pcscd/pcscd.comm")
	}
	if c.Sockets["cups"] {
		sock("/run/cups/cups.sock", "/var/run/cups/cups.sock")
	}
	if c.Sockets["gpg-agent"] && h.RuntimeDir != "" {
		sock(filepath.Join(h.RuntimeDir, "gnupg/S.gpg-agent"), run+"/gnupg/S.gpg-agent")
	}
	if c.Sockets["ssh-auth"] {
		if p := h.Env["SSH_AUTH_SOCK"]; p != "" && sock(p, run+"/ssh-auth") {
			env = append(env, "SSH_AUTH_SOCK="+run+"/ssh-auth")
		}
	}
	return env, binds
}
