package flatpak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"arbor/sandbox"
	"arbor/store"
	"arbor/store/keyfile"
	"arbor/store/object"
)

// Arch is flatpak's name for this machine's architecture.
func Arch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i386"
	}
	return runtime.GOARCH
}

// BuildInit makes a build directory for an app: files/ (which becomes
// /app), var/, and the metadata naming the app, its runtime and its SDK.
func BuildInit(dir, id, sdk, runtimeID, branch string) error {
	if branch == "" {
		branch = DefaultBranch
	}
	if err := sandbox.ValidateID(id); err != nil {
		return err
	}
	arch := Arch()
	rt, err := ParsePartial(Runtime, runtimeID+"/"+arch+"/"+branch)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	sd, err := ParsePartial(Runtime, sdk+"/"+arch+"/"+branch)
	if err != nil {
		return fmt.Errorf("sdk: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "metadata")); err == nil {
		return fmt.Errorf("%s is already a build directory", dir)
	}
	for _, d := range []string{"files", "var"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	kf := keyfile.New()
	kf.Set("Application", "name", id)
	kf.Set("Application", "runtime", rt.Partial())
	kf.Set("Application", "sdk", sd.Partial())
	return os.WriteFile(filepath.Join(dir, "metadata"), kf.Bytes(), 0o644)
}

// readBuildMetadata reads DIR/metadata, which BuildInit made.
func readBuildMetadata(dir string) (*Metadata, error) {
	b, err := os.ReadFile(filepath.Join(dir, "metadata"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a build directory (use build-init)", dir)
	}
	if err != nil {
		return nil, err
	}
	return ParseMetadata(b)
}

// BuildFinish sets the command and the permissions of a built app and
// exports its desktop files, icons, metainfo and D-Bus services from
// files/share to export/share, where installations look for them.
func BuildFinish(dir, command string, perms *sandbox.Context) error {
	m, err := readBuildMetadata(dir)
	if err != nil {
		return err
	}
	group := "Application"
	if m.Kind == Runtime {
		group = "Runtime"
	}
	if command != "" {
		m.File.Set(group, "command", command)
	}
	merged := m.Context
	merged.Merge(perms)
	m.File.DeleteGroup("Context")
	m.File.DeleteGroup("Environment")
	merged.Keyfile(m.File, true)
	if err := os.WriteFile(filepath.Join(dir, "metadata"), m.File.Bytes(), 0o644); err != nil {
		return err
	}
	if m.Kind == App {
		return exportShare(dir, m.Name)
	}
	return nil
}

// exportShare copies what the desktop integrates, named after the app id
// (only such names are exported, as flatpak does).
func exportShare(dir, id string) error {
	share := filepath.Join(dir, "files", "share")
	return filepath.WalkDir(share, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(share, p)
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		switch top {
		case "applications", "icons", "metainfo", "dbus-1":
		default:
			return nil
		}
		if !strings.HasPrefix(filepath.Base(rel), id) || !d.Type().IsRegular() {
			return nil
		}
		dst := filepath.Join(dir, "export", "share", rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return copyFile(p, dst)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ExportOptions tune BuildExport.
type ExportOptions struct {
	Branch       string // default: the runtime's branch for apps, else master
	Subject      string
	CollectionID string
	Runtime      bool // export DIR/usr as a runtime's files
}

// BuildExport commits a build directory to repo as flatpak's build-export
// does: the tree holds metadata, files and export; the commit records the
// ref, the metadata text and the sizes; the ref app/ID/ARCH/BRANCH (or
// runtime/...) moves to it.
func BuildExport(ctx context.Context, repo *store.Repo, dir string, opts ExportOptions) (Ref, object.Checksum, error) {
	m, err := readBuildMetadata(dir)
	if err != nil {
		return Ref{}, object.Zero, err
	}
	kind := m.Kind
	filesDir := "files"
	if opts.Runtime {
		kind, filesDir = Runtime, "usr"
	}
	branch := opts.Branch
	if branch == "" {
		branch = DefaultBranch
	}
	ref := Ref{Kind: kind, ID: m.Name, Arch: Arch(), Branch: branch}
	if err := ref.Validate(); err != nil {
		return Ref{}, object.Zero, err
	}
	if fi, err := os.Stat(filepath.Join(dir, filesDir)); err != nil || !fi.IsDir() {
		return Ref{}, object.Zero, fmt.Errorf("%s has no %s/ directory", dir, filesDir)
	}
	installed, err := treeBytes(filepath.Join(dir, filesDir))
	if err != nil {
		return Ref{}, object.Zero, err
	}
	subject := opts.Subject
	if subject == "" {
		subject = "Export " + ref.String()
	}
	c, _, err := repo.CommitDir(ctx, dir, store.CommitOptions{
		Branch:         ref.String(),
		Subject:        subject,
		Body:           fmt.Sprintf("Name: %s\nArch: %s\nBranch: %s\nBuilt with: arbor\n", ref.ID, ref.Arch, ref.Branch),
		OwnerUID:       0,
		OwnerGID:       0,
		NoXattrs:       true,
		CanonicalModes: true,
		NoBindings:     true, // CommitMetadata has them, with the collection
		Root:           map[string]string{"metadata": "metadata", "files": filesDir, "export": "export"},
		SizedMetadata: func(stored int64) []object.MetaEntry {
			return CommitMetadata(ref, m.Raw, uint64(installed), uint64(stored), opts.CollectionID)
		},
	})
	return ref, c, err
}

// treeBytes sums the sizes of the regular files under dir.
func treeBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}
