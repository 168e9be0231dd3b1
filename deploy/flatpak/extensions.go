package flatpak

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"arbor/sandbox"
	"arbor/store/keyfile"
)

// ExtensionPoint is an [Extension NAME] group of an app's or runtime's
// metadata: where the runtimes named NAME (or NAME.* with subdirectories)
// are mounted in its files, and when they are installed.
type ExtensionPoint struct {
	Name, Tag       string // NAME of [Extension NAME@TAG]
	Directory       string // below /app or /usr
	Versions        []string
	Subdirectories  bool
	SubdirSuffix    string
	AddLdPath       string
	MergeDirs       []string
	NoAutodownload  bool
	Autodelete      bool
	LocaleSubset    bool
	DownloadIf      string
	EnableIf        string
	AutopruneUnless string
}

const extensionPrefix = "Extension "

// parseExtensions reads the [Extension …] groups. A group flatpak would
// ignore (no directory, a path that climbs out, a bad name) is dropped
// with a warning naming it and the key, as flatpak drops it.
func parseExtensions(kf *keyfile.File) (points []ExtensionPoint, warnings []string) {
	for _, g := range kf.Groups() {
		tagged, ok := strings.CutPrefix(g, extensionPrefix)
		if !ok || tagged == "" {
			continue
		}
		p, err := parseExtension(kf, g, tagged)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("[%s]: ignored: %v", g, err))
			continue
		}
		points = append(points, p)
	}
	return points, warnings
}

func parseExtension(kf *keyfile.File, g, tagged string) (ExtensionPoint, error) {
	name, tag, _ := strings.Cut(tagged, "@")
	p := ExtensionPoint{Name: name, Tag: tag,
		Directory:       kf.String(g, "directory", ""),
		SubdirSuffix:    kf.String(g, "subdirectory-suffix", ""),
		AddLdPath:       kf.String(g, "add-ld-path", ""),
		MergeDirs:       kf.List(g, "merge-dirs"),
		DownloadIf:      kf.String(g, "download-if", ""),
		EnableIf:        kf.String(g, "enable-if", ""),
		AutopruneUnless: kf.String(g, "autoprune-unless", ""),
	}
	if err := sandbox.ValidateID(name); err != nil {
		return p, fmt.Errorf("name: %w", err)
	}
	if p.Directory == "" {
		return p, fmt.Errorf("directory: missing")
	}
	paths := map[string]string{"directory": p.Directory, "subdirectory-suffix": p.SubdirSuffix, "add-ld-path": p.AddLdPath}
	for _, m := range p.MergeDirs {
		paths["merge-dirs"] = m
		if err := relativeBelow(m); err != nil {
			return p, fmt.Errorf("merge-dirs: %w", err)
		}
	}
	for key, v := range paths {
		if v == "" {
			continue
		}
		if err := relativeBelow(v); err != nil {
			return p, fmt.Errorf("%s: %w", key, err)
		}
	}
	if v := kf.String(g, "version", ""); v != "" {
		p.Versions = []string{v}
	}
	if vs := kf.List(g, "versions"); len(vs) > 0 {
		p.Versions = vs
	}
	for _, v := range p.Versions {
		if err := ValidateBranch(v); err != nil {
			return p, fmt.Errorf("version %q: %w", v, err)
		}
	}
	for key, dst := range map[string]*bool{"subdirectories": &p.Subdirectories, "no-autodownload": &p.NoAutodownload,
		"autodelete": &p.Autodelete, "locale-subset": &p.LocaleSubset} {
		b, err := kf.Bool(g, key, false)
		if err != nil {
			return p, fmt.Errorf("%s: %w", key, err)
		}
		*dst = b
	}
	// flatpak-builder's conventions: debug info is fetched only on
	// demand, and locale and debug go with what they extend.
	if strings.HasSuffix(name, ".Debug") {
		p.NoAutodownload, p.Autodelete = true, true
	}
	if strings.HasSuffix(name, ".Locale") {
		p.LocaleSubset, p.Autodelete = true, true
	}
	return p, nil
}

// relativeBelow refuses a path that is absolute or climbs: these name
// places inside /app or /usr and inside an extension's own files.
func relativeBelow(p string) error {
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q: an absolute path", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return fmt.Errorf("%q: climbs out", p)
		}
	}
	if path.Clean(p) == "." {
		return fmt.Errorf("%q: names no directory", p)
	}
	return nil
}

// Branches are the branches of the extension wanted by a parent of
// branch parentBranch.
func (p ExtensionPoint) Branches(parentBranch string) []string {
	if len(p.Versions) > 0 {
		return p.Versions
	}
	return []string{parentBranch}
}

// Matches finds, among refs, the extensions the point takes for a parent
// of arch and branch: the runtime named NAME of each branch when there
// is one, else, with subdirectories, the runtimes NAME.SUB.
func (p ExtensionPoint) Matches(arch, parentBranch string, refs []Ref) []Ref {
	have := map[Ref]bool{}
	for _, r := range refs {
		have[r] = true
	}
	var out []Ref
	for _, b := range p.Branches(parentBranch) {
		exact := Ref{Kind: Runtime, ID: p.Name, Arch: arch, Branch: b}
		if have[exact] {
			out = append(out, exact)
			continue
		}
		if !p.Subdirectories {
			continue
		}
		var subs []Ref
		for _, r := range refs {
			if r.Kind == Runtime && r.Arch == arch && r.Branch == b && strings.HasPrefix(r.ID, p.Name+".") {
				subs = append(subs, r)
			}
		}
		sort.Slice(subs, func(i, j int) bool { return subs[i].ID < subs[j].ID })
		out = append(out, subs...)
	}
	return out
}

// Conditions are what the host offers, for download-if, enable-if and
// autoprune-unless.
type Conditions struct {
	GLDrivers      []string
	GTKTheme       string
	KernelModule   func(name string) bool
	CurrentDesktop []string
}

// HostConditions reads them from the environment and /sys, as flatpak
// does: FLATPAK_GL_DRIVERS names the GL drivers, else "default" and
// "host" (after nvidia's, where its module is loaded).
func HostConditions() Conditions {
	c := Conditions{GTKTheme: os.Getenv("GTK_THEME"),
		KernelModule: func(name string) bool {
			if strings.ContainsAny(name, "/\x00") || name == "" || name == "." || name == ".." {
				return false
			}
			_, err := os.Stat("/sys/module/" + name)
			return err == nil
		},
	}
	if d := os.Getenv("FLATPAK_GL_DRIVERS"); d != "" {
		c.GLDrivers = strings.Split(d, ":")
	} else {
		if v, err := os.ReadFile("/sys/module/nvidia/version"); err == nil {
			c.GLDrivers = append(c.GLDrivers, "nvidia-"+strings.ReplaceAll(strings.TrimSpace(string(v)), ".", "-"))
		}
		c.GLDrivers = append(c.GLDrivers, "default", "host")
	}
	if d := os.Getenv("XDG_CURRENT_DESKTOP"); d != "" {
		c.CurrentDesktop = strings.Split(d, ":")
	}
	return c
}

// Holds says whether the extension id meets one of reasons (a
// ';'-separated list; def when there are none), as flatpak decides it:
// active-gl-driver and active-gtk-theme compare the id's last part.
func (c Conditions) Holds(id, reasons string, def bool) bool {
	if reasons == "" {
		return def
	}
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return false
	}
	base := id[i+1:]
	for _, r := range strings.Split(reasons, ";") {
		switch {
		case r == "active-gl-driver":
			for _, d := range c.GLDrivers {
				if d == base {
					return true
				}
			}
		case r == "active-gtk-theme":
			if c.GTKTheme == base {
				return true
			}
		case r == "have-intel-gpu":
			if c.KernelModule != nil && c.KernelModule("i915") {
				return true
			}
		case strings.HasPrefix(r, "have-kernel-module-"):
			if c.KernelModule != nil && c.KernelModule(strings.TrimPrefix(r, "have-kernel-module-")) {
				return true
			}
		case strings.HasPrefix(r, "on-xdg-desktop-"):
			want := strings.TrimPrefix(r, "on-xdg-desktop-")
			for _, d := range c.CurrentDesktop {
				if strings.EqualFold(d, want) {
					return true
				}
			}
		}
	}
	return false
}

// Related is an extension an install brings with its parent.
type Related struct {
	Ref        Ref
	Point      ExtensionPoint
	Autodelete bool
}

// RelatedRefs are the extensions of a parent (ref, with metadata md)
// that installing it installs, among what a remote offers: those the
// host's conditions ask for, and those of which any branch is installed
// already (an app moving its extension's version keeps it).
func RelatedRefs(ref Ref, md *Metadata, offered, installed []Ref, c Conditions) []Related {
	var out []Related
	seen := map[Ref]bool{}
	for _, p := range md.Extensions {
		for _, r := range p.Matches(ref.Arch, ref.Branch, offered) {
			if seen[r] {
				continue
			}
			want := c.Holds(r.ID, p.DownloadIf, !p.NoAutodownload)
			for _, i := range installed {
				if i.Kind == Runtime && i.ID == r.ID && i.Arch == r.Arch {
					want = true
				}
			}
			if strings.HasSuffix(p.Name, ".Debug") && !contains(installed, r) {
				want = false // debug info only once asked for
			}
			if !want {
				continue
			}
			seen[r] = true
			out = append(out, Related{Ref: r, Point: p, Autodelete: p.Autodelete})
		}
	}
	return out
}

func contains(refs []Ref, r Ref) bool {
	for _, x := range refs {
		if x == r {
			return true
		}
	}
	return false
}

// ExtensionsOf are the installed refs that are extensions of d, with
// whether they go when it goes.
func ExtensionsOf(d *Deployed, installed []Ref) []Related {
	var out []Related
	for _, p := range d.Metadata.Extensions {
		for _, r := range p.Matches(d.Ref.Arch, d.Ref.Branch, installed) {
			out = append(out, Related{Ref: r, Point: p, Autodelete: p.Autodelete})
		}
	}
	return out
}

// ExtensionOf is the ref an extension's metadata says it extends
// ([ExtensionOf] ref), "" for none.
func (m *Metadata) ExtensionOf() string { return m.File.String("ExtensionOf", "ref", "") }

// Auxiliary says whether ref is a locale, debug or sources extension,
// which listings leave out unless asked, as flatpak's do.
func Auxiliary(ref Ref) bool {
	for _, s := range []string{".Locale", ".Debug", ".Sources"} {
		if strings.HasSuffix(ref.ID, s) {
			return true
		}
	}
	return false
}
