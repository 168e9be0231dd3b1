package sandbox

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"arbor/sandbox/boot"
	"arbor/store/keyfile"
)

// Context is an app's permissions: the [Context] group of flatpak's
// metadata and override files. Each set maps a name to true (granted) or
// false (denied by "!name", which removes a grant of a lower layer).
type Context struct {
	Shared, Sockets, Devices, Features map[string]bool
	// Filesystems maps a normalised location ("home", "~/Projects",
	// "/srv/data", "xdg-download/sub") to its mode.
	Filesystems map[string]FSMode
	// ResetFilesystems drops every filesystem grant of lower layers
	// ("!host:reset").
	ResetFilesystems bool
	Persistent       map[string]bool
	Env              map[string]string // [Environment]; "" unsets
	// SessionBus and SystemBus are the bus policies: a name (or NAME.*)
	// to how far the app reaches it through the bus proxy.
	SessionBus, SystemBus map[string]BusPolicy
	// Warnings are lines of a file that were dropped, as flatpak drops
	// them, for the caller to show.
	Warnings []string
}

// FSMode is how a location is shared.
type FSMode int

// Modes of a filesystem grant; FSNone is a negation.
const (
	FSNone FSMode = iota
	FSReadOnly
	FSReadWrite
	FSCreate
)

func (m FSMode) String() string {
	return [...]string{"none", "ro", "rw", "create"}[m]
}

// errUnknownName is a permission name arbor does not know: an error on
// the command line, a warning in a file.
var errUnknownName = errors.New("unknown")

// Known names per key, so that a typo is an error rather than silence.
var known = map[string][]string{
	"shared":   {"network", "ipc"},
	"sockets":  {"x11", "wayland", "fallback-x11", "pulseaudio", "session-bus", "system-bus", "ssh-auth", "pcsc", "cups", "gpg-agent", "inherit-wayland-socket"},
	"devices":  {"dri", "all", "kvm", "shm", "input", "usb"},
	"features": {"devel", "multiarch", "bluetooth", "canbus", "per-app-dev-shm"},
}

// NewContext is an empty context.
func NewContext() *Context {
	return &Context{Shared: map[string]bool{}, Sockets: map[string]bool{}, Devices: map[string]bool{},
		Features: map[string]bool{}, Filesystems: map[string]FSMode{}, Persistent: map[string]bool{}, Env: map[string]string{},
		SessionBus: map[string]BusPolicy{}, SystemBus: map[string]BusPolicy{}}
}

// ParseContext reads [Context] and [Environment] from a metadata or
// override keyfile.
func ParseContext(kf *keyfile.File) (*Context, error) {
	c := NewContext()
	for _, f := range c.flags() {
		for _, v := range kf.List("Context", f.key) {
			if err := c.AddFlag(f.key, v); errors.Is(err, errUnknownName) {
				// A name from a newer flatpak: dropped, as flatpak drops
				// what it does not know, and said.
				c.Warnings = append(c.Warnings, fmt.Sprintf("[Context] %v: ignored", err))
			} else if err != nil {
				return nil, err
			}
		}
	}
	for _, v := range kf.List("Context", "filesystems") {
		if err := c.AddFilesystem(v); err != nil {
			return nil, err
		}
	}
	for _, v := range kf.List("Context", "persistent") {
		if err := c.AddPersistent(v); err != nil {
			return nil, err
		}
	}
	for _, k := range kf.Keys("Environment") {
		v, _ := kf.Get("Environment", k)
		c.Env[k] = v
	}
	for _, v := range kf.List("Context", "unset-environment") {
		c.Env[v] = ""
	}
	if err := c.parseBusPolicies(kf); err != nil {
		return nil, err
	}
	return c, nil
}

// flagSet is one of the context's sets of names, and its key.
type flagSet struct {
	key string
	set map[string]bool
}

// flags are the sets named in known; sets adds persistent, which holds
// paths rather than names.
func (c *Context) flags() []flagSet {
	return []flagSet{{"shared", c.Shared}, {"sockets", c.Sockets}, {"devices", c.Devices}, {"features", c.Features}}
}

func (c *Context) sets() []flagSet { return append(c.flags(), flagSet{"persistent", c.Persistent}) }

// AddFlag grants (or, with a leading '!', denies) a shared, sockets,
// devices or features entry, as --share, --socket, --device, --allow do.
func (c *Context) AddFlag(key, v string) error {
	i := slices.IndexFunc(c.flags(), func(f flagSet) bool { return f.key == key })
	if i < 0 {
		return fmt.Errorf("unknown permission key %q", key)
	}
	name, neg := strings.CutPrefix(v, "!")
	if !slices.Contains(known[key], name) {
		return fmt.Errorf("%s=%s: %w %s", key, v, errUnknownName, strings.TrimSuffix(key, "s"))
	}
	c.flags()[i].set[name] = !neg
	return nil
}

// AddPersistent adds a persistent directory, as --persist does: a path
// relative to the home, kept in ~/.var/app/ID on the host and shown at
// that path under the home inside; "." is the whole of ~/.var/app/ID at
// the home, as flatpak allows.
func (c *Context) AddPersistent(v string) error {
	p, err := persistentPath(v)
	if err != nil {
		return err
	}
	c.Persistent[p] = true
	return nil
}

// persistentPath is the one check of a persistent path, wherever it comes
// from (metadata, overrides, the command line): relative, and climbing
// out of neither ~/.var/app/ID nor the home. Flatpak takes an absolute
// one as relative, with a warning; arbor refuses it.
func persistentPath(v string) (string, error) {
	if v == "" {
		return "", fmt.Errorf("persistent=: an empty path")
	}
	if strings.HasPrefix(v, "/") {
		return "", fmt.Errorf("persistent=%s: not a path relative to the home", v)
	}
	p, err := cleanHomePath(v)
	if err != nil {
		return "", fmt.Errorf("persistent=%s: %w", v, err)
	}
	if p == "" {
		return ".", nil
	}
	return p, nil
}

// reserved are sandbox paths no grant may cover, nor any parent of them.
var reserved = []string{"/.flatpak-info", "/app", "/dev", "/etc", "/proc", "/run/flatpak", "/run/host", "/usr",
	"/bin", "/lib", "/lib32", "/lib64", "/sbin"}

// AddFilesystem adds one filesystems entry: LOCATION[:ro|:rw|:create],
// !LOCATION, or !host:reset.
func (c *Context) AddFilesystem(v string) error {
	loc, neg := strings.CutPrefix(v, "!")
	if loc == "host:reset" {
		if !neg {
			return fmt.Errorf("filesystems=%s: host:reset only as a negation", v)
		}
		c.ResetFilesystems = true
		c.Filesystems = map[string]FSMode{}
		return nil
	}
	loc, mode, err := splitMode(loc)
	if err != nil {
		return fmt.Errorf("filesystems=%s: %w", v, err)
	}
	loc, err = normaliseLocation(loc)
	if err != nil {
		return fmt.Errorf("filesystems=%s: %w", v, err)
	}
	if neg {
		mode = FSNone
	}
	c.Filesystems[loc] = mode
	return nil
}

// splitMode cuts the :ro/:rw/:create suffix; "\:" escapes a colon.
func splitMode(s string) (string, FSMode, error) {
	var b strings.Builder
	mode := FSReadWrite
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case s[i] == ':':
			switch s[i+1:] {
			case "ro":
				mode = FSReadOnly
			case "rw":
				mode = FSReadWrite
			case "create":
				mode = FSCreate
			default:
				return "", 0, fmt.Errorf("unknown mode %q", s[i+1:])
			}
			return b.String(), mode, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), mode, nil
}

var xdgNames = map[string]string{
	"xdg-desktop": "Desktop", "xdg-documents": "Documents", "xdg-download": "Downloads", "xdg-music": "Music",
	"xdg-pictures": "Pictures", "xdg-public-share": "Public", "xdg-videos": "Videos", "xdg-templates": "Templates",
	"xdg-cache": ".cache", "xdg-config": ".config", "xdg-data": ".local/share",
}

func normaliseLocation(loc string) (string, error) {
	switch loc {
	case "host", "host-os", "host-etc", "home":
		return loc, nil
	case "~":
		return "home", nil
	case "/":
		return "", fmt.Errorf("/ is not allowed (use host)")
	}
	if rest, ok := strings.CutPrefix(loc, "home/"); ok {
		loc = "~/" + rest
	}
	if rest, ok := strings.CutPrefix(loc, "~/"); ok {
		p, err := cleanHomePath(rest)
		if err != nil {
			return "", err
		}
		if p == "" {
			return "home", nil
		}
		return "~/" + p, nil
	}
	name, sub, _ := strings.Cut(loc, "/")
	if _, ok := xdgNames[name]; ok || name == "xdg-run" {
		if name == "xdg-run" && sub == "" {
			return "", fmt.Errorf("xdg-run needs a subdirectory")
		}
		if sub == "" {
			return name, nil
		}
		p, err := cleanHomePath(sub)
		if err != nil {
			return "", err
		}
		return name + "/" + p, nil
	}
	if !strings.HasPrefix(loc, "/") {
		return "", fmt.Errorf("unknown filesystem location %q", loc)
	}
	if err := noDotDot(loc); err != nil {
		return "", err
	}
	p := path.Clean(loc)
	if p == "/" {
		return "", fmt.Errorf("/ is not allowed (use host)")
	}
	for _, r := range reserved {
		if p == r || strings.HasPrefix(r, p+"/") || strings.HasPrefix(p, r+"/") {
			return "", fmt.Errorf("%s is reserved in the sandbox", p)
		}
	}
	if boot.Masked(p) {
		return "", fmt.Errorf("%s is masked in the sandbox", p)
	}
	return p, nil
}

// cleanHomePath normalises a path relative to home, refusing "..".
func cleanHomePath(p string) (string, error) {
	if err := noDotDot(p); err != nil {
		return "", err
	}
	c := path.Clean("/" + p)
	return strings.TrimPrefix(c, "/"), nil
}

// noDotDot refuses a path with a ".." element: a grant names its place,
// it does not climb out of one.
func noDotDot(p string) error {
	if slices.Contains(strings.Split(p, "/"), "..") {
		return fmt.Errorf("%q: .. is not allowed", p)
	}
	return nil
}

// Merge applies a later layer: its grants and denials win; a reset drops
// every lower filesystem grant.
func (c *Context) Merge(up *Context) {
	ups := up.sets()
	for i, f := range c.sets() {
		for k, v := range ups[i].set {
			f.set[k] = v
		}
	}
	if up.ResetFilesystems {
		c.Filesystems = map[string]FSMode{}
		c.ResetFilesystems = true
	}
	for k, v := range up.Filesystems {
		c.Filesystems[k] = v
	}
	for k, v := range up.Env {
		c.Env[k] = v
	}
	for _, bus := range []Bus{SessionBus, SystemBus} {
		for k, v := range up.busMap(bus) {
			c.busMap(bus)[k] = v
		}
	}
	c.Warnings = append(c.Warnings, up.Warnings...)
}

// Keyfile writes the context's [Context], [Environment] and bus policy groups, sorted: grants only, as
// in /.flatpak-info's merged view, or with denials ("!x") too, as in an
// app's metadata or an override file, which lower layers are merged under.
func (c *Context) Keyfile(kf *keyfile.File, denials bool) {
	list := func(m map[string]bool) []string {
		var out []string
		for k, v := range m {
			if v {
				out = append(out, k)
			} else if denials {
				out = append(out, "!"+k)
			}
		}
		sort.Strings(out)
		return out
	}
	for _, p := range c.sets() {
		if l := list(p.set); len(l) > 0 {
			kf.SetList("Context", p.key, l)
		}
	}
	var fs []string
	if c.ResetFilesystems && denials {
		fs = append(fs, "!host:reset")
	}
	for loc, m := range c.Filesystems {
		switch m {
		case FSNone:
			if denials {
				fs = append(fs, "!"+loc)
			}
		case FSReadOnly:
			fs = append(fs, loc+":ro")
		case FSCreate:
			fs = append(fs, loc+":create")
		case FSReadWrite:
			fs = append(fs, loc)
		}
	}
	sort.Strings(fs)
	if len(fs) > 0 {
		kf.SetList("Context", "filesystems", fs)
	}
	// [Environment]: an unset variable is "VAR=" where denials are kept.
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if c.Env[k] != "" || denials {
			kf.Set("Environment", k, c.Env[k])
		}
	}
	c.writeBusPolicies(kf, denials)
}
