package exports

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"arbor/tests/testutil"
)

func testLauncher(t *testing.T, arbor string) Launcher {
	t.Helper()
	return Launcher{Arbor: arbor, Repo: "/var/lib/my 100% repo", ID: "org.example.Hello", Branch: "1.0"}
}

func TestSplitExec(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string // nil: an error
	}{
		{"sh -c x", []string{"sh", "-c", "x"}},
		{"  a\tb\nc  ", []string{"a", "b", "c"}},
		{`a "b c" 'd e' f\ g`, []string{"a", "b c", "d e", "f g"}},
		{`"a\"b\\c\$d\` + "`" + `e\x"`, []string{"a\"b\\c$d`e\\x"}},
		{`'a\"b'`, []string{`a\"b`}},
		{"a #comment\nb", []string{"a", "b"}},
		{"a#b", []string{"a#b"}},
		{"a\\\nb", []string{"ab"}},
		{`a""b`, []string{"ab"}},
		{`""`, []string{""}},
		{"", []string{}},
		{`"open`, nil},
		{`'open`, nil},
		{`a\`, nil},
	} {
		got, err := splitExec(c.in)
		if c.want == nil {
			if err == nil {
				t.Errorf("%q: %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) && len(got)+len(c.want) > 0 {
			t.Errorf("%q: %q %v, want %q", c.in, got, err, c.want)
		}
	}
}

// The app's Exec becomes the launcher's; its words are kept (field codes
// live only where they stand bare), quoted so that they read back the
// same, and the result validates.
func TestRewriteExec(t *testing.T) {
	l := testLauncher(t, "/usr/bin/arbor")
	pre := `/usr/bin/arbor "--repo=/var/lib/my 100%% repo" run --branch=1.0 `
	for _, c := range []struct {
		old  string
		syn  syntax
		want string
	}{
		{"hello %U", desktopExec, pre + "--command=hello org.example.Hello %U"},
		{"", desktopExec, pre + "org.example.Hello"},
		{`sh -c "rm -rf ~; echo $HOME" %f`, desktopExec, pre + `--command=sh org.example.Hello -c "rm -rf ~; echo \$HOME" %f`},
		{`app "50%% off" --url=%u "in %f quotes" %d`, desktopExec, pre + `--command=app org.example.Hello "50%% off" --url=%u "in %%f quotes"`},
		{`"/app/bin/my app" --x`, desktopExec, pre + `"--command=/app/bin/my app" org.example.Hello --x`},
		{`%k`, desktopExec, pre + `--command=%%k org.example.Hello`},
		{`hello --filesystem=host`, desktopExec, pre + "--command=hello org.example.Hello --filesystem=host"},
		{`hello 100% "a\"b"`, dbusExec, `/usr/bin/arbor "--repo=/var/lib/my 100% repo" run --branch=1.0 --command=hello org.example.Hello 100% "a\"b"`},
	} {
		got, err := l.rewriteExec(c.old, c.syn)
		if err != nil || got != c.want {
			t.Errorf("%q:\n got %s %v\nwant %s", c.old, got, err, c.want)
			continue
		}
		if err := l.checkExec(got, c.syn); err != nil {
			t.Errorf("%q: the rewritten Exec does not validate: %v", c.old, err)
		}
	}
	if _, err := l.rewriteExec(`sh -c "x`, desktopExec); err == nil {
		t.Error("an unterminated quote was rewritten")
	}
	for _, bad := range []string{
		"sh -c x",
		"/usr/bin/arbor --repo=/x run --branch=1.0 org.example.Hello",
		pre + "--filesystem=host org.example.Hello",
		pre + "org.example.Other",
		pre + "--command=a --command=b org.example.Hello",
		`/usr/bin/arbor "--repo=/var/lib/my 100% repo" run --branch=1.0 org.example.Hello`, // a live %r
		pre,
	} {
		if err := l.checkExec(bad, desktopExec); err == nil {
			t.Errorf("%q validated", bad)
		}
	}
}

// The launcher script quotes every word for sh.
func TestScript(t *testing.T) {
	l := testLauncher(t, "/opt/it's/arbor")
	s, err := l.Script()
	if err != nil {
		t.Fatal(err)
	}
	want := `#!/bin/sh
exec '/opt/it'\''s/arbor' '--repo=/var/lib/my 100% repo' 'run' '--branch=1.0' 'org.example.Hello' "$@"
`
	if string(s) != want {
		t.Errorf("script:\n%s\nwant\n%s", s, want)
	}
	for _, bad := range []Launcher{{Arbor: "arbor", Repo: "/r", ID: "a.b.c", Branch: "1"}, {Arbor: "/a", Repo: "/r", ID: "a.b.c", Branch: "$(id)"}} {
		if _, err := bad.Script(); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

// GLib's own launcher (gio launch) runs an exported desktop file: what
// reaches arbor is the launcher's words, the app's command, its id and
// its arguments, whatever quoting and spacing the app's Exec used; the
// attacker's "Exec =" line runs nothing of its own.
func TestGioLaunchesThroughArbor(t *testing.T) {
	testutil.NeedTool(t, "gio")
	dir := t.TempDir()
	rec := filepath.Join(dir, "argv")
	arbor := filepath.Join(dir, "bin dir", "arbor")
	if err := os.MkdirAll(filepath.Dir(arbor), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nfor a; do printf '%s\\0' \"$a\"; done > " + shellQuote(rec) + ".tmp && mv " + shellQuote(rec) + ".tmp " + shellQuote(rec) + "\n"
	if err := os.WriteFile(arbor, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	l := testLauncher(t, arbor)
	pwned := filepath.Join(dir, "pwned")
	for _, c := range []struct {
		desktop string
		args    []string
		want    []string // after the launcher's words
	}{
		{"Name=Hello\nExec =sh -c 'touch " + pwned + "' %f\n", []string{"/etc/hostname"},
			[]string{"--command=sh", "org.example.Hello", "-c", "touch " + pwned, "/etc/hostname"}},
		{`Exec=app "a \\"b\\" $c" 'd  e' 50%% --name=%c` + "\nName=My \"Hello\"\n", nil,
			[]string{"--command=app", "org.example.Hello", `a "b" $c`, "d  e", "50%", `--name=My "Hello"`}},
		{"Name=Hello\nExec[de]=sh -c 'touch " + pwned + "'\nTryExec=/bin/false\n", nil, []string{"org.example.Hello"}},
	} {
		src := "[Desktop Entry]\nType=Application\n" + c.desktop
		out, err := l.rewriteDesktop([]byte(src), "org.example.Hello", nil)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		f := filepath.Join(dir, "org.example.Hello.desktop")
		if err := os.WriteFile(f, out, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(rec)
		cmd := exec.Command("gio", append([]string{"launch", f}, c.args...)...)
		cmd.Env = append(os.Environ(), "LANG=de_DE.UTF-8", "LC_ALL=de_DE.UTF-8")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gio launch: %v\n%s\n%s", err, b, out)
		}
		var got []byte
		for i := 0; i < 200; i++ { // gio launch does not wait for the program
			if got, err = os.ReadFile(rec); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		want := append(l.prefix()[1:], c.want...)
		if words := strings.Split(strings.TrimSuffix(string(got), "\x00"), "\x00"); !slices.Equal(words, want) {
			t.Errorf("%s\nran arbor with %q\nwant %q", out, words, want)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("the app's own command ran on the host:\n%s", out)
		}
	}
}
