package sandbox

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store/keyfile"
	"arbor/tests/testutil"
)

func mustContext(t *testing.T, text string) *Context {
	t.Helper()
	kf, err := keyfile.ParseBytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseContext(kf)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The layering example of flatpak-facts 1.4: an app's metadata, then a
// user override.
func TestContextLayering(t *testing.T) {
	app := mustContext(t, `[Context]
shared=network;ipc;
sockets=wayland;pulseaudio;
devices=dri;
filesystems=xdg-download;/srv/hostdata:ro;~/Projects:create;
persistent=.myapp;

[Environment]
FOO=bar
EXAMPLE_RUNTIME_VAR=1
`)
	override := mustContext(t, `[Context]
shared=!network;
sockets=x11;!wayland;
devices=!dri;all;
features=devel;!bluetooth;
filesystems=!xdg-download;home:ro;!~/Projects;
persistent=.other;
unset-environment=EXAMPLE_RUNTIME_VAR;

[Environment]
FOO=overridden
`)
	app.Merge(override)
	kf := keyfile.New()
	app.Keyfile(kf, false)
	got := string(kf.Bytes())
	want := `[Context]
shared=ipc;
sockets=pulseaudio;x11;
devices=all;
features=devel;
persistent=.myapp;.other;
filesystems=/srv/hostdata:ro;home:ro;

[Environment]
FOO=overridden
`
	if got != want {
		t.Fatalf("merged context:\n%s\nwant:\n%s", got, want)
	}
	if app.Env["FOO"] != "overridden" || app.Env["EXAMPLE_RUNTIME_VAR"] != "" {
		t.Fatalf("environment: %v", app.Env)
	}
	reset := mustContext(t, "[Context]\nfilesystems=!host:reset;/opt/x;\n")
	app.Merge(reset)
	if len(app.Filesystems) != 1 || app.Filesystems["/opt/x"] != FSReadWrite {
		t.Fatalf("after !host:reset: %v", app.Filesystems)
	}
}

func TestContextRefusals(t *testing.T) {
	for _, bad := range []string{
		"filesystems=/;", "filesystems=/usr;", "filesystems=/usr/share;", "filesystems=/run;",
		"filesystems=/etc/passwd;", "filesystems=~/../etc;", "filesystems=/srv/../etc;", "filesystems=xdg-run;",
		"filesystems=nowhere;", "filesystems=/srv:sometimes;", "filesystems=host:reset;",
		"persistent=../x;",
		"filesystems=/sys/firmware;", "filesystems=/sys/firmware/efi/efivars;", "filesystems=/sys/devices/virtual/powercap:ro;",
	} {
		kf, err := keyfile.ParseBytes([]byte("[Context]\n" + bad + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseContext(kf); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	c := NewContext()
	for in, want := range map[string]string{"~": "home", "home/a//b/": "~/a/b", "/srv/./x/": "/srv/x",
		`/srv/a\:b:ro`: "/srv/a:b", "xdg-download/sub/": "xdg-download/sub"} {
		if err := c.AddFilesystem(in); err != nil {
			t.Errorf("%s: %v", in, err)
		} else if _, ok := c.Filesystems[want]; !ok {
			t.Errorf("%s: not normalised to %s: %v", in, want, c.Filesystems)
		}
	}
}

func TestContextApplied(t *testing.T) {
	testutil.Privileged(t)
	home := t.TempDir()
	for _, d := range []string{"granted", "hidden"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, d, "f"), []byte(d+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := mustContext(t, "[Context]\nfilesystems=~/granted:ro;~/made:create;~/absent;\npersistent=.state;\n")
	spec := Spec{Home: home}
	env, err := c.Apply(&spec, Host{Home: home, UID: os.Getuid(), AppID: "org.example.App"})
	if err != nil {
		t.Fatal(err)
	}
	spec.Env = env
	script := strings.Join([]string{
		"cat " + home + "/granted/f",
		"! touch " + home + "/granted/new",
		"! cat " + home + "/hidden/f",
		"touch " + home + "/made/new",
		"touch " + home + "/.state/kept",
	}, " && ")
	if code, out := sh(t, spec, script); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, p := range []string{"made/new", ".var/app/org.example.App/.state/kept"} {
		if _, err := os.Stat(filepath.Join(home, p)); err != nil {
			t.Errorf("%s not on the host: %v", p, err)
		}
	}
}

func TestX11SocketOnlyWhenGranted(t *testing.T) {
	testutil.Privileged(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to make /tmp/.X11-unix/X97")
	}
	if err := os.MkdirAll("/tmp/.X11-unix", 0o1777); err != nil {
		t.Fatal(err)
	}
	sockPath := "/tmp/.X11-unix/X97"
	os.Remove(sockPath)
	ln, err := net.Listen("unix", sockPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	host := Host{Home: t.TempDir(), UID: 0, Env: map[string]string{"DISPLAY": ":97"}}
	for _, grant := range []bool{false, true} {
		c := NewContext()
		if grant {
			c.Sockets["x11"] = true
		}
		spec := Spec{}
		env, err := c.Apply(&spec, host)
		if err != nil {
			t.Fatal(err)
		}
		spec.Env = env
		code, out := sh(t, spec, `test "$DISPLAY" = :97 && test -S /tmp/.X11-unix/X97`)
		if (code == 0) != grant {
			t.Errorf("x11 granted=%v: the display is visible=%v\n%s", grant, code == 0, out)
		}
	}
}

// A persistent path is relative to the home and climbs out of neither
// ~/.var/app/ID nor the home, wherever it comes from; the error names it.
func TestPersistentRefusals(t *testing.T) {
	for _, bad := range []string{"/etc", "/", "..", "../x", "../../X", "a/../../x", "a/..", ".var/../..", "./../x"} {
		kf, err := keyfile.ParseBytes([]byte("[Context]\npersistent=" + bad + ";\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseContext(kf); err == nil || !strings.Contains(err.Error(), "persistent="+bad) {
			t.Errorf("metadata persistent=%s: %v", bad, err)
		}
		if err := NewContext().AddPersistent(bad); err == nil || !strings.Contains(err.Error(), "persistent="+bad) {
			t.Errorf("AddPersistent(%q): %v", bad, err)
		}
	}
	if err := NewContext().AddPersistent(""); err == nil {
		t.Error("an empty persistent path accepted")
	}
	for in, want := range map[string]string{".": ".", "./": ".", ".myapp": ".myapp", "a//b/": "a/b", "./x": "x"} {
		c := NewContext()
		if err := c.AddPersistent(in); err != nil || !c.Persistent[want] {
			t.Errorf("AddPersistent(%q): %v, %v; want %s", in, err, c.Persistent, want)
		}
	}
	// One put in the map by hand is checked where it is used.
	c := NewContext()
	c.Persistent["../../X"] = true
	home := t.TempDir()
	if _, err := c.Apply(&Spec{}, Host{Home: home, AppID: "org.example.App"}); err == nil || !strings.Contains(err.Error(), "persistent=../../X") {
		t.Errorf("Apply with persistent ../../X: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(home, ".var/X")); err == nil {
		t.Error("Apply made the directory a persistent ../../X names")
	}
}
