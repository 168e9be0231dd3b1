package commits

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/exports"
	"arbor/store"
	"arbor/store/object"
	"arbor/store/refs"
	"arbor/tests/hostile"
	"arbor/tests/testutil"
)

// initRepo makes the bare-user repository of an installation at path.
func initRepo(t *testing.T, path string) *store.Repo {
	t.Helper()
	r, err := store.Init(path, store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// buildApp commits a release of org.example.Hello whose export/ tree
// holds files (a "symlink:TARGET" value makes a link).
func buildApp(t *testing.T, r *store.Repo, files map[string]string) object.Checksum {
	t.Helper()
	dir := t.TempDir()
	if err := flatpak.BuildInit(dir, "org.example.Hello", "org.example.Platform", "org.example.Platform", "1.0"); err != nil {
		t.Fatal(err)
	}
	for rel, data := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(data, "symlink:"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, c, err := BuildExport(context.Background(), r, dir, ExportOptions{Branch: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A deploy that fails after its exports were made (here the desktop's
// exports/share/icons is in the way of the new release's icon) leaves
// the installation as it was: the update goes back to the old commit,
// its exports and links; a first install leaves no trace.
func TestDeployRollsBack(t *testing.T) {
	ctx := context.Background()
	repo := filepath.Join(t.TempDir(), "repo")
	r := initRepo(t, repo)
	in := flatpak.NewInstallation(repo)
	const desktop = "export/share/applications/org.example.Hello.desktop"
	v1 := buildApp(t, r, map[string]string{desktop: "[Desktop Entry]\nType=Application\nName=One\nExec=one\n"})
	v2 := buildApp(t, r, map[string]string{desktop: "[Desktop Entry]\nType=Application\nName=Two\nExec=two\n",
		"export/share/icons/hicolor/64x64/apps/org.example.Hello.png": "png"})
	ref, opts := helloRef, deployOptions(t, r, v1)
	if _, _, err := Deploy(ctx, r, in, ref, v1, opts); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(in.Dir, "exports/share/applications/org.example.Hello.desktop")
	if b, err := os.ReadFile(link); err != nil || !strings.Contains(string(b), "--command=one org.example.Hello") {
		t.Fatalf("v1's desktop file: %q %v", b, err)
	}
	blocker := filepath.Join(in.Dir, "exports/share/icons")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Deploy(ctx, r, in, ref, v2, opts); err == nil {
		t.Fatal("the deploy of v2 succeeded with exports/share/icons in the way")
	}
	d, err := in.Get(ref)
	if err != nil || d.Commit != v1 {
		t.Fatalf("after the failed update: %v %v, want %s", d, err, v1)
	}
	if c, err := refs.Dir(repo).Read("deploy/" + ref.String()); err != nil || c != v1 {
		t.Errorf("deploy ref %s %v, want %s", c, err, v1)
	}
	if _, err := os.Stat(filepath.Join(in.RefDir(ref), v2.String())); err == nil {
		t.Error("v2's directory is left")
	}
	if b, err := os.ReadFile(link); err != nil || !strings.Contains(string(b), "--command=one org.example.Hello") {
		t.Errorf("after the failed update the desktop file is %q %v", b, err)
	}

	// A first install that fails leaves nothing.
	repo2 := filepath.Join(t.TempDir(), "repo")
	r2 := initRepo(t, repo2)
	v2 = buildApp(t, r2, map[string]string{desktop: "[Desktop Entry]\nType=Application\nName=Two\nExec=two\n",
		"export/share/icons/hicolor/64x64/apps/org.example.Hello.png": "png"})
	in2 := flatpak.NewInstallation(repo2)
	if err := os.MkdirAll(filepath.Join(in2.Dir, "exports/share"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in2.Dir, "exports/share/icons"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Deploy(ctx, r2, in2, ref, v2, opts); err == nil {
		t.Fatal("the first deploy succeeded with exports/share/icons in the way")
	}
	for _, p := range []string{"app", "exports/bin", "exports/share/applications"} {
		filepath.WalkDir(filepath.Join(in2.Dir, p), func(p string, e os.DirEntry, err error) error {
			if err == nil && (!e.IsDir() || strings.HasSuffix(p, "org.example.Hello")) {
				t.Errorf("the failed first deploy left %s", p)
			}
			return nil
		})
	}
	if all, _ := refs.Dir(repo2).Local("deploy"); len(all) > 0 {
		t.Errorf("the failed first deploy left refs %v", all)
	}
}

var helloRef = flatpak.Ref{Kind: flatpak.App, ID: "org.example.Hello", Arch: flatpak.Arch(), Branch: "1.0"}

func deployOptions(t *testing.T, r *store.Repo, c object.Checksum) DeployOptions {
	t.Helper()
	meta, err := r.ReadFile(c, "/metadata", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return DeployOptions{Origin: "origin", Metadata: meta, Arbor: "/usr/bin/arbor"}
}

// exported lists what the desktop sees of an installation: the files and
// links under exports/.
func exported(in *flatpak.Installation) []string {
	var out []string
	root := filepath.Join(in.Dir, "exports")
	filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// Links in an app's export/ tree, to a root-only file, to /dev/zero, or
// in the place of an exported directory, are left out with a warning
// naming each: the install succeeds, and nothing of their targets is
// read or exported.
func TestDeployLeavesOutLinks(t *testing.T) {
	ctx := context.Background()
	repo := filepath.Join(t.TempDir(), "repo")
	r := initRepo(t, repo)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("[Desktop Entry]\nType=Application\nName=TOPSECRET\nExec=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		desktop = "share/applications/org.example.Hello.desktop"
		icon    = "share/icons/hicolor/48x48/apps/org.example.Hello.png"
		service = "share/dbus-1/services/org.example.Hello.service"
	)
	c := buildApp(t, r, map[string]string{
		"export/" + desktop:          "symlink:" + secret,
		"export/" + icon:             "symlink:/dev/zero",
		"export/share/metainfo":      "symlink:" + filepath.Dir(secret),
		"export/share/gnome-shell":   "symlink:/usr/share/gnome-shell",
		"export/" + service:          "[D-BUS Service]\nName=org.example.Hello\nExec=hello\n",
		"export/share/mime/packages": "symlink:/etc",
	})
	in := flatpak.NewInstallation(repo)
	d, warnings, err := Deploy(ctx, r, in, helloRef, c, deployOptions(t, r, c))
	if err != nil {
		t.Fatal(err)
	}
	if d.Commit != c {
		t.Errorf("deployed %s, want %s", d.Commit, c)
	}
	var want []string
	for _, p := range []string{desktop, icon, "share/metainfo", "share/gnome-shell"} {
		want = append(want, "export/"+p+": a symbolic link, not followed or exported")
	}
	sort.Strings(want)
	sort.Strings(warnings)
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings %q\nwant %q", warnings, want)
	}
	if got := exported(in); !slices.Equal(got, []string{"bin/org.example.Hello", service}) {
		t.Errorf("exported %q", got)
	}
	filepath.WalkDir(in.Dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "TOPSECRET") {
				t.Errorf("%s holds the secret", p)
			}
		}
		return nil
	})
}

// A release whose export/share/icons is a DAG of dirtrees (8^5 = 32768
// directories from 6 objects) is refused at install by the limit it
// passes, and nothing of it is left. Its installation is on a tmpfs of
// exports.MaxFiles inodes: an install that wrote out as many directories
// as the limit allows files (as a checkout of export/ would) fails for
// want of space instead.
func TestDeployBoundsAHostileExportTree(t *testing.T) {
	testutil.Privileged(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		dag  hostile.DAG
		want string
	}{
		{"exported icons", hostile.DAG{Fanout: 8, Levels: 5, File: "org.example.Hello.png"},
			fmt.Sprintf("more than %d exported files", exports.MaxFiles)},
		{"names not exported", hostile.DAG{Fanout: 8, Levels: 5},
			fmt.Sprintf("more than %d names where exports are looked for", exports.MaxNames)},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			testutil.Run(t, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("nr_inodes=%d", exports.MaxFiles), "tmpfs", dir)
			t.Cleanup(func() { testutil.Run(t, "umount", dir) }) // after the repository's own
			repo := filepath.Join(dir, "repo")
			r := initRepo(t, repo)
			base := buildApp(t, r, map[string]string{"export/share/applications/org.example.Hello.desktop": "[Desktop Entry]\nType=Application\nExec=hello\n"})
			hurt, err := c.dag.Graft(ctx, r, base, "/export/share/icons", "")
			if err != nil {
				t.Fatal(err)
			}
			in := flatpak.NewInstallation(repo)
			_, _, err = Deploy(ctx, r, in, helloRef, hurt, deployOptions(t, r, base))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "export/share/icons/") {
				t.Fatalf("deploy: %v, want an error naming a path under export/share/icons and %q", err, c.want)
			}
			if refs, err := in.Installed(); err != nil || len(refs) > 0 {
				t.Errorf("installed after the failure: %v %v", refs, err)
			}
			dirs := 0
			filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
				switch {
				case err != nil || p == repo:
					return fs.SkipDir
				case e.IsDir():
					dirs++
				}
				return nil
			})
			if left := exported(in); dirs >= exports.MaxFiles || len(left) > 0 {
				t.Errorf("left %d directories and exports %q", dirs, left)
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "app")); len(ents) > 0 {
				t.Errorf("the failed install left app/%s", ents[0].Name())
			}
		})
	}
}
