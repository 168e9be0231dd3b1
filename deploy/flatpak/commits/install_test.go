package commits

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/deploy/flatpak"
	"arbor/store"
	"arbor/store/object"
	"arbor/store/refs"
)

// buildApp commits a release of org.example.Hello whose export/ tree
// holds files.
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
	r, err := store.Init(repo, store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in := flatpak.NewInstallation(repo)
	const desktop = "export/share/applications/org.example.Hello.desktop"
	v1 := buildApp(t, r, map[string]string{desktop: "[Desktop Entry]\nType=Application\nName=One\nExec=one\n"})
	v2 := buildApp(t, r, map[string]string{desktop: "[Desktop Entry]\nType=Application\nName=Two\nExec=two\n",
		"export/share/icons/hicolor/64x64/apps/org.example.Hello.png": "png"})
	ref := flatpak.Ref{Kind: flatpak.App, ID: "org.example.Hello", Arch: flatpak.Arch(), Branch: "1.0"}
	meta, err := r.ReadFile(v1, "/metadata", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	opts := DeployOptions{Origin: "origin", Metadata: meta, Arbor: "/usr/bin/arbor"}
	if _, err := Deploy(ctx, r, in, ref, v1, opts); err != nil {
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
	if _, err := Deploy(ctx, r, in, ref, v2, opts); err == nil {
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
	r2, err := store.Init(repo2, store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	v2 = buildApp(t, r2, map[string]string{desktop: "[Desktop Entry]\nType=Application\nName=Two\nExec=two\n",
		"export/share/icons/hicolor/64x64/apps/org.example.Hello.png": "png"})
	in2 := flatpak.NewInstallation(repo2)
	if err := os.MkdirAll(filepath.Join(in2.Dir, "exports/share"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in2.Dir, "exports/share/icons"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Deploy(ctx, r2, in2, ref, v2, opts); err == nil {
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
