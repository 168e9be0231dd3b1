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
