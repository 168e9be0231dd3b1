// Package commits holds what apps and runtimes need of the object store:
// build-export and the AppStream branch write commits, and installing
// checks deployed commits out. Package flatpak itself stays free of the
// store, so that starting an installed app links none of it.
package commits

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/appstream"
	"arbor/store"
	"arbor/store/object"
	"arbor/store/refs"
)

// maxAppStream bounds one app's AppStream file, against hostile builds.
const maxAppStream = 16 << 20

// appStreamOf reads an app commit's AppStream data: the composed
// files/share/app-info/xmls/ID.xml.gz, else files/share/metainfo/ID.metainfo.xml
// (or .appdata.xml). It returns the component elements, nil if none.
func appStreamOf(r *store.Repo, c object.Checksum, id string) ([]byte, error) {
	for _, p := range []string{"/files/share/app-info/xmls/" + id + ".xml.gz", "/files/share/metainfo/" + id + ".metainfo.xml",
		"/files/share/metainfo/" + id + ".appdata.xml", "/files/share/appdata/" + id + ".appdata.xml"} {
		if n, err := r.Lookup(c, p); err != nil || n.IsDir {
			continue
		}
		b, err := r.ReadFile(c, p, maxAppStream)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(p, ".gz") {
			z, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			if b, err = io.ReadAll(io.LimitReader(z, maxAppStream)); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		}
		return appstream.Components(b)
	}
	return nil, nil
}

// maxIcon bounds an icon copied into the AppStream branch.
const maxIcon = 1 << 20

// iconOf reads an app's icon of size pixels, as flatpak's catalogue takes
// it: the composed one, else the theme's. Only a regular file counts (a
// symlink is never followed); nil means none.
func iconOf(r *store.Repo, c object.Checksum, id string, size int) ([]byte, error) {
	for _, p := range []string{fmt.Sprintf("/files/share/app-info/icons/flatpak/%dx%d/%s.png", size, size, id),
		fmt.Sprintf("/files/share/icons/hicolor/%dx%d/apps/%s.png", size, size, id)} {
		n, err := r.Lookup(c, p)
		if err != nil || n.IsDir {
			continue
		}
		h, sz, err := r.StatContent(n.File)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if h.Mode&object.ModeTypeMask != object.ModeRegular || sz > maxIcon {
			continue
		}
		return r.ReadFile(c, p, maxIcon)
	}
	return nil, nil
}

// UpdateAppStream commits the AppStream data of every app of arch in the
// repository to appstream/ARCH (appstream.xml.gz) and appstream2/ARCH
// (appstream.xml, which deltas better), as build-update-repo does. Each
// component gets a <bundle> naming its ref, and the app's icons go to
// icons/SIZE/ID.png with a cached <icon> naming them. It returns how many apps had
// data.
func UpdateAppStream(ctx context.Context, r *store.Repo, arch string) (int, error) {
	all, err := r.Refs()
	if err != nil {
		return 0, err
	}
	names := refs.SortedNames(all)
	sort.Strings(names)
	var body bytes.Buffer
	n := 0
	icons := map[string][]byte{} // SIZE/ID.png -> the PNG
	for _, name := range names {
		ref, err := flatpak.ParseRef(name)
		if err != nil || ref.Kind != flatpak.App || ref.Arch != arch {
			continue
		}
		comps, err := appStreamOf(r, all[name], ref.ID)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		if len(comps) == 0 {
			continue
		}
		extra := fmt.Sprintf("<bundle type=\"flatpak\">%s</bundle>", name)
		for _, size := range []int{64, 128} {
			png, err := iconOf(r, all[name], ref.ID, size)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
			}
			if png == nil {
				continue
			}
			icons[fmt.Sprintf("%dx%d/%s.png", size, size, ref.ID)] = png
			if !bytes.Contains(comps, []byte(`type="cached"`)) {
				extra += fmt.Sprintf("\n  <icon type=\"cached\" width=\"%d\" height=\"%d\">%s.png</icon>", size, size, ref.ID)
			}
		}
		body.Write(bytes.ReplaceAll(comps, []byte("</component>\n"), []byte("  "+extra+"\n  </component>\n")))
		n++
	}
	doc := []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<components version=\"0.8\" origin=\"flatpak\">\n" + body.String() + "</components>\n")
	tmp, err := os.MkdirTemp(filepath.Join(r.Path(), "tmp"), "arbor-appstream-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(doc)
	zw.Close()
	for branch, file := range map[string]struct {
		name string
		data []byte
	}{"appstream/" + arch: {"appstream.xml.gz", gz.Bytes()}, "appstream2/" + arch: {"appstream.xml", doc}} {
		d := filepath.Join(tmp, strings.ReplaceAll(branch, "/", "-"))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(d, file.name), file.data, 0o644); err != nil {
			return 0, err
		}
		for rel, png := range icons {
			p := filepath.Join(d, "icons", filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return 0, err
			}
			if err := os.WriteFile(p, png, 0o644); err != nil {
				return 0, err
			}
		}
		if _, _, err := r.CommitDir(ctx, d, store.CommitOptions{Branch: branch, Subject: "Update " + branch,
			NoXattrs: true, CanonicalModes: true}); err != nil {
			return 0, err
		}
	}
	return n, nil
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
func BuildExport(ctx context.Context, repo *store.Repo, dir string, opts ExportOptions) (flatpak.Ref, object.Checksum, error) {
	m, err := flatpak.ReadBuildMetadata(dir)
	if err != nil {
		return flatpak.Ref{}, object.Zero, err
	}
	kind := m.Kind
	filesDir := "files"
	if opts.Runtime {
		kind, filesDir = flatpak.Runtime, "usr"
	}
	branch := opts.Branch
	if branch == "" {
		branch = flatpak.DefaultBranch
	}
	ref := flatpak.Ref{Kind: kind, ID: m.Name, Arch: flatpak.Arch(), Branch: branch}
	if err := ref.Validate(); err != nil {
		return flatpak.Ref{}, object.Zero, err
	}
	if fi, err := os.Stat(filepath.Join(dir, filesDir)); err != nil || !fi.IsDir() {
		return flatpak.Ref{}, object.Zero, fmt.Errorf("%s has no %s/ directory", dir, filesDir)
	}
	installed, err := treeBytes(filepath.Join(dir, filesDir))
	if err != nil {
		return flatpak.Ref{}, object.Zero, err
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
			return flatpak.CommitMetadata(ref, m.Raw, uint64(installed), uint64(stored), opts.CollectionID)
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

// Materialize checks a deployed commit's files out beside its metadata,
// hardlinked from the store (which must hold the whole commit), so that
// it runs without mounts and offline.
func Materialize(ctx context.Context, r *store.Repo, in *flatpak.Installation, ref flatpak.Ref, c object.Checksum) error {
	dest := filepath.Join(in.RefDir(ref), c.String(), "files")
	if _, err := os.Stat(dest); err == nil {
		return nil
	}
	tmp := dest + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if err := r.Checkout(ctx, c, tmp, store.CheckoutOptions{UserMode: true, Subpath: "/files"}); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return os.Rename(tmp, dest)
}
