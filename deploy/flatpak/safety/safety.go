// Package safety puts an app's permissions into plain words and rates how
// much its sandbox still protects the user, as GNOME Software's safety
// tile does: every grant has a level, and the app is as unsafe as its
// worst grant. The software center shows these words before an install
// and before an update that asks for more.
package safety

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"arbor/deploy/flatpak"
	"arbor/sandbox"
)

// Level is how much a grant (or an app) weakens its sandbox.
type Level int

// Levels, from a fully sandboxed app up.
const (
	Safe Level = iota
	ProbablySafe
	PotentiallyUnsafe
	Unsafe
)

func levelNames() []string { return []string{"safe", "probably-safe", "potentially-unsafe", "unsafe"} }

func (l Level) String() string {
	if l < Safe || l > Unsafe {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return levelNames()[l]
}

// MarshalText writes the level's name, which JSON uses too.
func (l Level) MarshalText() ([]byte, error) {
	if l < Safe || l > Unsafe {
		return nil, fmt.Errorf("safety level %d: out of range", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	i := slices.Index(levelNames(), string(b))
	if i < 0 {
		return fmt.Errorf("safety level %q: unknown", b)
	}
	*l = Level(i)
	return nil
}

// Permission is one grant in words. ID is stable (it names the grant, not
// the words), so that a page can key on it and updates can compare.
type Permission struct {
	ID     string `json:"id"`
	Label  string `json:"label"`
	Detail string `json:"detail"`
	Level  Level  `json:"level"`
}

// Grants is everything an app's metadata grants: its [Context] and its
// bus policies.
type Grants struct {
	ID      string // the app's ID: its own bus names are no grant
	Context *sandbox.Context
}

// FromMetadata collects what an app's (or runtime's) metadata grants.
func FromMetadata(m *flatpak.Metadata) Grants {
	return Grants{ID: m.Name, Context: m.Context}
}

// DescribeGrants puts what an app grants into words, most dangerous
// first. An app with no grant gets an empty list.
func DescribeGrants(g Grants) []Permission {
	es := entries(g)
	ps := make([]Permission, 0, len(es))
	for _, e := range es {
		ps = append(ps, e.Permission)
	}
	return ps
}

// Rate is the app's overall level: that of its worst grant, or Safe when
// it has none (GNOME Software's rule).
func Rate(ps []Permission) Level {
	l := Safe
	for _, p := range ps {
		l = max(l, p.Level)
	}
	return l
}

// AddedGrants is what new grants that old does not: the words an update must
// show before it is applied. A grant old already covers (read-only where
// old could write, a folder inside one old shared, a device under
// devices=all) is not new.
func AddedGrants(old, new Grants) []Permission {
	had := entries(old)
	out := []Permission{}
	for _, e := range entries(new) {
		if !slices.ContainsFunc(had, func(o entry) bool { return o.covers(e) }) {
			out = append(out, e.Permission)
		}
	}
	return out
}

// entry is a described grant and what it is of, so that AddedGrants can tell
// whether an older grant covers it.
type entry struct {
	Permission
	kind     string // "flag", "fs", "persistent", "session-bus", "system-bus"
	name     string // the flag (socket:x11), location or bus name
	strength int    // fs: 1 read, 2 write; bus: 1 see, 2 talk, 3 own
}

func (o entry) covers(e entry) bool {
	switch {
	case o.kind == e.kind && o.name == e.name:
		return o.strength >= e.strength
	case e.kind == "fs" && o.kind == "fs":
		return o.strength >= e.strength && fsWithin(e.name, o.name)
	case e.kind == "flag":
		dev := strings.HasPrefix(e.name, "device:") && o.name == "device:all"
		x11 := e.name == "socket:fallback-x11" && o.name == "socket:x11"
		return dev || x11
	case e.kind == "session-bus" || e.kind == "system-bus":
		return o.name == "socket:"+e.kind
	}
	return false
}

// fsWithin reports whether location in lies inside location out: a home
// folder inside home, anything but the user's runtime folder inside host
// (flatpak shares all of / but /run there).
func fsWithin(in, out string) bool {
	if strings.HasPrefix(in, out+"/") {
		return true
	}
	switch out {
	case "host":
		return !strings.HasPrefix(in, "xdg-run")
	case "home":
		return strings.HasPrefix(in, "~/") || (strings.HasPrefix(in, "xdg-") && !strings.HasPrefix(in, "xdg-run"))
	}
	return false
}

// entries describes every grant of g, sorted most dangerous first, then by
// ID.
func entries(g Grants) []entry {
	var es []entry
	add := func(kind, name string, strength int, id, label, detail string, l Level) {
		es = append(es, entry{Permission{ID: id, Label: label, Detail: detail, Level: l}, kind, name, strength})
	}
	c := g.Context
	if c == nil {
		c = sandbox.NewContext()
	}
	flag := func(name, label, detail string, l Level) { add("flag", name, 1, name, label, detail, l) }

	if c.Shared["network"] {
		// Network access can turn a local hole into a remote one, but so
		// many apps need it that GNOME Software calls it probably safe.
		flag("shared:network", "Network access", "Can reach the internet and the local network", ProbablySafe)
	}
	if c.Shared["ipc"] {
		flag("shared:ipc", "Host shared memory segments",
			"Shares the host's System V IPC, which X11 uses to draw faster", ProbablySafe)
	}
	for _, s := range socketWords(c.Sockets) {
		flag("socket:"+s.name, s.label, s.detail, s.level)
	}
	for _, d := range deviceWords() {
		if c.Devices[d.name] {
			flag("device:"+d.name, d.label, d.detail, d.level)
		}
	}
	for _, f := range featureWords() {
		if c.Features[f.name] {
			flag("feature:"+f.name, f.label, f.detail, f.level)
		}
	}
	for loc, mode := range c.Filesystems {
		if mode == sandbox.FSNone {
			continue
		}
		s := 2
		if mode == sandbox.FSReadOnly {
			s = 1
		}
		w := fsWords(loc, s == 2)
		add("fs", loc, s, "filesystem:"+loc+":"+[]string{"", "ro", "rw"}[s], w.label, w.detail, w.level)
	}
	for p, on := range c.Persistent {
		if on {
			where := "~/" + p
			if p == "." {
				where = "its home folder"
			}
			add("persistent", p, 1, "persistent:"+p, "Keeps "+where+" in its own data",
				"Kept in the app's own folder, not in your home folder", Safe)
		}
	}
	if !c.Sockets["session-bus"] {
		for _, r := range c.BusNames(sandbox.SessionBus) {
			if w, ok := sessionBusWords(g.ID, r.Name, r.Policy); ok {
				add("session-bus", r.Name, int(r.Policy), "session-bus:"+r.Name, w.label, w.detail, w.level)
			}
		}
	}
	if !c.Sockets["system-bus"] {
		for _, r := range c.BusNames(sandbox.SystemBus) {
			if s := int(r.Policy); s > 0 {
				add("system-bus", r.Name, s, "system-bus:"+r.Name, busVerb(r.Policy)+" "+r.Name+" on the system bus",
					"A system service outside the sandbox; what it allows depends on the service", PotentiallyUnsafe)
			}
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Or(cmp.Compare(b.Level, a.Level), cmp.Compare(a.ID, b.ID)) })
	return es
}

// words are a grant's label, detail and level.
type words struct {
	name, label, detail string
	level               Level
}

// escape ends the detail of every grant GNOME Software counts as a way out
// of the sandbox ("can acquire arbitrary permissions"). GNOME Software now
// calls them potentially unsafe, as it does a home folder; arbor keeps
// them unsafe, as GNOME Software did before, so that an app that can undo
// its sandbox never looks like one that merely reads your files.
const escape = "A way out of the sandbox: the app can gain any permission"

func socketWords(on map[string]bool) []words {
	var out []words
	for _, s := range []words{
		{"wayland", "Shows windows through Wayland", "Its windows cannot see or control those of other apps", Safe},
		{"x11", "Uses X11, a legacy display system", "Any X11 window can read the keyboard and screen of the others", PotentiallyUnsafe},
		{"pulseaudio", "Plays sound and uses microphones", "Talks to the sound server directly, without asking", ProbablySafe},
		{"session-bus", "Full access to the session bus", "Can talk to every service of your session, some of which run programs outside the sandbox. " + escape, Unsafe},
		{"system-bus", "Full access to the system bus", "Can talk to every service of the system. " + escape, Unsafe},
		{"ssh-auth", "Uses your SSH keys", "Can log in to other computers, this one included, with the keys your SSH agent holds. " + escape, Unsafe},
		{"gpg-agent", "Uses your GnuPG keys", "Can sign and decrypt with the keys your GnuPG agent holds. " + escape, Unsafe},
		{"pcsc", "Smart cards", "Can use smart card readers and the cards in them", PotentiallyUnsafe},
		{"cups", "Printing", "Talks to the printing service directly", PotentiallyUnsafe},
		{"inherit-wayland-socket", "Uses the desktop's own Wayland connection", "Meant for input methods. " + escape, Unsafe},
	} {
		if on[s.name] {
			out = append(out, s)
		}
	}
	if on["fallback-x11"] && !on["x11"] {
		if on["wayland"] {
			out = append(out, words{"fallback-x11", "Uses X11 only without Wayland", "In a Wayland session it gets no X11 access", Safe})
		} else {
			// Without Wayland the fallback is always taken: it is X11.
			out = append(out, words{"x11", "Uses X11, a legacy display system", "Any X11 window can read the keyboard and screen of the others", PotentiallyUnsafe})
		}
	}
	return out
}

func deviceWords() []words {
	return []words{
		{"all", "All devices", "Can use every device, such as webcams, game controllers and disks", PotentiallyUnsafe},
		{"dri", "Graphics acceleration", "Can draw with the graphics card", Safe},
		{"kvm", "Virtual machines", "Can run virtual machines through the kernel", PotentiallyUnsafe},
		{"shm", "The host's shared memory", "Shares /dev/shm with every program of the host", PotentiallyUnsafe},
		{"input", "Input devices", "Can read game controllers and other input devices directly", ProbablySafe},
		{"usb", "USB devices", "Can talk to USB devices directly", PotentiallyUnsafe},
	}
}

func featureWords() []words {
	return []words{
		{"devel", "Development tools", "Can trace and debug programs in its sandbox, with more system calls allowed", PotentiallyUnsafe},
		{"multiarch", "Runs 32-bit programs", "Can run programs built for another architecture", Safe},
		{"bluetooth", "Bluetooth", "Can open Bluetooth connections directly", PotentiallyUnsafe},
		{"canbus", "CAN bus", "Can open CAN bus connections, as in vehicles and machines", PotentiallyUnsafe},
		{"per-app-dev-shm", "Shared memory between its instances", "Its copies share one /dev/shm", Safe},
	}
}

// folderNames are the words for a filesystems token's base.
func folderNames() map[string]string {
	return map[string]string{
		"xdg-desktop": "the Desktop folder", "xdg-documents": "the Documents folder", "xdg-download": "the Downloads folder",
		"xdg-music": "the Music folder", "xdg-pictures": "the Pictures folder", "xdg-public-share": "the Public folder",
		"xdg-videos": "the Videos folder", "xdg-templates": "the Templates folder", "xdg-cache": "your cache folder (~/.cache)",
		"xdg-config": "your settings folder (~/.config)", "xdg-data": "your data folder (~/.local/share)",
		"xdg-run": "your runtime folder",
	}
}

// fsWords words a filesystems grant (a location as sandbox normalises it).
func fsWords(loc string, write bool) words {
	verb := "Read"
	if write {
		verb = "Read and write"
	}
	switch {
	case loc == "host" && write:
		return words{label: "Read and write all files", detail: "Sees the whole file system, your home folder included. " + escape, level: Unsafe}
	case loc == "host":
		return words{label: "Read all files", detail: "Sees the whole file system, your home folder included", level: PotentiallyUnsafe}
	case loc == "host-os":
		return words{label: verb + " the host's system software", detail: "Sees the host's /usr and the folders beside it", level: PotentiallyUnsafe}
	case loc == "host-etc":
		return words{label: verb + " the host's configuration", detail: "Sees the host's /etc", level: PotentiallyUnsafe}
	case loc == "home":
		return words{label: verb + " your home folder", detail: "Sees every file in your home folder", level: PotentiallyUnsafe}
	case loc == "xdg-config/kdeglobals" && !write:
		// GNOME Software ignores it: every KDE app reads it.
		return words{label: "Read the shared KDE settings", detail: "Colours and fonts common to KDE apps", level: Safe}
	case loc == "xdg-run/pipewire-0":
		return words{label: "Screen and sound through PipeWire", detail: "Can record the screen, other windows and microphones", level: PotentiallyUnsafe}
	case loc == "xdg-run/gvfsd":
		return words{label: "All files through GVfs", detail: "The desktop's file service reaches the whole file system. " + escape, level: Unsafe}
	case write && flatpakData(loc):
		return words{label: "Change its own permissions", detail: "Can write flatpak's override files. " + escape, level: Unsafe}
	}
	where := loc
	base, sub, _ := strings.Cut(loc, "/")
	if n, ok := folderNames()[base]; ok {
		where = n
		if sub != "" {
			where = sub + " in " + n
		}
	}
	return words{label: verb + " " + where, detail: "Sees the files there, and nothing else of your files", level: PotentiallyUnsafe}
}

// flatpakData reports whether loc holds (or is inside) flatpak's per-user
// data, where the override files that grant permissions live.
func flatpakData(loc string) bool {
	for _, p := range []string{"xdg-data/flatpak", "~/.local/share/flatpak"} {
		if loc == p || strings.HasPrefix(loc, p+"/") || strings.HasPrefix(p, loc+"/") {
			return true
		}
	}
	return false
}

func busVerb(pol sandbox.BusPolicy) string {
	switch pol {
	case sandbox.BusSee:
		return "Sees"
	case sandbox.BusOwn:
		return "Owns"
	}
	return "Talks to"
}

// sessionBusWords words one session bus policy; false for those that
// grant nothing: denials, and the names every app gets (its own, its
// media player name, the bus itself and the portals).
func sessionBusWords(id, name string, pol sandbox.BusPolicy) (words, bool) {
	s := int(pol)
	if s == 0 || ownName(id, name) || (s <= 2 && (name == "org.freedesktop.DBus" || strings.HasPrefix(name, "org.freedesktop.portal."))) {
		return words{}, false
	}
	talk := s >= 2
	switch {
	case talk && name == "ca.desrt.dconf":
		return words{label: "Reads and changes all your settings", detail: "Talks to the settings service of your session", level: PotentiallyUnsafe}, true
	case talk && name == "org.freedesktop.Flatpak":
		return words{label: "Runs programs outside the sandbox", detail: "Can ask flatpak's session service to start any command on the host. " + escape, level: Unsafe}, true
	case talk && name == "org.freedesktop.impl.portal.PermissionStore":
		return words{label: "Changes what apps are allowed", detail: "Can rewrite the answers you gave to permission requests. " + escape, level: Unsafe}, true
	case talk && strings.HasPrefix(name, "org.gtk.vfs."):
		return words{label: "All files through GVfs", detail: "The desktop's file service reaches the whole file system. " + escape, level: Unsafe}, true
	}
	return words{label: busVerb(pol) + " " + name + " on the session bus",
		detail: "A service of your session outside the sandbox; what it allows depends on the service", level: PotentiallyUnsafe}, true
}

// ownName reports whether a bus name is one flatpak lets an app have
// anyway: its ID and names under it, and its MPRIS name (for a .Devel
// build, those of the ID without .Devel too).
func ownName(id, name string) bool {
	if id == "" {
		return false
	}
	ids := []string{id}
	if base, ok := strings.CutSuffix(id, ".Devel"); ok {
		ids = append(ids, base)
	}
	for _, i := range ids {
		mpris := "org.mpris.MediaPlayer2." + i
		if name == i || strings.HasPrefix(name, i+".") || name == mpris || strings.HasPrefix(name, mpris+".") {
			return true
		}
	}
	return false
}

// AddedWords is what an update from old to new asks for, as the labels a
// prompt lists, by which deploy/apps holds updates back for the command line and
// the center alike. A nil metadata grants nothing.
func AddedWords(old, new *flatpak.Metadata) []string {
	var out []string
	for _, p := range AddedGrants(metadataGrants(old), metadataGrants(new)) {
		out = append(out, p.Label)
	}
	return out
}

func metadataGrants(m *flatpak.Metadata) Grants {
	if m == nil {
		return Grants{}
	}
	return FromMetadata(m)
}
