package exports

import (
	"slices"
	"testing"
)

// FuzzExec: whatever an app's Exec (or its whole desktop file) says, a
// rewrite that succeeds starts the launcher, and every word quoted as
// arbor quotes it reads back as itself.
func FuzzExec(f *testing.F) {
	f.Add("sh -c 'x' \"a b\" %U 50%% --n=%c")
	f.Add("[Desktop Entry]\nType=Application\nExec =sh -c x\n[Desktop Action a]\nExec=y %f\n")
	l := Launcher{Arbor: "/usr/bin/arbor", Repo: "/var/lib/my 100% repo", ID: "org.example.Hello", Branch: "1.0"}
	f.Fuzz(func(t *testing.T, s string) {
		if out, err := l.rewriteDesktop([]byte(s), "org.example.Hello", nil); err == nil {
			if err := l.checkDesktop(out, "org.example.Hello", nil); err != nil {
				t.Fatalf("%q became %q: %v", s, out, err)
			}
		}
		words, err := splitExec(s)
		if err != nil {
			return
		}
		for _, syn := range []syntax{desktopExec, dbusExec} {
			v, err := l.rewriteExec(s, syn)
			if err != nil {
				t.Fatalf("%q split but did not rewrite: %v", s, err)
			}
			if err := l.checkExec(v, syn); err != nil {
				t.Fatalf("%q became %q: %v", s, v, err)
			}
		}
		for _, w := range words {
			if got, err := splitExec(quote(w)); err != nil || !slices.Equal(got, []string{w}) {
				t.Fatalf("%q quoted as %q reads back as %q, %v", w, quote(w), got, err)
			}
		}
	})
}
