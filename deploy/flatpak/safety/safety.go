// Package safety words an app's permissions for people, and rates how
// much of the user's system they reach, on the four steps GNOME Software
// shows: safe, probably safe, potentially unsafe, unsafe. The rule is the
// same: an app is as unsafe as the most dangerous thing it can reach.
package safety

import (
	"fmt"
	"sort"
	"strings"

	"arbor/sandbox"
)

// Level is how much a permission (or an app) puts at risk.
type Level int

// Levels, from least to most risk.
const (
	Safe Level = iota
	ProbablySafe
	PotentiallyUnsafe
	Unsafe
)

var levelNames = [...]string{"safe", "probably-safe", "potentially-unsafe", "unsafe"}

func (l Level) String() string {
	if l < Safe || l > Unsafe {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel is String's inverse.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), nil
		}
	}
	return Safe, fmt.Errorf("unknown safety level %q", s)
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	*l = v
	return err
}

// Permission is one thing an app can reach, in words.
type Permission struct {
	ID     string `json:"id"` // the metadata's name for it: "shared=network", "filesystems=home:ro"
	Label  string `json:"label"`
	Detail string `json:"detail,omitempty"`
	Level  Level  `json:"level"`
}

type word struct {
	label, detail string
	level         Level
}

// words for the names of [Context] groups; the unknown get a generic line.
func words(key, name string) word {
	switch key + "=" + name {
	case "shared=network":
		return word{"Network access", "Can reach the internet and the local network", PotentiallyUnsafe}
	case "shared=ipc":
		return word{"Shared memory with other programs", "Shares inter-process communication with the rest of the session", ProbablySafe}
	case "sockets=x11":
		return word{"Legacy windowing system (X11)", "Can see other windows and what is typed into them", PotentiallyUnsafe}
	case "sockets=fallback-x11":
		return word{"Legacy windowing system where Wayland is missing", "Outside Wayland, can see other windows and what is typed into them", PotentiallyUnsafe}
	case "sockets=wayland", "sockets=inherit-wayland-socket":
		return word{"Shows windows (Wayland)", "", Safe}
	case "sockets=pulseaudio":
		return word{"Sound", "Can play sound, and record from microphones", ProbablySafe}
	case "sockets=session-bus":
		return word{"Every service of the session", "Can talk to any program on the session bus, which can start programs outside the sandbox", Unsafe}
	case "sockets=system-bus":
		return word{"Every system service", "Can talk to any service on the system bus", PotentiallyUnsafe}
	case "sockets=ssh-auth":
		return word{"Your SSH keys", "Can use the SSH agent to log in to other machines as you", PotentiallyUnsafe}
	case "sockets=pcsc":
		return word{"Smart cards", "Can use smart cards and security tokens", PotentiallyUnsafe}
	case "sockets=cups":
		return word{"Printing", "Can talk to the printing service", ProbablySafe}
	case "sockets=gpg-agent":
		return word{"Your GnuPG keys", "Can use the GnuPG agent to sign and decrypt as you", PotentiallyUnsafe}
	case "devices=all":
		return word{"All devices", "Can use webcams, microphones, game controllers, USB and every other device", PotentiallyUnsafe}
	case "devices=dri":
		return word{"Graphics acceleration", "Can use the graphics card", ProbablySafe}
	case "devices=kvm":
		return word{"Virtual machines", "Can run virtual machines (KVM)", PotentiallyUnsafe}
	case "devices=shm":
		return word{"Shared memory", "Shares /dev/shm with the session", ProbablySafe}
	case "devices=input":
		return word{"Input devices", "Can read keyboards, mice and game controllers directly", PotentiallyUnsafe}
	case "devices=usb":
		return word{"USB devices", "Can use USB devices directly", PotentiallyUnsafe}
	case "features=devel":
		return word{"Debugging", "Can trace programs in its sandbox (ptrace, perf)", PotentiallyUnsafe}
	case "features=multiarch":
		return word{"Programs of other architectures", "Can run 32-bit programs", ProbablySafe}
	case "features=bluetooth":
		return word{"Bluetooth", "Can use Bluetooth devices", PotentiallyUnsafe}
	case "features=canbus":
		return word{"CAN bus", "Can use CAN bus devices", PotentiallyUnsafe}
	case "features=per-app-dev-shm":
		return word{"Shared memory with its own instances", "", Safe}
	}
	return word{key + ": " + name, "", PotentiallyUnsafe}
}

// xdgNames are the user directories flatpak names, in words.
var xdgNames = map[string]string{"xdg-desktop": "Desktop", "xdg-documents": "Documents", "xdg-download": "Downloads",
	"xdg-music": "Music", "xdg-pictures": "Pictures", "xdg-public-share": "Public", "xdg-videos": "Videos",
	"xdg-templates": "Templates", "xdg-config": "configuration", "xdg-cache": "cache", "xdg-data": "data", "xdg-run": "runtime"}

// fsWords words a filesystem grant.
func fsWords(loc string, m sandbox.FSMode) word {
	access := "read and write"
	if m == sandbox.FSReadOnly {
		access = "read"
	}
	base, sub, _ := strings.Cut(loc, "/")
	switch {
	case loc == "host":
		return word{"Full file system " + access + " access", "Can " + access + " every file you can, the system's included", Unsafe}
	case loc == "host-os":
		return word{"The system's programs and libraries", "Can " + access + " /usr and the host's other system files", PotentiallyUnsafe}
	case loc == "host-etc":
		return word{"The system's configuration", "Can " + access + " /etc", PotentiallyUnsafe}
	case loc == "home":
		return word{"Home folder " + access + " access", "Can " + access + " every file in your home folder", Unsafe}
	case xdgNames[base] != "" && base == "xdg-config" && strings.HasPrefix(sub, "dconf"):
		return word{"Settings", "Can " + access + " your settings for every app", PotentiallyUnsafe}
	case xdgNames[base] != "":
		where := xdgNames[base] + " folder"
		if sub != "" {
			where = "~/" + xdgNames[base] + "/" + sub
		}
		return word{where + " " + access + " access", "Can " + access + " the files in " + where, PotentiallyUnsafe}
	case strings.HasPrefix(loc, "~"):
		return word{loc + " " + access + " access", "Can " + access + " the files in " + loc, PotentiallyUnsafe}
	case strings.HasPrefix(loc, "/dev") || strings.HasPrefix(loc, "/sys") || strings.HasPrefix(loc, "/proc"):
		return word{loc + " " + access + " access", "Can " + access + " the kernel's files in " + loc, Unsafe}
	}
	return word{loc + " " + access + " access", "Can " + access + " the files in " + loc, PotentiallyUnsafe}
}

// Describe lists what an app's permissions let it reach; an app with
// none is said to be fully sandboxed.
func Describe(c *sandbox.Context) []Permission {
	var out []Permission
	add := func(id string, w word) {
		out = append(out, Permission{ID: id, Label: w.label, Detail: w.detail, Level: w.level})
	}
	if c != nil {
		for _, g := range []struct {
			key string
			set map[string]bool
		}{{"shared", c.Shared}, {"sockets", c.Sockets}, {"devices", c.Devices}, {"features", c.Features}} {
			for _, name := range sortedTrue(g.set) {
				if g.key == "sockets" && name == "fallback-x11" && g.set["x11"] {
					continue // x11 says it all
				}
				add(g.key+"="+name, words(g.key, name))
			}
		}
		locs := make([]string, 0, len(c.Filesystems))
		for loc, m := range c.Filesystems {
			if m != sandbox.FSNone {
				locs = append(locs, loc)
			}
		}
		sort.Strings(locs)
		for _, loc := range locs {
			m := c.Filesystems[loc]
			id := "filesystems=" + loc
			if m == sandbox.FSReadOnly {
				id += ":ro"
			}
			add(id, fsWords(loc, m))
		}
	}
	if len(out) == 0 {
		add("none", word{"No permissions", "Runs fully sandboxed", Safe})
	}
	return out
}

// DescribeBus words the names an app may talk to or own on the session
// and system buses ([Session Bus Policy], [System Bus Policy]).
func DescribeBus(session, system map[string]string) []Permission {
	var out []Permission
	for _, bus := range []struct {
		name   string
		policy map[string]string
	}{{"session", session}, {"system", system}} {
		names := make([]string, 0, len(bus.policy))
		for n := range bus.policy {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := bus.policy[n]
			if p == "none" || p == "see" {
				continue
			}
			id := bus.name + "-bus=" + n + ":" + p
			switch {
			case bus.name == "session" && (n == "org.freedesktop.Flatpak" || strings.HasPrefix(n, "org.freedesktop.Flatpak.")):
				out = append(out, Permission{id, "Can leave the sandbox", "Can start any program outside the sandbox through " + n, Unsafe})
			case bus.name == "session" && (n == "ca.desrt.dconf" || n == "org.gnome.SettingsDaemon" || strings.HasPrefix(n, "org.gnome.SettingsDaemon.")):
				out = append(out, Permission{id, "Settings", "Can read and change your settings through " + n, PotentiallyUnsafe})
			case bus.name == "system":
				out = append(out, Permission{id, "A system service", "Can " + p + " " + n + " on the system bus", PotentiallyUnsafe})
			default:
				out = append(out, Permission{id, "A service of the session", "Can " + p + " " + n + " on the session bus", ProbablySafe})
			}
		}
	}
	return out
}

// Rate is an app's overall level: that of the most dangerous permission.
func Rate(ps []Permission) Level {
	l := Safe
	for _, p := range ps {
		l = max(l, p.Level)
	}
	return l
}

// Added is what new lets an app reach that old does not: the permissions
// an update asks for.
func Added(old, new *sandbox.Context) []Permission {
	had := map[string]bool{}
	for _, p := range Describe(old) {
		had[p.ID] = true
	}
	// A read-only grant made writable is new; one made read-only is not.
	var out []Permission
	for _, p := range Describe(new) {
		if p.ID == "none" || had[p.ID] {
			continue
		}
		if strings.HasSuffix(p.ID, ":ro") && had[strings.TrimSuffix(p.ID, ":ro")] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// AddedWords is Added as the labels a prompt lists, for the workflows'
// held updates (deploy/apps.Manager.Describe).
func AddedWords(old, new *sandbox.Context) []string {
	var out []string
	for _, p := range Added(old, new) {
		out = append(out, p.Label)
	}
	return out
}

func sortedTrue(m map[string]bool) []string {
	var out []string
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
