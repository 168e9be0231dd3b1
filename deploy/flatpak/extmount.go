package flatpak

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"arbor/sandbox"
	"arbor/store/keyfile"
	"arbor/store/object"
)

// MountedExtension is an installed extension a run mounts.
type MountedExtension struct {
	Deployed *Deployed
	Files    string // its files on the host
	Dest     string // where it is mounted in the sandbox
	// Point is the directory of a subdirectories point it is mounted
	// below ("" for none): the point is covered by a directory of the
	// run's own, holding one directory per extension.
	Point     string
	LdPath    string // in the sandbox; "" for none
	MergeDirs []string
	Priority  int
}

// runExtensions are the installed extensions of d, a parent whose files
// are at target ("/app" or "/usr") in the sandbox, that a run mounts,
// highest priority first, as flatpak lists them: for each branch the
// runtime NAME when installed, else with subdirectories every installed
// NAME.SUB; enable-if decides.
func (in *Installation) runExtensions(d *Deployed, target string, installed []Ref, c Conditions) ([]MountedExtension, error) {
	var out []MountedExtension
	for _, p := range d.Metadata.Extensions {
		for _, r := range p.Matches(d.Ref.Arch, d.Ref.Branch, installed) {
			if !c.Holds(r.ID, p.EnableIf, true) {
				continue
			}
			ext, err := in.Get(r)
			if err != nil {
				return nil, fmt.Errorf("%s's extension %s: %w", d.Ref, r, err)
			}
			files, _ := in.FilesDir(ext)
			m := MountedExtension{Deployed: ext, Files: files, MergeDirs: p.MergeDirs}
			dir := path.Join(target, p.Directory)
			if r.ID != p.Name {
				m.Point = dir
				dir = path.Join(dir, strings.TrimPrefix(r.ID, p.Name+"."))
			}
			m.Dest = path.Join(dir, p.SubdirSuffix)
			if p.AddLdPath != "" {
				m.LdPath = path.Join(m.Dest, p.AddLdPath)
			}
			m.Priority, _ = ext.Metadata.File.Int("ExtensionOf", "priority", 0)
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority > out[j].Priority })
	return out, nil
}

// extensionsKey is the [Instance] value flatpak lists the extensions a
// run uses in: ID=COMMIT;…
func extensionsKey(exts []MountedExtension) string {
	var parts []string
	for _, e := range exts {
		parts = append(parts, e.Deployed.Ref.ID+"="+e.Deployed.Commit.String())
	}
	return strings.Join(parts, ";")
}

// ExtensionBinds makes what mounts the plan's extensions: below dir (the
// instance's own, which nothing else writes), a directory for each
// subdirectories point, holding an empty directory per extension to be
// mounted there and the links of its merge-dirs; then the binds, parents
// before what goes below them. An extension's merge-dirs are read from
// its files without following a symlink in them.
func (p *RunPlan) ExtensionBinds(dir string) ([]sandbox.Bind, error) {
	var binds []sandbox.Bind
	points := map[string]string{} // in the sandbox -> on the host
	linked := map[string]bool{}
	for _, e := range append(append([]MountedExtension(nil), p.AppExtensions...), p.RuntimeExtensions...) {
		binds = append(binds, sandbox.Bind{Source: e.Files, Dest: e.Dest})
		if e.Point == "" {
			continue
		}
		host, ok := points[e.Point]
		if !ok {
			host = filepath.Join(dir, "extension-points", fmt.Sprint(len(points)))
			if err := os.MkdirAll(host, 0o755); err != nil {
				return nil, fmt.Errorf("the extension point %s: %w", e.Point, err)
			}
			points[e.Point] = host
			binds = append(binds, sandbox.Bind{Source: host, Dest: e.Point})
		}
		rel := strings.TrimPrefix(e.Dest, e.Point+"/")
		if err := os.MkdirAll(filepath.Join(host, rel), 0o755); err != nil {
			return nil, fmt.Errorf("the extension point %s: %w", e.Point, err)
		}
		// In priority order: the first extension to offer a name has it.
		for _, m := range e.MergeDirs {
			names, err := listBeneath(e.Files, m)
			if err != nil {
				return nil, fmt.Errorf("%s: merge-dirs %s: %w", e.Deployed.Ref, m, err)
			}
			if len(names) == 0 {
				continue
			}
			mdir := filepath.Join(host, m)
			if err := os.MkdirAll(mdir, 0o755); err != nil {
				return nil, fmt.Errorf("the extension point %s: %w", e.Point, err)
			}
			for _, n := range names {
				link := path.Join(e.Point, m, n)
				if linked[link] {
					continue
				}
				linked[link] = true
				if err := os.Symlink(path.Join(e.Dest, m, n), filepath.Join(mdir, n)); err != nil {
					return nil, fmt.Errorf("%s: merge-dirs %s: %w", e.Deployed.Ref, m, err)
				}
			}
		}
	}
	sort.SliceStable(binds, func(i, j int) bool { return binds[i].Dest < binds[j].Dest })
	return binds, nil
}

// listBeneath lists the directory rel below root, refusing a symlink on
// the way: a missing one lists nothing.
func listBeneath(root, rel string) ([]string, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, root, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC})
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	dfd, err := unix.Openat2(fd, rel, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dfd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// setExtensionInfo adds the extensions to /.flatpak-info, as flatpak
// lists them.
func (p *RunPlan) setExtensionInfo(kf *keyfile.File) {
	if s := extensionsKey(p.AppExtensions); s != "" {
		kf.Set("Instance", "app-extensions", s)
	}
	if s := extensionsKey(p.RuntimeExtensions); s != "" {
		kf.Set("Instance", "runtime-extensions", s)
	}
}

// ldPath is LD_LIBRARY_PATH as flatpak sets it without an ld.so cache:
// the app's extensions, /app/lib, the runtime's extensions.
func (p *RunPlan) ldPath() string {
	var parts []string
	for _, e := range p.AppExtensions {
		if e.LdPath != "" {
			parts = append(parts, e.LdPath)
		}
	}
	parts = append(parts, "/app/lib")
	for _, e := range p.RuntimeExtensions {
		if e.LdPath != "" {
			parts = append(parts, e.LdPath)
		}
	}
	return strings.Join(parts, ":")
}

// Commits are the commits the run uses: the app's, the runtime's and the
// extensions'.
func (p *RunPlan) Commits() []object.Checksum {
	out := []object.Checksum{p.App.Commit, p.Runtime.Commit}
	for _, e := range append(append([]MountedExtension(nil), p.AppExtensions...), p.RuntimeExtensions...) {
		out = append(out, e.Deployed.Commit)
	}
	return out
}
