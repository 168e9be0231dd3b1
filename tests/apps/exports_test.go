package apps

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"arbor/store/keyfile"
	"arbor/tests/testutil"
)

// exportsState is what the desktop and the user see of an installation:
// its apps, each app's deployed commit, and every file and link under
// exports/ with what it holds.
func exportsState(t *testing.T, arbor, inst string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(testutil.Run(t, arbor, "--repo="+inst, "list"))
	root := filepath.Join(filepath.Dir(inst), "exports")
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		target, _ := os.Readlink(p)
		b.WriteString(p + " -> " + target + "\n")
		// Bounded: a failed export must not take the test down too.
		if f, err := os.Open(p); err == nil {
			io.Copy(&b, io.LimitReader(f, 1<<20))
			f.Close()
		}
		return nil
	})
	return b.String()
}

// republish replaces the app's export/ tree with files (a "symlink:"
// value makes a link) and publishes a new commit of it.
func republish(t *testing.T, arbor string, p published, files map[string]string) {
	t.Helper()
	exp := filepath.Join(p.appBuild, "export")
	testutil.Must(t, os.RemoveAll(exp))
	for rel, data := range files {
		path := filepath.Join(exp, rel)
		testutil.Must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		if target, ok := strings.CutPrefix(data, "symlink:"); ok {
			testutil.Must(t, os.Symlink(target, path))
			continue
		}
		testutil.WriteFile(t, path, data, 0o644)
	}
	testutil.Run(t, arbor, "build-export", p.repo, p.appBuild, "1.0")
	testutil.Run(t, arbor, "build-update-repo", p.repo)
}

// noSecret fails t if a file under dir holds the secret.
func noSecret(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "TOPSECRET") {
				t.Errorf("%s holds the host's secret", p)
			}
		}
		return nil
	})
}

// An app's export/ tree is the app's to write. A release whose exports
// are links to host files (a root-only secret, /dev/zero) or whose
// exported directory is a link installs without them, with a warning
// naming each, and nothing of their targets read; one whose exports are
// too large or unparsable fails to install or update with an error
// naming the file, and leaves the installation as it was; a hostile but
// well-formed one is exported rewritten: every Exec of its desktop file
// starts arbor, its D-Bus service is rebuilt, and what is not allowed
// (systemd units, mime types, names outside the app's id) is not
// exported.
func TestHostileExports(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "ldd")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	p := publishApps(t, arbor, dir, nil)
	secret := filepath.Join(t.TempDir(), "secret")
	testutil.WriteFile(t, secret, "[Desktop Entry]\nType=Application\nName=TOPSECRET\nExec=x\n", 0o600)

	inst := newInstallation(t, arbor, dir, "inst", p.srv.URL)
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "org.example.Hello")

	const (
		desktop = "share/applications/org.example.Hello.desktop"
		icon    = "share/icons/hicolor/48x48/apps/org.example.Hello.png"
	)
	linked := func(rel string) bool {
		_, err := os.Lstat(filepath.Join(dir, "inst", "exports", rel))
		return err == nil
	}
	for i, c := range []struct {
		name  string
		files map[string]string
		link  string // the path warned of
	}{
		{"symlink to a root-only file", map[string]string{desktop: "symlink:" + secret, icon: "png"}, desktop},
		{"symlink to /dev/zero", map[string]string{desktop: "symlink:/dev/zero", icon: "png"}, desktop},
		{"symlinked directory", map[string]string{"share/applications": "symlink:" + filepath.Dir(secret), icon: "png"}, "share/applications"},
	} {
		republish(t, arbor, p, c.files)
		want := "warning: app/org.example.Hello/x86_64/1.0: export/" + c.link + ": a symbolic link, not followed or exported\n"
		if _, errOut, err := testutil.RunErr(arbor, "--repo="+inst, "update", "org.example.Hello"); err != nil || !strings.Contains(errOut, want) {
			t.Errorf("%s: update: %v, want success and %q:\n%s", c.name, err, want, errOut)
		}
		if linked(desktop) || !linked(icon) {
			t.Errorf("%s: exported the desktop file %v, the icon %v; want the icon only", c.name, linked(desktop), linked(icon))
		}
		if i == 0 {
			fresh := newInstallation(t, arbor, dir, "fresh-links", p.srv.URL)
			if _, errOut, err := testutil.RunErr(arbor, "--repo="+fresh, "install", "-y", "origin", "org.example.Hello"); err != nil || !strings.Contains(errOut, want) {
				t.Errorf("%s: install: %v, want success and %q:\n%s", c.name, err, want, errOut)
			}
		}
	}
	noSecret(t, dir)

	before := exportsState(t, arbor, inst)
	huge := "[Desktop Entry]\nType=Application\nExec=x\nComment=" + strings.Repeat("x", 5<<20) + "\n"
	for i, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"huge", map[string]string{desktop: huge}, "export/" + desktop + ": " + strconv.Itoa(len(huge)) + " bytes, over the limit of 4194304 bytes"},
		{"unparsable", map[string]string{desktop: "[Desktop Entry]\nType=Application\nExec=hello\nExec =sh -c x\n"}, "export/" + desktop + ": [Desktop Entry] Exec given twice"},
	} {
		republish(t, arbor, p, c.files)
		_, errOut, err := testutil.RunErr(arbor, "--repo="+inst, "update", "org.example.Hello")
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: update: %v, want an error with %q:\n%s", c.name, err, c.want, errOut)
		}
		if after := exportsState(t, arbor, inst); after != before {
			t.Errorf("%s: the failed update changed the installation:\n%s\nwas\n%s", c.name, after, before)
		}
		if i == 0 {
			// A first install of it leaves nothing at all.
			fresh := newInstallation(t, arbor, dir, "fresh", p.srv.URL)
			if _, errOut, err := testutil.RunErr(arbor, "--repo="+fresh, "install", "-y", "origin", "org.example.Hello"); err == nil ||
				!strings.Contains(errOut, c.want) {
				t.Errorf("install: %v, want an error with %q:\n%s", err, c.want, errOut)
			}
			if list := testutil.Run(t, arbor, "--repo="+fresh, "list"); list != "" {
				t.Errorf("the failed install left:\n%s", list)
			}
			for _, d := range []string{"app", "exports/share/applications", "exports/bin"} {
				if ents, _ := os.ReadDir(filepath.Join(dir, "fresh", d)); len(ents) > 0 {
					t.Errorf("the failed install left %s/%s", d, ents[0].Name())
				}
			}
			if refs := testutil.Run(t, arbor, "--repo="+fresh, "refs", "deploy"); refs != "" {
				t.Errorf("the failed install left refs:\n%s", refs)
			}
		}
	}
	noSecret(t, dir)

	// Its AppStream data and metadata carry terminal escapes too.
	testutil.WriteFile(t, filepath.Join(p.appBuild, "files/share/metainfo/org.example.Hello.metainfo.xml"),
		"<component type=\"desktop-application\"><id>org.example.Hello</id><name>Hello\u009b2J</name><summary>Greets \u202eeht dlrow</summary></component>\n", 0o644)
	meta := testutil.ReadFile(t, filepath.Join(p.appBuild, "metadata"))
	testutil.WriteFile(t, filepath.Join(p.appBuild, "metadata"), meta+"\n[Context]\nfilesystems=xdg-music/\x1b[8m;\n", 0o644)
	republish(t, arbor, p, map[string]string{
		desktop: "[Desktop Entry]\nType=Application\nName=Hello\nExec =sh -c 'echo pwned > /tmp/pwned' %U\nTryExec=/bin/sh\nExec[de]=sh -c id\n" +
			"Actions=evil;\n\n[Desktop Action evil]\nName=Evil\nExec=sh -c 'id'\n",
		"share/applications/org.gnome.Nautilus.desktop":         "[Desktop Entry]\nType=Application\nName=Files\nExec=sh\n",
		"share/dbus-1/services/org.example.Hello.service":       "[D-BUS Service]\nName=org.example.Hello\nExec=/bin/sh -c id\nSystemdService=evil.service\n",
		"share/dbus-1/services/org.freedesktop.Secrets.service": "[D-BUS Service]\nName=org.freedesktop.Secrets\nExec=/bin/sh\n",
		"lib/systemd/user/org.example.Hello.service":            "[Service]\nExecStart=/bin/sh -c id\n",
		"share/mime/packages/org.example.Hello.xml":             "<mime-info/>\n",
	})
	// The release asks for a new filesystem: without a terminal the
	// update is held back and says so, the escape shown escaped; -y
	// grants it.
	if out := testutil.Run(t, arbor, "--repo="+inst, "update", "org.example.Hello"); !strings.Contains(out, "held back") ||
		!strings.Contains(out, `\x1b[8m in the Music folder`) || strings.Contains(out, "\x1b") {
		t.Errorf("an update asking for new permissions printed:\n%s", out)
	}
	testutil.Run(t, arbor, "--repo="+inst, "update", "-y", "org.example.Hello")
	exports := filepath.Join(dir, "inst", "exports")
	var listed []string
	filepath.WalkDir(exports, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(exports, p)
			listed = append(listed, rel)
		}
		return nil
	})
	sort.Strings(listed)
	if got, want := strings.Join(listed, " "), "bin/org.example.Hello share/applications/org.example.Hello.desktop share/dbus-1/services/org.example.Hello.service"; got != want {
		t.Errorf("exported %s, want %s", got, want)
	}
	kf, err := keyfile.ParseStrict([]byte(testutil.ReadFile(t, filepath.Join(exports, desktop))))
	testutil.Must(t, err)
	for _, g := range kf.Groups() {
		for _, k := range kf.Keys(g) {
			v, _ := kf.Get(g, k)
			if keyfile.BaseKey(k) == "Exec" && (k != "Exec" || !strings.HasPrefix(v, arbor+" --repo=")) || k == "TryExec" {
				t.Errorf("[%s] %s=%s", g, k, v)
			}
		}
	}
	if svc := testutil.ReadFile(t, filepath.Join(exports, "share/dbus-1/services/org.example.Hello.service")); strings.Contains(svc, "SystemdService") ||
		!strings.Contains(svc, "\nExec="+arbor+" --repo=") {
		t.Errorf("the exported service:\n%s", svc)
	}
	if out := testutil.Run(t, filepath.Join(exports, "bin/org.example.Hello")); !strings.HasPrefix(out, "hello, world") {
		t.Errorf("the launcher printed %q", out)
	}
	for _, args := range [][]string{{"info", "org.example.Hello"}, {"search", "hello"}} {
		out := testutil.Run(t, arbor, append([]string{"--repo=" + inst}, args...)...)
		if r, bad := testutil.TerminalControl(out); bad || !strings.Contains(out, `\u`) && !strings.Contains(out, `\x1b`) {
			t.Errorf("%s printed U+%04X raw, or nothing escaped:\n%q", args[0], r, out)
		}
	}
	testutil.Run(t, arbor, "--repo="+inst, "uninstall", "org.example.Hello")
	if ents, _ := os.ReadDir(filepath.Join(exports, "share/dbus-1/services")); len(ents) > 0 {
		t.Errorf("uninstall left %s", ents[0].Name())
	}
}
