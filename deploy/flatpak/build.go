package flatpak

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"arbor/deploy/flatpak/exports"
	"arbor/sandbox"
	"arbor/store/keyfile"
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

// ReadBuildMetadata reads DIR/metadata, which BuildInit made.
func ReadBuildMetadata(dir string) (*Metadata, error) {
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
// export/ is made for every kind, and marks the build finished: a
// second finish is refused, as flatpak refuses it.
func BuildFinish(dir, command string, perms *sandbox.Context) error {
	m, err := ReadBuildMetadata(dir)
	if err != nil {
		return err
	}
	export := filepath.Join(dir, "export")
	if _, err := os.Lstat(export); err == nil {
		return fmt.Errorf("build directory %s is already finished (%s exists)", dir, export)
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
	if err := os.Mkdir(export, 0o755); err != nil {
		return fmt.Errorf("finishing %s: %w", dir, err)
	}
	if m.Kind == App {
		return exportShare(dir, m.Name)
	}
	return nil
}

// exportShare copies what the desktop integrates, in the directories and
// under the names installs export (package exports), so that a build
// shows what an install of it will.
func exportShare(dir, id string) error {
	files := filepath.Join(dir, "files")
	return filepath.WalkDir(filepath.Join(files, "share"), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(files, p)
		if !exports.Allowed(filepath.ToSlash(rel), id) {
			return nil
		}
		dst := filepath.Join(dir, "export", rel)
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
