package exports

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, data := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(data, "symlink:"):
			err = os.Symlink(strings.TrimPrefix(data, "symlink:"), p)
		case data == "fifo":
			err = unix.Mkfifo(p, 0o644)
		default:
			err = os.WriteFile(p, []byte(data), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

const goodDesktop = "[Desktop Entry]\nType=Application\nName=Hello\nName[de]=Hallo\nExec=hello %U\nTryExec=hello\nTryExec[de]=/bin/sh\n" +
	"Type[de]=Link\nX-Flatpak=org.other.App\nX-KDE-SubstituteUID=true\nDBusActivatable=true\nActions=new;\n\n" +
	"[Desktop Action new]\nName=New\nExec =sh -c 'touch /tmp/pwned'\n"

// What is exported of a tree: the allowed directories and names only,
// each file of its kind rewritten; anything else is left out.
func TestBuildExportsOnlyWhatIsAllowed(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeTree(t, src, map[string]string{
		"share/applications/org.example.Hello.desktop":                     goodDesktop,
		"share/applications/org.example.Hello-extra.desktop":               "[Desktop Entry]\nType=Application\nName=X\nExec=x\n",
		"share/applications/org.example.HelloWorld.desktop":                "[Desktop Entry]\nType=Application\nName=X\nExec=x\n",
		"share/applications/other.desktop":                                 "[Desktop Entry]\nType=Application\nName=X\nExec=x\n",
		"share/applications/sub/org.example.Hello.desktop":                 "[Desktop Entry]\nType=Application\nName=X\nExec=x\n",
		"share/applications/org.example.Hello.txt":                         "not a desktop file",
		"share/dbus-1/services/org.example.Hello.service":                  "[D-BUS Service]\nName=org.example.Hello\nExec=/app/bin/hello --gapplication-service\nSystemdService=evil.service\nUser=root\n",
		"share/dbus-1/services/org.example.Hello.Tool.service":             "[D-BUS Service]\nName=org.example.Hello.Tool\nExec=tool\n",
		"share/dbus-1/services/org.example.Hello-x.service":                "[D-BUS Service]\nName=org.example.Hello-x\nExec=x\n",
		"share/dbus-1/services/org.freedesktop.Secrets.service":            "[D-BUS Service]\nName=org.freedesktop.Secrets\nExec=x\n",
		"share/dbus-1/system-services/org.example.Hello.service":           "[D-BUS Service]\nName=org.example.Hello\nExec=x\nUser=root\n",
		"lib/systemd/user/org.example.Hello.service":                       "[Service]\nExecStart=/bin/sh -c evil\n",
		"share/systemd/user/org.example.Hello.service":                     "[Service]\nExecStart=/bin/sh -c evil\n",
		"share/mime/packages/org.example.Hello.xml":                        "<mime-info/>",
		"share/icons/hicolor/48x48/apps/org.example.Hello.png":             "png",
		"share/icons/hicolor/scalable/apps/org.example.Hello-symbolic.svg": "<svg/>",
		"share/icons/hicolor/48x48/apps/org.example.Hello.sh":              "#!/bin/sh",
		"share/metainfo/org.example.Hello.metainfo.xml":                    "<component/>",
		"share/gnome-shell/search-providers/org.example.Hello.search-provider.ini": "[Shell Search Provider]\nDesktopId=org.example.Hello.desktop\n" +
			"BusName=org.example.Hello.SearchProvider\nObjectPath=/org/example/Hello/SearchProvider\nVersion=2\nDefaultDisabled=false\n",
		"bin/org.example.Hello": "#!/bin/sh\nevil\n",
	})
	l := testLauncher(t, "/usr/bin/arbor")
	got, err := Build(context.Background(), src, dst, l)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"share/applications/org.example.Hello-extra.desktop",
		"share/applications/org.example.Hello.desktop",
		"share/dbus-1/services/org.example.Hello.Tool.service",
		"share/dbus-1/services/org.example.Hello.service",
		"share/gnome-shell/search-providers/org.example.Hello.search-provider.ini",
		"share/icons/hicolor/48x48/apps/org.example.Hello.png",
		"share/icons/hicolor/scalable/apps/org.example.Hello-symbolic.svg",
		"share/metainfo/org.example.Hello.metainfo.xml",
	}
	if !slices.Equal(got, want) {
		t.Errorf("exported %q\nwant %q", got, want)
	}
	var all []string
	filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			all = append(all, rel)
		}
		return err
	})
	if slices.Sort(all); !slices.Equal(all, want) {
		t.Errorf("written %q", all)
	}
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pre := `Exec=/usr/bin/arbor "--repo=/var/lib/my 100%% repo" run --branch=1.0 `
	desktop := read("share/applications/org.example.Hello.desktop")
	for _, want := range []string{"\n" + pre + "--command=hello org.example.Hello %U\n", "\n" + pre + `--command=sh org.example.Hello -c "touch /tmp/pwned"` + "\n",
		"\nName[de]=Hallo\n", "\nX-Arbor=org.example.Hello\n", "\nDBusActivatable=true\n"} {
		if !strings.Contains(desktop, want) {
			t.Errorf("the desktop file lacks %q:\n%s", want, desktop)
		}
	}
	for _, not := range []string{"TryExec", "Type[de]", "X-Flatpak", "X-KDE-SubstituteUID", "Exec =", "\nExec=sh"} {
		if strings.Contains(desktop, not) {
			t.Errorf("the desktop file has %q:\n%s", not, desktop)
		}
	}
	if extra := read("share/applications/org.example.Hello-extra.desktop"); strings.Contains(extra, "DBusActivatable") {
		t.Errorf("no service, yet:\n%s", extra)
	}
	svc := read("share/dbus-1/services/org.example.Hello.service")
	if want := "[D-BUS Service]\nName=org.example.Hello\n" + strings.ReplaceAll(pre, "%%", "%") + "--command=/app/bin/hello org.example.Hello --gapplication-service\n"; svc != want {
		t.Errorf("service:\n%s\nwant\n%s", svc, want)
	}
	if sp := read("share/gnome-shell/search-providers/org.example.Hello.search-provider.ini"); !strings.Contains(sp, "\nDefaultDisabled=true\n") ||
		!strings.Contains(sp, "\nBusName=org.example.Hello.SearchProvider\n") {
		t.Errorf("search provider:\n%s", sp)
	}
	if icon := read("share/icons/hicolor/48x48/apps/org.example.Hello.png"); icon != "png" {
		t.Errorf("icon %q", icon)
	}
}

// A tree with one bad export fails as a whole, naming the file.
func TestBuildRefuses(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("[Desktop Entry]\nType=Application\nName=TOPSECRET\nExec=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := "[Desktop Entry]\nType=Application\nName=x\nExec=x\nComment=" + strings.Repeat("x", MaxFileBytes) + "\n"
	const d = "share/applications/org.example.Hello.desktop"
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"symlink to a host file", map[string]string{d: "symlink:" + secret}, "export/" + d + ": a symbolic link"},
		{"symlink to /dev/zero", map[string]string{d: "symlink:/dev/zero"}, "export/" + d + ": a symbolic link"},
		{"symlink not exported", map[string]string{"share/applications/README": "symlink:/etc/passwd"}, "export/share/applications/README: a symbolic link"},
		{"FIFO", map[string]string{d: "fifo"}, "export/" + d + ": a symbolic link or special file"},
		{"symlinked directory", map[string]string{"share/applications": "symlink:" + outside}, "export/share/applications: a symbolic link is on the way"},
		{"symlinked share", map[string]string{"share": "symlink:" + outside}, "export/share/dbus-1/services: a symbolic link is on the way"},
		{"symlinked icon theme", map[string]string{"share/icons/hicolor": "symlink:" + outside}, "export/share/icons/hicolor: a symbolic link"},
		{"huge", map[string]string{d: big}, "export/" + d + ": " + strconv.Itoa(len(big)) + " bytes, over the limit of 4194304 bytes"},
		{"unparsable", map[string]string{d: "[Desktop Entry]\nExec=a\nExec =b\n"}, "export/" + d + ": [Desktop Entry] Exec given twice"},
		{"unterminated quote", map[string]string{d: "[Desktop Entry]\nType=Application\nExec=sh -c 'x\n"}, "export/" + d + ": [Desktop Entry] Exec"},
		{"not an application", map[string]string{d: "[Desktop Entry]\nType=Link\nURL=file:///etc/shadow\n"}, "export/" + d + `: Type="Link"`},
		{"service of another name", map[string]string{"share/dbus-1/services/org.example.Hello.service": "[D-BUS Service]\nName=org.freedesktop.Secrets\nExec=x\n"},
			`export/share/dbus-1/services/org.example.Hello.service: [D-BUS Service] Name="org.freedesktop.Secrets"`},
		{"search provider of another bus", map[string]string{d: "[Desktop Entry]\nType=Application\nExec=x\n",
			"share/gnome-shell/search-providers/org.example.Hello.ini": "[Shell Search Provider]\nDesktopId=org.example.Hello.desktop\nBusName=org.gnome.Nautilus\nObjectPath=/\n"},
			"BusName=\"org.gnome.Nautilus\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			writeTree(t, src, c.files)
			_, err := Build(context.Background(), src, dst, testLauncher(t, "/usr/bin/arbor"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			filepath.WalkDir(dst, func(p string, e os.DirEntry, err error) error {
				if b, _ := os.ReadFile(p); strings.Contains(string(b), "TOPSECRET") {
					t.Errorf("%s holds the host file", p)
				}
				return nil
			})
		})
	}
}

func TestAllowed(t *testing.T) {
	for rel, want := range map[string]bool{
		"share/applications/org.example.Hello.desktop":           true,
		"share/applications/org.example.Hello.Sub.desktop":       true,
		"share/applications/org.example.Hello-x.desktop":         true,
		"share/applications/org.example.HelloX.desktop":          false,
		"share/applications/org.example.Hell.desktop":            false,
		"share/applications/org.example.Hello.desktop.in":        false,
		"share/dbus-1/services/org.example.Hello.service":        true,
		"share/dbus-1/services/org.example.Hello-x.service":      false, // not a bus name under the id
		"share/dbus-1/services/org.example.Hello.1x.service":     false,
		"share/icons/a/b/c/org.example.Hello.svgz":               true,
		"share/icons/org.example.Hello.exe":                      false,
		"share/metainfo/org.example.Hello.appdata.xml":           true,
		"share/metainfo/releases/org.example.Hello.releases.xml": true,
		"lib/systemd/user/org.example.Hello.service":             false,
		"share/mime/packages/org.example.Hello.xml":              false,
		"bin/org.example.Hello":                                  false,
	} {
		if got := Allowed(rel, "org.example.Hello"); got != want {
			t.Errorf("%s: %v, want %v", rel, got, want)
		}
	}
}
