package exports

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// memTree is an export tree in memory, as a Source. A file's value is
// its contents, or "symlink:TARGET" for a link, "fifo" for a special
// file, "size:N" for a regular file of N bytes. Build must never read
// anything but a regular file: a Read of one fails the test.
type memTree struct {
	t      *testing.T
	files  map[string]string
	visits int
}

func newTree(t *testing.T, files map[string]string) *memTree { return &memTree{t: t, files: files} }

func (m *memTree) Walk(ctx context.Context, visit func(Entry) error) error {
	dirs := map[string]bool{".": true}
	for rel := range m.files {
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	kids := map[string][]string{}
	for p := range dirs {
		if p != "." {
			kids[path.Dir(p)] = append(kids[path.Dir(p)], p)
		}
	}
	for p := range m.files {
		kids[path.Dir(p)] = append(kids[path.Dir(p)], p)
	}
	var walk func(dir string) error
	walk = func(dir string) error {
		names := kids[dir]
		sort.Strings(names)
		for _, p := range names {
			m.visits++
			err := visit(memEntry{m: m, path: p, dir: dirs[p]})
			switch {
			case dirs[p] && err == fs.SkipDir:
			case err != nil:
				return err
			case dirs[p]:
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(".")
}

type memEntry struct {
	m    *memTree
	path string
	dir  bool
}

func (e memEntry) Path() string { return e.path }

func (e memEntry) Type() FileType {
	v := e.m.files[e.path]
	switch {
	case e.dir:
		return Directory
	case strings.HasPrefix(v, "symlink:"):
		return Symlink
	case v == "fifo":
		return Special
	}
	return Regular
}

func (e memEntry) Size() int64 {
	if n, ok := strings.CutPrefix(e.m.files[e.path], "size:"); ok {
		i, _ := strconv.ParseInt(n, 10, 64)
		return i
	}
	return int64(len(e.m.files[e.path]))
}

func (e memEntry) Read(_ context.Context, limit int64) ([]byte, error) {
	if e.Type() != Regular {
		e.m.t.Errorf("Build read %s, which is not a regular file", e.path)
		return nil, errors.New("not a regular file")
	}
	if e.Size() > limit {
		return nil, fmt.Errorf("over the limit of %d bytes", limit)
	}
	if strings.HasPrefix(e.m.files[e.path], "size:") {
		return make([]byte, e.Size()), nil
	}
	return []byte(e.m.files[e.path]), nil
}

// written lists the files under dir.
func written(dir string) []string {
	var all []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			all = append(all, filepath.ToSlash(rel))
		}
		return err
	})
	sort.Strings(all)
	return all
}

const goodDesktop = "[Desktop Entry]\nType=Application\nName=Hello\nName[de]=Hallo\nExec=hello %U\nTryExec=hello\nTryExec[de]=/bin/sh\n" +
	"Type[de]=Link\nX-Flatpak=org.other.App\nX-KDE-SubstituteUID=true\nDBusActivatable=true\nActions=new;\n\n" +
	"[Desktop Action new]\nName=New\nExec =sh -c 'touch /tmp/pwned'\n"

// What is exported of a tree: the allowed directories and names only,
// each file of its kind rewritten; anything else is left out.
func TestBuildExportsOnlyWhatIsAllowed(t *testing.T) {
	dst := t.TempDir()
	src := newTree(t, map[string]string{
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
		"share/icons/1/2/3/4/5/6/7/8/org.example.Hello.png":                "as deep as allowed",
		"share/metainfo/org.example.Hello.metainfo.xml":                    "<component/>",
		"share/gnome-shell/search-providers/org.example.Hello.search-provider.ini": "[Shell Search Provider]\nDesktopId=org.example.Hello.desktop\n" +
			"BusName=org.example.Hello.SearchProvider\nObjectPath=/org/example/Hello/SearchProvider\nVersion=2\nDefaultDisabled=false\n",
		"bin/org.example.Hello": "#!/bin/sh\nevil\n",
	})
	l := testLauncher(t, "/usr/bin/arbor")
	res, err := Build(context.Background(), src, dst, l)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Files
	if len(res.Warnings) > 0 {
		t.Errorf("warnings %q", res.Warnings)
	}
	want := []string{
		"share/applications/org.example.Hello-extra.desktop",
		"share/applications/org.example.Hello.desktop",
		"share/dbus-1/services/org.example.Hello.Tool.service",
		"share/dbus-1/services/org.example.Hello.service",
		"share/gnome-shell/search-providers/org.example.Hello.search-provider.ini",
		"share/icons/1/2/3/4/5/6/7/8/org.example.Hello.png",
		"share/icons/hicolor/48x48/apps/org.example.Hello.png",
		"share/icons/hicolor/scalable/apps/org.example.Hello-symbolic.svg",
		"share/metainfo/org.example.Hello.metainfo.xml",
	}
	if !slices.Equal(got, want) {
		t.Errorf("exported %q\nwant %q", got, want)
	}
	if all := written(dst); !slices.Equal(all, want) {
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

// A tree with one bad export fails as a whole, naming the file; one over
// a limit fails in the walk, having written nothing and looked at no more
// names than the limit allows.
func TestBuildRefuses(t *testing.T) {
	big := "[Desktop Entry]\nType=Application\nName=x\nExec=x\nComment=" + strings.Repeat("x", MaxFileBytes) + "\n"
	const d = "share/applications/org.example.Hello.desktop"
	icons := func(n int, name func(i int) string, data string) map[string]string {
		m := map[string]string{}
		for i := 0; i < n; i++ {
			m[fmt.Sprintf("share/icons/hicolor/%03d/apps/%s", i/100, name(i))] = data
		}
		return m
	}
	icon := func(i int) string { return fmt.Sprintf("org.example.Hello.I%d.png", i) }
	for _, c := range []struct {
		name    string
		files   map[string]string
		want    string
		nothing bool // nothing written
	}{
		{"huge", map[string]string{d: big}, "export/" + d + ": " + strconv.Itoa(len(big)) + " bytes, over the limit of 4194304 bytes", true},
		{"too many files", icons(MaxFiles+1, icon, "png"), "more than 4096 exported files", true},
		{"too many names", icons(MaxNames+1, func(i int) string { return fmt.Sprintf("other%d.png", i) }, "png"),
			"more than " + strconv.Itoa(MaxNames) + " names where exports are looked for", true},
		{"too many bytes", icons(MaxTotalBytes/MaxFileBytes+1, icon, "size:"+strconv.Itoa(MaxFileBytes)),
			"the exported files together are over the limit of 67108864 bytes", true},
		{"too deep", map[string]string{"share/icons/1/2/3/4/5/6/7/8/9/org.example.Hello.png": "png"},
			"export/share/icons/1/2/3/4/5/6/7/8/9: more than 8 directories deep", true},
		{"unparsable", map[string]string{d: "[Desktop Entry]\nExec=a\nExec =b\n"}, "export/" + d + ": [Desktop Entry] Exec given twice", false},
		{"unterminated quote", map[string]string{d: "[Desktop Entry]\nType=Application\nExec=sh -c 'x\n"}, "export/" + d + ": [Desktop Entry] Exec", false},
		{"not an application", map[string]string{d: "[Desktop Entry]\nType=Link\nURL=file:///etc/shadow\n"}, "export/" + d + `: Type="Link"`, false},
		{"service of another name", map[string]string{"share/dbus-1/services/org.example.Hello.service": "[D-BUS Service]\nName=org.freedesktop.Secrets\nExec=x\n"},
			`export/share/dbus-1/services/org.example.Hello.service: [D-BUS Service] Name="org.freedesktop.Secrets"`, false},
		{"search provider of another bus", map[string]string{d: "[Desktop Entry]\nType=Application\nExec=x\n",
			"share/gnome-shell/search-providers/org.example.Hello.ini": "[Shell Search Provider]\nDesktopId=org.example.Hello.desktop\nBusName=org.gnome.Nautilus\nObjectPath=/\n"},
			"BusName=\"org.gnome.Nautilus\"", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := t.TempDir()
			src := newTree(t, c.files)
			_, err := Build(context.Background(), src, dst, testLauncher(t, "/usr/bin/arbor"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			if w := written(dst); c.nothing && len(w) > 0 {
				t.Errorf("wrote %d files, %s first", len(w), w[0])
			}
			if src.visits > MaxNames+1 {
				t.Errorf("looked at %d names", src.visits)
			}
		})
	}
}

// A link or special file where exports are looked for is left out with a
// warning naming it, never read, and the rest is exported; one elsewhere
// is left out without a word.
func TestBuildLeavesOutLinks(t *testing.T) {
	const d, icon = "share/applications/org.example.Hello.desktop", "share/icons/hicolor/48x48/apps/org.example.Hello.png"
	link := func(p string) string { return "export/" + p + ": a symbolic link, not followed or exported" }
	many := map[string]string{icon: "png"}
	var manyWarned []string
	for i := 0; i < maxWarnings+5; i++ {
		p := fmt.Sprintf("share/icons/hicolor/48x48/apps/org.example.Hello.L%02d.png", i)
		many[p] = "symlink:/dev/zero"
		if i < maxWarnings {
			manyWarned = append(manyWarned, link(p))
		}
	}
	manyWarned = append(manyWarned, "and 5 more links or special files, not exported")
	for _, c := range []struct {
		name  string
		files map[string]string
		warn  []string
		want  []string // exported
	}{
		{"symlink to a host file", map[string]string{d: "symlink:/root/secret", icon: "png"}, []string{link(d)}, []string{icon}},
		{"symlink to /dev/zero", map[string]string{d: "symlink:/dev/zero", icon: "png"}, []string{link(d)}, []string{icon}},
		{"symlink not exported", map[string]string{"share/applications/README": "symlink:/etc/passwd", icon: "png"},
			[]string{link("share/applications/README")}, []string{icon}},
		{"FIFO", map[string]string{d: "fifo", icon: "png"}, []string{"export/" + d + ": a special file, not exported"}, []string{icon}},
		{"symlinked directory", map[string]string{"share/applications": "symlink:/etc", icon: "png"},
			[]string{link("share/applications")}, []string{icon}},
		{"symlinked share", map[string]string{"share": "symlink:/usr/share"}, []string{link("share")}, nil},
		{"symlinked icon theme", map[string]string{"share/icons/hicolor": "symlink:/usr/share/icons/hicolor", d: "[Desktop Entry]\nType=Application\nExec=x\n"},
			[]string{link("share/icons/hicolor")}, []string{d}},
		{"links elsewhere", map[string]string{"bin/org.example.Hello": "symlink:/bin/sh", "share/mime/packages/org.example.Hello.xml": "symlink:/etc/shadow",
			"share/applications/sub/org.example.Hello.desktop": "symlink:/etc/shadow", icon: "png"}, nil, []string{icon}},
		{"many links", many, manyWarned, []string{icon}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := t.TempDir()
			res, err := Build(context.Background(), newTree(t, c.files), dst, testLauncher(t, "/usr/bin/arbor"))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Warnings, c.warn) {
				t.Errorf("warnings %q\nwant %q", res.Warnings, c.warn)
			}
			if !slices.Equal(res.Files, c.want) || !slices.Equal(written(dst), c.want) {
				t.Errorf("exported %q, wrote %q, want %q", res.Files, written(dst), c.want)
			}
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
