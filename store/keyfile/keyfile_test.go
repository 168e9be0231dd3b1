package keyfile

import (
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	src := "# comment\n[core]\nrepo_version=1\nmode=archive-z2\n\n[remote \"origin\"]\nurl=http://127.0.0.1:1/repo\ngpg-verify=false\nbranches=a;b;\n"
	f, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if string(f.Bytes()) != src {
		t.Fatalf("round trip:\n%s", f.Bytes())
	}
	if v, _ := f.Get("remote \"origin\"", "url"); v != "http://127.0.0.1:1/repo" {
		t.Fatalf("url %q", v)
	}
	if b, err := f.Bool("remote \"origin\"", "gpg-verify", true); err != nil || b {
		t.Fatalf("gpg-verify %v %v", b, err)
	}
	if l := f.List("remote \"origin\"", "branches"); len(l) != 2 || l[1] != "b" {
		t.Fatalf("branches %v", l)
	}
	f.Set("core", "fsync", "false")
	f.Set("new", "k", " lead\nline")
	g, err := ParseBytes(f.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := g.Get("new", "k"); v != " lead\nline" {
		t.Fatalf("escaped value %q", v)
	}
	if v, _ := g.Get("core", "fsync"); v != "false" {
		t.Fatalf("fsync %q", v)
	}
}

func TestRejects(t *testing.T) {
	for _, bad := range []string{"key=value\n", "[core\n", "[core]\nnovalue\n"} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// ParseStrict reads desktop-entry syntax as GLib does (spaces around =,
// locales, comments, escapes) and refuses what readers disagree on.
func TestParseStrict(t *testing.T) {
	good := "# c\n[Desktop Entry]\nName=A\nName[de_DE.UTF-8@euro]=B\n  Exec =sh -c x\nComment=tab\there\\s\\n\\\\ \\;\r\n\n[Desktop Action new]\nExec=y\n"
	f, err := ParseStrict([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ group, key, want string }{
		{"Desktop Entry", "Exec", "sh -c x"}, {"Desktop Entry", "Name[de_DE.UTF-8@euro]", "B"},
		{"Desktop Entry", "Comment", "tab\there \n\\ \\;"}, {"Desktop Action new", "Exec", "y"},
	} {
		if v, ok := f.Get(c.group, c.key); !ok || v != c.want {
			t.Errorf("[%s] %s = %q, %v; want %q", c.group, c.key, v, ok, c.want)
		}
	}
	if BaseKey("Name[de]") != "Name" || BaseKey("Exec") != "Exec" {
		t.Error("BaseKey")
	}
	for name, bad := range map[string]string{
		"duplicate group":   "[A]\nk=1\n[A]\nk=2\n",
		"duplicate key":     "[A]\nExec=a\nExec =b\n",
		"KConfig flag":      "[A]\nExec[$e]=$(id)\n",
		"space in key":      "[A]\nExec X=1\n",
		"semicolon key":     "[A]\n;Exec=1\n",
		"bracket in group":  "[A][$i]\nk=1\n",
		"empty locale":      "[A]\nName[]=1\n",
		"bad escape":        "[A]\nk=\\x1b\n",
		"trailing escape":   "[A]\nk=a\\\n",
		"NUL":               "[A]\nk=a\x00b\n",
		"ESC":               "[A]\nk=\x1b[31m\n",
		"lone CR":           "[A]\nk=a\rExec=b\n",
		"DEL":               "[A]\nk=\x7f\n",
		"C1":                "[A]\nk=\u009b31m\n",
		"invalid UTF-8":     "[A]\nk=\xff\n",
		"key before groups": "k=1\n[A]\n",
	} {
		if _, err := ParseStrict([]byte(bad)); err == nil {
			t.Errorf("%s: %q accepted", name, bad)
		}
	}
}
