package flatpak

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"arbor/sandbox"
	"arbor/store/atomic"
	"arbor/store/keyfile"
	"arbor/store/object"
	"arbor/store/refs"
)

// Installation is where apps and runtimes are deployed: beside its
// repository, laid out as flatpak lays out its installations
// (KIND/ID/ARCH/BRANCH/{active -> COMMIT, COMMIT/metadata}).
type Installation struct {
	Dir  string // holds repo/, app/, runtime/
	Repo string // the repository's root, whose refs keep deployed commits
}

// Deployed is an installed app or runtime.
type Deployed struct {
	Ref      Ref
	Commit   object.Checksum
	Origin   string // the remote it came from
	Metadata *Metadata
}

// NewInstallation is the installation around the repository at repo.
func NewInstallation(repo string) *Installation {
	dir, err := filepath.Abs(filepath.Dir(repo))
	if err != nil {
		dir = filepath.Dir(repo)
	}
	return &Installation{Dir: dir, Repo: repo}
}

func (in *Installation) refs() refs.Dir { return refs.Dir(in.Repo) }

// RefDir is where ref is deployed: its active link and commits.
func (in *Installation) RefDir(ref Ref) string {
	return filepath.Join(in.Dir, string(ref.Kind), ref.ID, ref.Arch, ref.Branch)
}

// currentLink is where an app's current branch is named, as flatpak
// keeps it: app/ID/current, a link to ARCH/BRANCH.
func (in *Installation) currentLink(id string) string {
	return filepath.Join(in.Dir, string(App), id, "current")
}

// SetCurrent makes app ref the one `run ID` runs when several branches
// are installed.
func (in *Installation) SetCurrent(ref Ref) error {
	if ref.Kind != App {
		return fmt.Errorf("%s: only an app has a current branch", ref)
	}
	return atomic.Symlink(ref.Arch+"/"+ref.Branch, in.currentLink(ref.ID), false)
}

// Current is the app's current ref, when one is set and installed.
func (in *Installation) Current(id string) (Ref, bool) {
	t, err := os.Readlink(in.currentLink(id))
	if err != nil {
		return Ref{}, false
	}
	arch, branch, ok := strings.Cut(t, "/")
	if !ok || strings.Contains(branch, "/") {
		return Ref{}, false
	}
	ref := Ref{Kind: App, ID: id, Arch: arch, Branch: branch}
	if _, err := in.Get(ref); err != nil {
		return Ref{}, false
	}
	return ref, true
}

// MountDir is where a deployed commit is mounted for running.
func (in *Installation) MountDir(c object.Checksum) string {
	return filepath.Join(in.Dir, "mounts", c.String())
}

// Deploy records ref at commit from remote: its metadata (the commit's
// xa.metadata, byte for byte), then the active link, switched atomically,
// and a deploy/ ref that keeps the commit from being pruned.
func (in *Installation) Deploy(ref Ref, c object.Checksum, origin string, metadata []byte) error {
	if _, err := ParseMetadata(metadata); err != nil {
		return err
	}
	dir := in.RefDir(ref)
	cdir := filepath.Join(dir, c.String())
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return err
	}
	for name, data := range map[string][]byte{"metadata": metadata, "origin": []byte(origin + "\n")} {
		if err := atomic.WriteFile(filepath.Join(cdir, name), data, 0o644, false); err != nil {
			return err
		}
	}
	if err := in.refs().Set("deploy/"+ref.String(), c, true); err != nil {
		return err
	}
	return atomic.Symlink(c.String(), filepath.Join(dir, "active"), false)
}

// FilesDir is where a deployed commit's files are: checked out when it
// was materialized, else in its mount.
func (in *Installation) FilesDir(d *Deployed) (dir string, materialized bool) {
	p := filepath.Join(in.RefDir(d.Ref), d.Commit.String(), "files")
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return p, true
	}
	return filepath.Join(in.MountDir(d.Commit), "files"), false
}

// Get returns the deployed ref.
func (in *Installation) Get(ref Ref) (*Deployed, error) {
	dir := in.RefDir(ref)
	target, err := os.Readlink(filepath.Join(dir, "active"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not installed", ref)
	}
	if err != nil {
		return nil, err
	}
	c, err := object.ParseChecksum(target)
	if err != nil {
		return nil, fmt.Errorf("%s: active: %w", ref, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, target, "metadata"))
	if err != nil {
		return nil, err
	}
	m, err := ParseMetadata(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	origin, _ := os.ReadFile(filepath.Join(dir, target, "origin"))
	return &Deployed{Ref: ref, Commit: c, Origin: strings.TrimSpace(string(origin)), Metadata: m}, nil
}

// Installed lists what is deployed.
func (in *Installation) Installed() ([]Ref, error) {
	apps, err := in.InstalledOf(App)
	if err != nil {
		return nil, err
	}
	rts, err := in.InstalledOf(Runtime)
	return append(apps, rts...), err
}

// InstalledOf lists what is deployed of one kind.
func (in *Installation) InstalledOf(kind Kind) ([]Ref, error) {
	var out []Ref
	links, err := filepath.Glob(filepath.Join(in.Dir, string(kind), "*", "*", "*", "active"))
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		rel, _ := filepath.Rel(in.Dir, filepath.Dir(l))
		if r, err := ParseRef(filepath.ToSlash(rel)); err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// Undeploy removes an installed ref: its active link, its directory and
// its deploy/ ref (the objects go at the next prune).
func (in *Installation) Undeploy(ref Ref) error {
	if _, err := in.Get(ref); err != nil {
		return err
	}
	return in.Purge(ref)
}

// Purge removes whatever there is of ref's deployment, whole or not: its
// active link, its deploy/ ref, the desktop's links into it, its launcher
// and its directory.
func (in *Installation) Purge(ref Ref) error {
	if err := os.Remove(filepath.Join(in.RefDir(ref), "active")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := in.refs().Delete("deploy/" + ref.String()); err != nil && !errors.Is(err, refs.ErrNotFound) {
		return err
	}
	if err := in.unlinkExports(ref, nil); err != nil {
		return err
	}
	if ref.Kind == App {
		if err := os.Remove(in.LauncherPath(ref.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.RemoveAll(in.RefDir(ref)); err != nil {
		return err
	}
	// KIND/ID/ARCH and KIND/ID, when no other branch or arch is left.
	for d := filepath.Dir(in.RefDir(ref)); d != filepath.Join(in.Dir, string(ref.Kind)); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}

// LauncherPath is exports/bin/ID, the command that runs the app.
func (in *Installation) LauncherPath(id string) string {
	return filepath.Join(in.Dir, "exports", "bin", id)
}

// LinkExports makes the desktop see ref's exported files (paths under
// its export/ directory, slash-separated): exports/REL links to
// RefDir/active/export/REL, and the links to files it no longer exports go.
func (in *Installation) LinkExports(ref Ref, files []string) error {
	keep := map[string]bool{}
	for _, rel := range files {
		link := filepath.Join(in.Dir, "exports", filepath.FromSlash(rel))
		keep[link] = true
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		if err := atomic.Symlink(filepath.Join(in.RefDir(ref), "active", "export", filepath.FromSlash(rel)), link, false); err != nil {
			return err
		}
	}
	return in.unlinkExports(ref, keep)
}

// unlinkExports removes the links of exports/share into ref's directory
// but those in keep.
func (in *Installation) unlinkExports(ref Ref, keep map[string]bool) error {
	prefix := in.RefDir(ref) + string(filepath.Separator)
	err := filepath.WalkDir(filepath.Join(in.Dir, "exports", "share"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.Type()&fs.ModeSymlink == 0 || keep[p] {
			return err
		}
		if t, err := os.Readlink(p); err == nil && strings.HasPrefix(t, prefix) {
			return os.Remove(p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Unused lists installed runtimes no installed app needs.
func (in *Installation) Unused() ([]Ref, error) {
	refs, err := in.Installed()
	if err != nil {
		return nil, err
	}
	// An app needs its runtime, and both their extensions.
	// An extension whose autoprune-unless does not hold (a GL driver
	// this host no longer uses) is not.
	needed := map[Ref]bool{}
	c := HostConditions()
	need := func(d *Deployed) {
		for _, e := range ExtensionsOf(d, refs) {
			if c.Holds(e.Ref.ID, e.Point.AutopruneUnless, true) {
				needed[e.Ref] = true
			}
		}
	}
	for _, r := range refs {
		if r.Kind != App {
			continue
		}
		d, err := in.Get(r)
		if err != nil {
			return nil, err
		}
		need(d)
		rt, err := ParsePartial(Runtime, d.Metadata.Runtime)
		if err != nil {
			continue
		}
		needed[rt] = true
		if rd, err := in.Get(rt); err == nil {
			need(rd)
		}
	}
	var out []Ref
	for _, r := range refs {
		if r.Kind == Runtime && !needed[r] {
			out = append(out, r)
		}
	}
	return out, nil
}

// AppsUsing lists the installed apps whose runtime is rt.
func (in *Installation) AppsUsing(rt Ref) ([]Ref, error) {
	refs, err := in.Installed()
	if err != nil {
		return nil, err
	}
	var out []Ref
	for _, r := range refs {
		if r.Kind != App {
			continue
		}
		d, err := in.Get(r)
		if err != nil {
			continue // broken metadata: nothing to say it needs rt
		}
		if used, err := ParsePartial(Runtime, d.Metadata.Runtime); err == nil && used == rt {
			out = append(out, r)
		}
	}
	return out, nil
}

// overridePath is where an app's permission overrides are kept, as
// flatpak keeps them.
func (in *Installation) overridePath(id string) string {
	return filepath.Join(in.Dir, "overrides", id)
}

// Override reads an app's overrides (an empty context when none).
func (in *Installation) Override(id string) (*sandbox.Context, error) {
	if err := sandbox.ValidateID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(in.overridePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return sandbox.NewContext(), nil
	}
	if err != nil {
		return nil, err
	}
	kf, err := keyfile.ParseBytes(b)
	if err != nil {
		return nil, fmt.Errorf("overrides of %s: %w", id, err)
	}
	return sandbox.ParseContext(kf)
}

// SetOverride merges more into an app's overrides and writes them.
func (in *Installation) SetOverride(id string, more *sandbox.Context) error {
	c, err := in.Override(id)
	if err != nil {
		return err
	}
	c.Merge(more)
	kf := keyfile.New()
	c.Keyfile(kf, true)
	p := in.overridePath(id)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomic.WriteFile(p, kf.Bytes(), 0o644, false)
}

// ResetOverride drops an app's overrides.
func (in *Installation) ResetOverride(id string) error {
	if err := sandbox.ValidateID(id); err != nil {
		return err
	}
	err := os.Remove(in.overridePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Hold keeps commits from prune while the process pid runs them, with
// refs instance/PID-N, and returns what drops them. Holds of processes
// that are gone are dropped by the next Hold.
func (in *Installation) Hold(pid int, commits ...object.Checksum) (release func(), err error) {
	held, err := in.refs().Local("instance")
	if err != nil {
		return nil, err
	}
	for name := range held {
		p := strings.TrimPrefix(name, "instance/")
		if i := strings.IndexAny(p, "-/"); i >= 0 {
			p = p[:i]
		}
		if other, err := strconv.Atoi(p); err == nil && other > 0 && syscall.Kill(other, 0) == syscall.ESRCH {
			in.refs().Delete(name)
		}
	}
	var names []string
	release = func() {
		for _, n := range names {
			in.refs().Delete(n)
		}
	}
	// They live as long as the process: nothing to flush to disk.
	for i, c := range commits {
		name := fmt.Sprintf("instance/%d-%d", pid, i)
		if err := in.refs().Set(name, c, false); err != nil {
			release()
			return nil, err
		}
		names = append(names, name)
	}
	return release, nil
}
