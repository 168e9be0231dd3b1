// Package apps tests building and exporting apps as flatpak does, with
// the arbor binary.
package apps

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.Cleanup()
	os.Exit(code)
}

// Build, finish and export an app; the commit is flatpak's shape, ostree
// accepts the repository, and the exported app runs in the sandbox with
// the permissions its metadata grants.
func TestBuildFinishExportRun(t *testing.T) {
	testutil.NeedTool(t, "ostree")
	testutil.NeedTool(t, "gpg")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	build := filepath.Join(dir, "build")
	testutil.Run(t, arbor, "build-init", build, "org.example.Hello", "org.example.Sdk", "org.example.Platform", "1.0")
	if _, _, err := testutil.RunErr(arbor, "build-init", build, "org.example.Hello", "org.example.Sdk", "org.example.Platform"); err == nil {
		t.Fatal("build-init of an existing build directory succeeded")
	}
	testutil.WriteFile(t, filepath.Join(build, "files/bin/hello"), "#!/bin/sh\necho \"hello, $GREETING\"\n", 0o755)
	testutil.WriteFile(t, filepath.Join(build, "files/share/applications/org.example.Hello.desktop"), "[Desktop Entry]\nName=Hello\nExec=hello\nType=Application\n", 0o644)
	testutil.WriteFile(t, filepath.Join(build, "files/share/applications/other.desktop"), "[Desktop Entry]\nName=Other\n", 0o644)
	testutil.WriteFile(t, filepath.Join(build, "var/tmp/scratch"), "build leftovers\n", 0o644)
	testutil.WriteFile(t, filepath.Join(build, "files/share/metainfo/org.example.Hello.metainfo.xml"), `<?xml version="1.0" encoding="UTF-8"?>
<component type="desktop-application">
  <id>org.example.Hello</id>
  <name>Hello</name>
  <summary>Says hello from a sandbox</summary>
</component>
`, 0o644)
	testutil.Run(t, arbor, "build-finish", build, "--command=hello", "--share=network", "--env=GREETING=world", "--filesystem=xdg-music:ro")
	meta, err := os.ReadFile(filepath.Join(build, "metadata"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name=org.example.Hello\n", "runtime=org.example.Platform/x86_64/1.0\n", "command=hello\n",
		"shared=network;\n", "filesystems=xdg-music:ro;\n", "GREETING=world\n"} {
		if !strings.Contains(string(meta), want) {
			t.Errorf("metadata lacks %q:\n%s", want, meta)
		}
	}
	if _, err := os.Stat(filepath.Join(build, "export/share/applications/org.example.Hello.desktop")); err != nil {
		t.Errorf("the desktop file was not exported: %v", err)
	}
	if _, err := os.Stat(filepath.Join(build, "export/share/applications/other.desktop")); err == nil {
		t.Error("a desktop file not named after the app was exported")
	}

	repo := filepath.Join(dir, "repo")
	testutil.Run(t, arbor, "--repo="+repo, "init", "--mode=archive")
	out := testutil.Run(t, arbor, "build-export", repo, build, "1.0")
	if !strings.Contains(out, "Ref: app/org.example.Hello/x86_64/1.0") {
		t.Fatalf("build-export printed %q", out)
	}
	ref := "app/org.example.Hello/x86_64/1.0"
	ls := testutil.Run(t, arbor, "--repo="+repo, "ls", "-R", ref)
	for _, want := range []string{" /metadata\n", " /files/bin/hello\n", " /export/share/applications/org.example.Hello.desktop\n"} {
		if !strings.Contains(ls, want) {
			t.Errorf("the commit lacks %s:\n%s", want, ls)
		}
	}
	if strings.Contains(ls, "/var") {
		t.Errorf("the build's var/ was exported:\n%s", ls)
	}
	// Commit metadata, read by ostree: xa.metadata is the file, byte for byte.
	xm := testutil.Run(t, "ostree", "--repo="+repo, "show", "--print-metadata-key=xa.metadata", ref)
	if !strings.Contains(xm, "command=hello") {
		t.Errorf("xa.metadata: %s", xm)
	}
	for key, want := range map[string]string{"xa.ref": "'" + ref + "'", "ostree.ref-binding": "['" + ref + "']"} {
		if got := strings.TrimSpace(testutil.Run(t, "ostree", "--repo="+repo, "show", "--print-metadata-key="+key, ref)); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
	size := strings.TrimSpace(testutil.Run(t, "ostree", "--repo="+repo, "show", "--print-metadata-key=xa.installed-size", ref))
	var want int64
	filepath.WalkDir(filepath.Join(build, "files"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			want += fi.Size()
		}
		return err
	})
	if size != "uint64 "+strconv.FormatInt(want, 10) {
		t.Errorf("xa.installed-size: %s, want %d", size, want)
	}
	testutil.Run(t, "ostree", "--repo="+repo, "fsck")

	// Publishing: AppStream branches with the app's component and its
	// bundle, a summary listing everything, and a signature on request.
	out = testutil.Run(t, arbor, "build-update-repo", repo)
	if !strings.Contains(out, "AppStream data of 1 apps") {
		t.Errorf("build-update-repo printed %q", out)
	}
	as := testutil.Run(t, arbor, "--repo="+repo, "cat", "appstream2/x86_64", "/appstream.xml")
	for _, want := range []string{"<summary>Says hello from a sandbox</summary>", `<bundle type="flatpak">` + ref + `</bundle>`, `<components version="0.8" origin="flatpak">`} {
		if !strings.Contains(as, want) {
			t.Errorf("appstream.xml lacks %s:\n%s", want, as)
		}
	}
	refs := testutil.Run(t, "ostree", "--repo="+repo, "summary", "--view")
	for _, want := range []string{ref, "appstream/x86_64", "appstream2/x86_64"} {
		if !strings.Contains(refs, want) {
			t.Errorf("the summary lacks %s:\n%s", want, refs)
		}
	}
	key := testutil.NewGPGKey(t, "Arbor Apps")
	testutil.Run(t, arbor, "build-sign", "--gpg-sign="+key.ID, "--gpg-homedir="+key.Home, repo, "org.example.Hello", "1.0")
	if md := testutil.Run(t, arbor, "--repo="+repo, "show", "--print-detached-metadata", ref); !strings.Contains(md, "ostree.gpgsigs") {
		t.Errorf("build-sign left no signature:\n%s", md)
	}

	// Run the exported app: its files as /app, its metadata's permissions.
	testutil.Privileged(t)
	co := filepath.Join(dir, "co")
	testutil.Run(t, arbor, "--repo="+repo, "checkout", "-U", ref, co)
	out = testutil.Run(t, arbor, "sandbox", "--runtime=/usr", "--app="+filepath.Join(co, "files"),
		"--metadata="+filepath.Join(co, "metadata"), "--", "hello")
	if strings.TrimSpace(out) != "hello, world" {
		t.Fatalf("the app printed %q", out)
	}
}
