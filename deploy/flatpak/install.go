package flatpak

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"arbor/sandbox"
	"arbor/store"
	"arbor/store/atomic"
	"arbor/store/keyfile"
	"arbor/store/object"
)

// Installation is where apps and runtimes are deployed: beside its
// repository, laid out as flatpak lays out its installations
// (KIND/ID/ARCH/BRANCH/{active -> COMMIT, COMMIT/metadata}).
type Installation struct {
	Dir  string // holds repo/, app/, runtime/
	Repo *store.Repo
}

// Deployed is an installed app or runtime.
type Deployed struct {
	Ref      Ref
	Commit   object.Checksum
	Origin   string // the remote it came from
	Metadata *Metadata
}

// NewInstallation is the installation around a repository.
func NewInstallation(r *store.Repo) *Installation {
	dir, err := filepath.Abs(filepath.Dir(r.Path()))
	if err != nil {
		dir = filepath.Dir(r.Path())
	}
	return &Installation{Dir: dir, Repo: r}
}

func (in *Installation) refDir(ref Ref) string {
	return filepath.Join(in.Dir, string(ref.Kind), ref.ID, ref.Arch, ref.Branch)
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
	dir := in.refDir(ref)
	cdir := filepath.Join(dir, c.String())
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return err
	}
	for name, data := range map[string][]byte{"metadata": metadata, "origin": []byte(origin + "\n")} {
		if err := atomic.WriteFile(filepath.Join(cdir, name), data, 0o644, false); err != nil {
			return err
		}
	}
	if err := in.Repo.SetRef("deploy/"+ref.String(), c); err != nil {
		return err
	}
	return atomic.Symlink(c.String(), filepath.Join(dir, "active"), false)
}

// Materialize checks a deployed commit's files out beside its metadata,
// hardlinked from the store (which must hold the whole commit), so that
// it runs without mounts and offline.
func (in *Installation) Materialize(ctx context.Context, ref Ref, c object.Checksum) error {
	dest := filepath.Join(in.refDir(ref), c.String(), "files")
	if _, err := os.Stat(dest); err == nil {
		return nil
	}
	tmp := dest + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if err := in.Repo.Checkout(ctx, c, tmp, store.CheckoutOptions{UserMode: true, Subpath: "/files"}); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return os.Rename(tmp, dest)
}

// FilesDir is where a deployed commit's files are: checked out when it
// was materialized, else in its mount.
func (in *Installation) FilesDir(d *Deployed) (dir string, materialized bool) {
	p := filepath.Join(in.refDir(d.Ref), d.Commit.String(), "files")
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return p, true
	}
	return filepath.Join(in.MountDir(d.Commit), "files"), false
}

// Get returns the deployed ref.
func (in *Installation) Get(ref Ref) (*Deployed, error) {
	dir := in.refDir(ref)
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
	var out []Ref
	for _, kind := range []Kind{App, Runtime} {
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
	}
	return out, nil
}

// Undeploy removes an installed ref: its active link, its directory and
// its deploy/ ref (the objects go at the next prune).
func (in *Installation) Undeploy(ref Ref) error {
	if _, err := in.Get(ref); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(in.refDir(ref), "active")); err != nil {
		return err
	}
	if err := in.Repo.DeleteRef("deploy/" + ref.String()); err != nil && !errors.Is(err, store.ErrRefNotFound) {
		return err
	}
	// The desktop's links into it, and its launcher.
	prefix := in.refDir(ref) + string(filepath.Separator)
	filepath.WalkDir(filepath.Join(in.Dir, "exports"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type()&fs.ModeSymlink != 0 {
			if t, err := os.Readlink(p); err == nil && strings.HasPrefix(t, prefix) {
				os.Remove(p)
			}
		}
		return nil
	})
	if ref.Kind == App {
		os.Remove(filepath.Join(in.Dir, "exports", "bin", ref.ID))
	}
	return os.RemoveAll(in.refDir(ref))
}

// Unused lists installed runtimes no installed app needs.
func (in *Installation) Unused() ([]Ref, error) {
	refs, err := in.Installed()
	if err != nil {
		return nil, err
	}
	needed := map[string]bool{}
	for _, r := range refs {
		if r.Kind != App {
			continue
		}
		d, err := in.Get(r)
		if err != nil {
			return nil, err
		}
		needed["runtime/"+d.Metadata.Runtime] = true
	}
	var out []Ref
	for _, r := range refs {
		if r.Kind == Runtime && !needed[r.String()] {
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

// Export makes a deployed app visible to the desktop, as flatpak's
// exports/ does: its export/ tree checked out (desktop files with Exec
// pointing at `arbor run`), linked from exports/share, and a launcher in
// exports/bin/ID. The commit's export/ must be local.
func (in *Installation) Export(ctx context.Context, d *Deployed, arbor string) error {
	if d.Ref.Kind != App {
		return nil
	}
	cdir := filepath.Join(in.refDir(d.Ref), d.Commit.String())
	exp := filepath.Join(cdir, "export")
	if _, err := in.Repo.Lookup(d.Commit, "/export"); err != nil {
		return nil // nothing exported
	}
	if _, err := os.Stat(exp); errors.Is(err, fs.ErrNotExist) {
		tmp := exp + ".tmp"
		os.RemoveAll(tmp)
		err := in.Repo.Checkout(ctx, d.Commit, tmp, store.CheckoutOptions{UserMode: true, Subpath: "/export", AllowPartial: true})
		if err != nil {
			os.RemoveAll(tmp)
			return err
		}
		if err := os.Rename(tmp, exp); err != nil {
			return err
		}
	}
	run := fmt.Sprintf("%s run --branch=%s %s", arbor, d.Ref.Branch, d.Ref.ID)
	return filepath.WalkDir(filepath.Join(exp, "share"), func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(exp, p)
		if strings.HasSuffix(p, ".desktop") {
			// A new file, not an edit: checkouts hardlink the store's.
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var out []string
			for _, line := range strings.Split(string(b), "\n") {
				if cmd, ok := strings.CutPrefix(line, "Exec="); ok {
					args := ""
					if f := strings.Fields(cmd); len(f) > 1 {
						args = " " + strings.Join(f[1:], " ")
					}
					line = "Exec=" + run + args
				}
				out = append(out, line)
			}
			out = append(out[:len(out)-1], "X-Arbor="+d.Ref.ID, "")
			if err := atomic.WriteFile(p, []byte(strings.Join(out, "\n")), 0o644, false); err != nil {
				return err
			}
		}
		link := filepath.Join(in.Dir, "exports", rel)
		target := filepath.Join(in.refDir(d.Ref), "active", "export", rel)
		return replaceSymlink(target, link)
	})
}

// shellQuote quotes a word for sh: paths may hold spaces or quotes.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func replaceSymlink(target, link string) error {
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	return atomic.Symlink(target, link, false)
}

// Launcher writes exports/bin/ID, which runs the app.
func (in *Installation) Launcher(d *Deployed, arbor string) error {
	if d.Ref.Kind != App {
		return nil
	}
	p := filepath.Join(in.Dir, "exports", "bin", d.Ref.ID)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s %s run --branch=%s %s \"$@\"\n", shellQuote(arbor), shellQuote("--repo="+in.Repo.Path()), d.Ref.Branch, d.Ref.ID)
	return atomic.WriteFile(p, []byte(script), 0o755, false)
}

// Hold keeps commits from prune while the process pid runs them, with
// refs instance/PID/N; Release drops them. Holds of processes that are
// gone are dropped by the next Hold.
func (in *Installation) Hold(pid int, commits ...object.Checksum) error {
	refs, err := in.Repo.LocalRefs("instance")
	if err != nil {
		return err
	}
	for name := range refs {
		p, _, _ := strings.Cut(strings.TrimPrefix(name, "instance/"), "/")
		var other int
		if _, err := fmt.Sscan(p, &other); err == nil && other > 0 && syscall.Kill(other, 0) == syscall.ESRCH {
			in.Repo.DeleteRef(name)
		}
	}
	// They live as long as the process: nothing to flush to disk.
	for i, c := range commits {
		if err := in.Repo.SetTransientRef(fmt.Sprintf("instance/%d/%d", pid, i), c); err != nil {
			return err
		}
	}
	return nil
}

// Release drops what Hold recorded for pid.
func (in *Installation) Release(pid int) {
	refs, _ := in.Repo.LocalRefs(fmt.Sprintf("instance/%d", pid))
	for name := range refs {
		in.Repo.DeleteRef(name)
	}
}
