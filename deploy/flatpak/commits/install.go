package commits

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/exports"
	"arbor/store"
	"arbor/store/atomic"
	"arbor/store/object"
)

// DeployOptions say how Deploy installs a fetched commit.
type DeployOptions struct {
	Origin      string // the remote it came from
	Metadata    []byte // its xa.metadata, already checked against its tree
	Materialize bool   // check its files out (the store must hold them all)
	Arbor       string // the arbor binary the app's exports start it with
}

// Deploy installs ref at commit c, which the store holds (its export/
// tree at least, for an app): its files checked out if asked, its exports
// made from its export/ tree (which is the app's and untrusted, see
// package exports), then the switch of its active link and deploy ref,
// then the desktop's links and the launcher. Whatever fails, the
// installation is left as it was: a new ref is removed again, an update
// goes back to the commit it had. The warnings name what of the app's
// exports was left out (links, special files), for the user to see.
func Deploy(ctx context.Context, r *store.Repo, in *flatpak.Installation, ref flatpak.Ref, c object.Checksum, opts DeployOptions) (*flatpak.Deployed, []string, error) {
	prev, err := in.Get(ref)
	if err != nil {
		prev = nil // not installed, or not whole: either way nothing to go back to
	}
	cdir := filepath.Join(in.RefDir(ref), c.String())
	_, err = os.Stat(cdir)
	fresh := errors.Is(err, fs.ErrNotExist)
	d, warnings, err := deploy(ctx, r, in, ref, c, opts)
	if err == nil {
		return d, warnings, nil
	}
	if rerr := rollBack(in, ref, c, prev, fresh); rerr != nil {
		return nil, nil, fmt.Errorf("%w (and going back: %v)", err, rerr)
	}
	return nil, nil, err
}

func deploy(ctx context.Context, r *store.Repo, in *flatpak.Installation, ref flatpak.Ref, c object.Checksum, opts DeployOptions) (*flatpak.Deployed, []string, error) {
	if opts.Materialize {
		if err := Materialize(ctx, r, in, ref, c); err != nil {
			return nil, nil, err
		}
	}
	var l exports.Launcher
	var made exports.Result
	if ref.Kind == flatpak.App {
		var err error
		if l, err = launcher(in, ref, opts.Arbor); err != nil {
			return nil, nil, err
		}
		// Made before anything switches: a hostile export fails here.
		if made, err = stageExports(ctx, r, in, ref, c, l); err != nil {
			return nil, nil, fmt.Errorf("%s: exports: %w", ref, err)
		}
	}
	if err := in.Deploy(ref, c, opts.Origin, opts.Metadata); err != nil {
		return nil, nil, err
	}
	if ref.Kind == flatpak.App {
		if err := publishExports(in, ref, c, made.Files, l); err != nil {
			return nil, nil, fmt.Errorf("%s: exports: %w", ref, err)
		}
		// The desktop's links and the launcher are this branch's now.
		if err := in.SetCurrent(ref); err != nil {
			return nil, nil, err
		}
	}
	d, err := in.Get(ref)
	return d, made.Warnings, err
}

func launcher(in *flatpak.Installation, ref flatpak.Ref, arbor string) (exports.Launcher, error) {
	repo, err := filepath.Abs(in.Repo)
	if err != nil {
		return exports.Launcher{}, err
	}
	return exports.Launcher{Arbor: arbor, Repo: repo, ID: ref.ID, Branch: ref.Branch}, nil
}

// In a commit's directory: what arbor exported of it (the desktop's
// links point there), the one being made, and the one it replaces until
// the switch is done.
const (
	exportDir = "export"
	exportNew = ".export-new"
	exportOld = ".export-old"
)

// stageExports makes COMMIT/.export-new from the commit's export/ tree,
// read in the store: nothing of it is checked out, so no more of it is
// written than exports.Build lets through.
func stageExports(ctx context.Context, r *store.Repo, in *flatpak.Installation, ref flatpak.Ref, c object.Checksum, l exports.Launcher) (exports.Result, error) {
	dst := filepath.Join(in.RefDir(ref), c.String(), exportNew)
	if err := os.RemoveAll(dst); err != nil {
		return exports.Result{}, err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return exports.Result{}, err
	}
	n, err := r.Lookup(c, "/"+exportDir)
	if err != nil {
		return exports.Result{}, nil // nothing exported
	}
	if !n.IsDir {
		// As a link on the way to an exported directory: not followed.
		return exports.Result{Warnings: []string{exportDir + ": not a directory, nothing exported"}}, nil
	}
	res, err := exports.Build(ctx, exportTree{r: r, commit: c, root: n}, dst, l)
	if err != nil {
		return exports.Result{}, fmt.Errorf("commit %s: %w", c, err)
	}
	return res, nil
}

// publishExports puts the staged exports in place and links them, and
// writes the launcher.
func publishExports(in *flatpak.Installation, ref flatpak.Ref, c object.Checksum, files []string, l exports.Launcher) error {
	cdir := filepath.Join(in.RefDir(ref), c.String())
	cur, old := filepath.Join(cdir, exportDir), filepath.Join(cdir, exportOld)
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(cur, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(filepath.Join(cdir, exportNew), cur); err != nil {
		return err
	}
	if err := in.LinkExports(ref, files); err != nil {
		return err
	}
	script, err := l.Script()
	if err != nil {
		return err
	}
	p := in.LauncherPath(ref.ID)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := atomic.WriteFile(p, script, 0o755, false); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// MakeCurrent makes an installed app's branch the current one: the one
// run starts by its ID, the desktop's links and the launcher its.
func MakeCurrent(in *flatpak.Installation, ref flatpak.Ref, arbor string) error {
	d, err := in.Get(ref)
	if err != nil {
		return err
	}
	if ref.Kind != flatpak.App {
		return fmt.Errorf("%s: only an app has a current branch", ref)
	}
	files, err := exportedFiles(filepath.Join(in.RefDir(ref), d.Commit.String(), exportDir))
	if err != nil {
		return fmt.Errorf("%s: exports: %w", ref, err)
	}
	if err := in.LinkExports(ref, files); err != nil {
		return fmt.Errorf("%s: exports: %w", ref, err)
	}
	l, err := launcher(in, ref, arbor)
	if err != nil {
		return err
	}
	script, err := l.Script()
	if err != nil {
		return err
	}
	if err := atomic.WriteFile(in.LauncherPath(ref.ID), script, 0o755, false); err != nil {
		return err
	}
	return in.SetCurrent(ref)
}

// rollBack undoes a failed Deploy of c: back to prev's commit, its
// exports and links, or, with nothing before, no trace of ref at all.
func rollBack(in *flatpak.Installation, ref flatpak.Ref, c object.Checksum, prev *flatpak.Deployed, fresh bool) error {
	cdir := filepath.Join(in.RefDir(ref), c.String())
	if prev == nil {
		return in.Purge(ref)
	}
	var errs []error
	if old := filepath.Join(cdir, exportOld); exists(old) {
		cur := filepath.Join(cdir, exportDir)
		errs = append(errs, os.RemoveAll(cur), os.Rename(old, cur))
	}
	errs = append(errs, in.Deploy(ref, prev.Commit, prev.Origin, prev.Metadata.Raw))
	if ref.Kind == flatpak.App {
		files, err := exportedFiles(filepath.Join(in.RefDir(ref), prev.Commit.String(), exportDir))
		errs = append(errs, err, in.LinkExports(ref, files))
	}
	if fresh && prev.Commit != c {
		errs = append(errs, os.RemoveAll(cdir))
	} else {
		errs = append(errs, os.RemoveAll(filepath.Join(cdir, exportNew)))
	}
	return errors.Join(errs...)
}

// exportedFiles lists a deployed commit's export tree, which arbor made.
func exportedFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
