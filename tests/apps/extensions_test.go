package apps

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"arbor/tests/nginx"
	"arbor/tests/testutil"
)

// extensionRepo publishes, at dir/repo served by nginx, a runtime and an
// app with extension points of every kind, and their extensions:
//   - org.test.Ext.Lib (version=2): a shared library the app's program
//     links with, found through add-ld-path;
//   - org.test.Ext.Plugin.A and .B below a subdirectories point, with
//     merge-dirs=conf.d;
//   - org.test.Ext.Locale (autodelete), org.test.Ext.Debug (installed
//     only on demand), org.test.Ext.Never (download-if a module no host
//     has);
//   - the runtime's org.test.Platform.GL.default (active-gl-driver) and
//     .GL.nvidia-0-0 (no host's driver).
//
// It returns the URL.
func extensionRepo(t *testing.T, arbor, dir string) string {
	t.Helper()
	testutil.NeedTool(t, "gcc")
	src := filepath.Join(dir, "src")
	testutil.WriteFile(t, filepath.Join(src, "greet.c"), "const char *greet(void) { return \"greetings from the Lib extension\"; }\n", 0o644)
	testutil.WriteFile(t, filepath.Join(src, "greeter.c"), "#include <stdio.h>\nconst char *greet(void);\nint main(void) { puts(greet()); return 0; }\n", 0o644)
	gcc := func(args ...string) {
		cmd := exec.Command("gcc", args...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	gcc("-shared", "-fPIC", "-Wl,-soname,libgreet.so.1", "-o", "libgreet.so.1", "greet.c")
	gcc("-o", "greeter", "greeter.c", "-L.", "-l:libgreet.so.1")

	repo := filepath.Join(dir, "repo")
	testutil.Run(t, arbor, "--repo="+repo, "init", "--mode=archive")
	runtime := func(name, branch, metadata string, files map[string]string) {
		b := filepath.Join(dir, "build", name)
		testutil.WriteFile(t, filepath.Join(b, "metadata"), "[Runtime]\nname="+name+"\n"+metadata, 0o644)
		testutil.Must(t, os.MkdirAll(filepath.Join(b, "usr"), 0o755))
		testutil.Must(t, os.MkdirAll(filepath.Join(b, "files"), 0o755))
		for p, content := range files {
			if strings.HasSuffix(p, "/") {
				testutil.Must(t, os.MkdirAll(filepath.Join(b, "usr", p), 0o755))
				continue
			}
			testutil.WriteFile(t, filepath.Join(b, "usr", p), content, 0o755)
		}
		testutil.Run(t, arbor, "build-export", "--runtime", repo, b, branch)
	}
	ofApp := "[ExtensionOf]\nref=app/org.test.Ext/x86_64/1.0\n"
	ofRuntime := "[ExtensionOf]\nref=runtime/org.test.Platform/x86_64/1.0\n"

	rt := filepath.Join(dir, "build", "org.test.Platform")
	testutil.WriteFile(t, filepath.Join(rt, "metadata"), "[Runtime]\nname=org.test.Platform\nruntime=org.test.Platform/x86_64/1.0\n\n"+
		"[Extension org.test.Platform.GL]\ndirectory=lib/GL\nsubdirectories=true\nadd-ld-path=lib\nenable-if=active-gl-driver\ndownload-if=active-gl-driver\nautoprune-unless=active-gl-driver\n", 0o644)
	testutil.HostRuntime(t, filepath.Join(rt, "usr"), "sh", "cat", "ls", "readlink")
	testutil.Must(t, os.MkdirAll(filepath.Join(rt, "usr/lib/GL"), 0o755))
	testutil.Must(t, os.MkdirAll(filepath.Join(rt, "files"), 0o755))
	testutil.Run(t, arbor, "build-export", "--runtime", repo, rt, "1.0")
	runtime("org.test.Platform.GL.default", "1.0", ofRuntime, map[string]string{"lib/": "", "README": "the default GL driver\n"})
	runtime("org.test.Platform.GL.nvidia-0-0", "1.0", ofRuntime, map[string]string{"README": "a driver no host has\n"})

	app := filepath.Join(dir, "build", "org.test.Ext")
	testutil.Run(t, arbor, "build-init", app, "org.test.Ext", "org.test.Platform", "org.test.Platform", "1.0")
	testutil.WriteFile(t, filepath.Join(app, "files/bin/show"), `#!/bin/sh
greeter
for p in A B; do cat /app/plugins/$p/README; done
ls /app/plugins/conf.d
readlink /app/plugins/conf.d/a.conf
cat /app/plugins/conf.d/b.conf
cat /app/share/runtime/locale/README
cat /usr/lib/GL/default/README
echo "debug: $(ls /app/lib/debug)"
echo "GL: $(ls /usr/lib/GL)"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
`, 0o755)
	data, err := os.ReadFile(filepath.Join(src, "greeter"))
	testutil.Must(t, err)
	testutil.WriteFile(t, filepath.Join(app, "files/bin/greeter"), string(data), 0o755)
	for _, d := range []string{"files/lib/greet", "files/plugins", "files/share/runtime/locale", "files/lib/debug", "files/never"} {
		testutil.Must(t, os.MkdirAll(filepath.Join(app, d), 0o755))
	}
	testutil.Run(t, arbor, "build-finish", app, "--command=show")
	md := testutil.ReadFile(t, filepath.Join(app, "metadata"))
	md += "\n[Extension org.test.Ext.Lib]\ndirectory=lib/greet\nadd-ld-path=lib\nversion=2\n" +
		"\n[Extension org.test.Ext.Plugin]\ndirectory=plugins\nsubdirectories=true\nmerge-dirs=conf.d;\n" +
		"\n[Extension org.test.Ext.Locale]\ndirectory=share/runtime/locale\nautodelete=true\n" +
		"\n[Extension org.test.Ext.Debug]\ndirectory=lib/debug\nautodelete=true\nno-autodownload=true\n" +
		"\n[Extension org.test.Ext.Never]\ndirectory=never\ndownload-if=have-kernel-module-arbor_no_such_module\n" +
		"\n[Extension org.test.Ext.Climbs]\ndirectory=../../etc\n"
	testutil.WriteFile(t, filepath.Join(app, "metadata"), md, 0o644)
	testutil.Run(t, arbor, "build-export", repo, app, "1.0")

	lib, err := os.ReadFile(filepath.Join(src, "libgreet.so.1"))
	testutil.Must(t, err)
	runtime("org.test.Ext.Lib", "2", ofApp, map[string]string{"lib/libgreet.so.1": string(lib)})
	runtime("org.test.Ext.Plugin.A", "1.0", ofApp, map[string]string{"README": "plugin A\n", "conf.d/a.conf": "a=1\n"})
	runtime("org.test.Ext.Plugin.B", "1.0", ofApp+"priority=1\n", map[string]string{"README": "plugin B\n", "conf.d/b.conf": "b=2\n"})
	runtime("org.test.Ext.Locale", "1.0", ofApp, map[string]string{"README": "the app's translations\n"})
	runtime("org.test.Ext.Debug", "1.0", ofApp, map[string]string{"README": "debug info\n"})
	runtime("org.test.Ext.Never", "1.0", ofApp, map[string]string{"README": "never installed\n"})
	testutil.Run(t, arbor, "build-update-repo", repo)
	srv, err := nginx.Start(filepath.Join(dir, "nginx"), repo)
	testutil.Must(t, err)
	t.Cleanup(srv.Stop)
	return srv.URL
}

// The refs an install of org.test.Ext brings, on any host without the
// nvidia driver.
var extensionInstall = []string{
	"app/org.test.Ext/x86_64/1.0",
	"runtime/org.test.Ext.Lib/x86_64/2",
	"runtime/org.test.Ext.Locale/x86_64/1.0",
	"runtime/org.test.Ext.Plugin.A/x86_64/1.0",
	"runtime/org.test.Ext.Plugin.B/x86_64/1.0",
	"runtime/org.test.Platform.GL.default/x86_64/1.0",
	"runtime/org.test.Platform/x86_64/1.0",
}

// What the app prints, in arbor and in flatpak alike.
const extensionOutput = `greetings from the Lib extension
plugin A
plugin B
a.conf
b.conf
/app/plugins/A/conf.d/a.conf
b=2
the app's translations
the default GL driver
debug: 
GL: default
LD_LIBRARY_PATH=/app/lib/greet/lib:/app/lib:/usr/lib/GL/default/lib
`

// Extensions of an app and of its runtime are installed with the app
// (lazily: mounted, nothing checked out), as flatpak installs them from
// the same repository, and mounted where their points say: the app finds
// the library one adds, the plugins below a subdirectories point, their
// merged directory, the locale, and the runtime's GL driver; what flatpak
// would not install is not, and a point that climbs out is dropped with a
// warning. Extensions are needed while what they extend is installed,
// unless their autoprune-unless condition fails; uninstalling the app
// takes its autodelete extensions with it.
func TestExtensions(t *testing.T) {
	testutil.Privileged(t)
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	url := extensionRepo(t, arbor, dir)
	inst := newInstallation(t, arbor, dir, "inst", url)
	install := testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "org.test.Ext")
	var list []struct {
		Ref         string `json:"ref"`
		ExtensionOf string `json:"extension_of"`
	}
	testutil.Must(t, json.Unmarshal([]byte(testutil.Run(t, arbor, "--repo="+inst, "list", "--all", "--json")), &list))
	var got []string
	for _, l := range list {
		got = append(got, l.Ref)
		if strings.Contains(l.Ref, ".Ext.") && l.ExtensionOf != "app/org.test.Ext/x86_64/1.0" {
			t.Errorf("list: %s is shown as an extension of %q", l.Ref, l.ExtensionOf)
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(extensionInstall, "\n") {
		t.Errorf("installed:\n%s\nwant:\n%s\ninstall said:\n%s", strings.Join(got, "\n"), strings.Join(extensionInstall, "\n"), install)
	}
	// Lazily: no extension is checked out.
	for _, ref := range extensionInstall[1:] {
		deployed := filepath.Join(filepath.Dir(inst), ref)
		if _, err := os.Lstat(filepath.Join(deployed, "active")); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
		matches, _ := filepath.Glob(filepath.Join(deployed, "*", "files"))
		if len(matches) != 0 {
			t.Errorf("%s was checked out: %v", ref, matches)
		}
	}

	cmd := exec.Command(arbor, "--repo="+inst, "run", "org.test.Ext")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, out, stderr.String())
	}
	if string(out) != extensionOutput {
		t.Errorf("the app printed:\n%s\nwant:\n%s", out, extensionOutput)
	}
	if !strings.Contains(stderr.String(), "[Extension org.test.Ext.Climbs]: ignored: directory") {
		t.Errorf("no warning for the point that climbs out:\n%s", stderr.String())
	}
	info := testutil.Run(t, arbor, "--repo="+inst, "run", "--command=cat", "org.test.Ext", "/.flatpak-info")
	for _, want := range []string{"app-extensions=", "org.test.Ext.Lib=", "org.test.Ext.Plugin.A=", "runtime-extensions=org.test.Platform.GL.default="} {
		if !strings.Contains(info, want) {
			t.Errorf("/.flatpak-info lacks %q:\n%s", want, info)
		}
	}

	// Extensions are needed while their app is installed; its autodelete
	// ones go with it, and the rest are unused once it is gone.
	// A driver installed by hand that this host does not use is unused
	// (autoprune-unless).
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "runtime/org.test.Platform.GL.nvidia-0-0/x86_64/1.0")
	testutil.Run(t, arbor, "--repo="+inst, "uninstall", "-y", "--unused")
	if l := testutil.Run(t, arbor, "--repo="+inst, "list", "--all"); strings.Count(l, "\n") != len(extensionInstall) {
		t.Errorf("uninstall --unused removed what the app needs:\n%s", l)
	}
	testutil.Run(t, arbor, "--repo="+inst, "uninstall", "-y", "org.test.Ext")
	l := testutil.Run(t, arbor, "--repo="+inst, "list", "--all")
	if strings.Contains(l, "org.test.Ext.Locale") || strings.HasPrefix(l, "app/") || !strings.Contains(l, "org.test.Ext.Plugin.A") {
		t.Errorf("after the app's uninstall:\n%s", l)
	}

	// flatpak installs the same refs from the same repository and its
	// run prints the same.
	fp := newFlatpak(t, dir)
	fp.run(t, "remote-add", "--user", "--no-gpg-verify", "origin", url)
	fp.run(t, "install", "--user", "-y", "--noninteractive", "origin", "app/org.test.Ext/x86_64/1.0")
	fpList := strings.Fields(fp.run(t, "list", "--user", "--all", "--columns=ref"))
	var fpRefs []string
	for _, r := range fpList {
		kind := "runtime/"
		if r == "org.test.Ext/x86_64/1.0" {
			kind = "app/"
		}
		fpRefs = append(fpRefs, kind+r)
	}
	sort.Strings(fpRefs)
	if strings.Join(fpRefs, "\n") != strings.Join(extensionInstall, "\n") {
		t.Errorf("flatpak installed:\n%s\narbor:\n%s", strings.Join(fpRefs, "\n"), strings.Join(extensionInstall, "\n"))
	}
	if out := fp.run(t, "run", "org.test.Ext"); out != extensionOutput {
		t.Errorf("flatpak's run printed:\n%s\nwant:\n%s", out, extensionOutput)
	}
}
