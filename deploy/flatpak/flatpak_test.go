package flatpak

import (
	"bytes"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store/object"
)

func TestRefs(t *testing.T) {
	good := []string{"app/org.example.Hello/x86_64/stable", "runtime/org.freedesktop.Platform/aarch64/23.08",
		"app/org.example.My_App-2/x86_64/master", "runtime/org.example.Platform.Locale/x86_64/1.0"}
	for _, s := range good {
		r, err := ParseRef(s)
		if err != nil || r.String() != s {
			t.Errorf("%s: %v %v", s, r, err)
		}
	}
	bad := []string{"app/org.example/x86_64/stable", "app/org..example.x/x86_64/b", "app/org.1x.y/x86_64/b",
		"app/org.ex-ample.y/x86_64/b", "app/org.example.y/x86_64/.b", "app/org.example.y//b", "bundle/org.example.y/x/b",
		"app/org.example.y/x86_64", "app/org.example.y/x86_64/b/c", "app/org.example.y/x86 64/b"}
	for _, s := range bad {
		if _, err := ParseRef(s); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

func TestComplete(t *testing.T) {
	var refs []Ref
	for _, s := range []string{"app/org.example.A/x86_64/stable", "app/org.example.A/x86_64/beta",
		"app/org.example.B/x86_64/stable", "runtime/org.example.A/x86_64/stable"} {
		r, _ := ParseRef(s)
		refs = append(refs, r)
	}
	cases := []struct {
		name string
		kind Kind
		want string // "" for an error
	}{
		{"org.example.B", App, "app/org.example.B/x86_64/stable"},
		{"org.example.A", App, ""}, // stable and beta
		{"org.example.A//beta", App, "app/org.example.A/x86_64/beta"},
		{"org.example.A/x86_64/stable", Runtime, "runtime/org.example.A/x86_64/stable"},
		{"runtime/org.example.A", "", "runtime/org.example.A/x86_64/stable"},
		{"org.example.C", App, ""},
	}
	for _, c := range cases {
		r, err := Complete(c.name, c.kind, refs)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: got %s, want an error", c.name, r)
			}
			continue
		}
		if err != nil || r.String() != c.want {
			t.Errorf("%s: %v %v, want %s", c.name, r, err, c.want)
		}
	}
}

// The metadata flatpak build-finish wrote in flatpak-facts 1.3.
const helloMetadata = `[Application]
name=org.example.Hello
runtime=org.example.Platform/x86_64/1.0
sdk=org.example.Platform/x86_64/1.0
command=true

[Context]
shared=network;ipc;
sockets=wayland;pulseaudio;
devices=dri;
filesystems=xdg-download;/srv/hostdata:ro;~/Projects:create;
persistent=.myapp;

[Session Bus Policy]
org.freedesktop.Notifications=talk

[Environment]
FOO=bar
`

func TestMetadata(t *testing.T) {
	m, err := ParseMetadata([]byte(helloMetadata))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != App || m.Name != "org.example.Hello" || m.Runtime != "org.example.Platform/x86_64/1.0" || m.Command != "true" {
		t.Fatalf("parsed %+v", m)
	}
	if !m.Context.Shared["network"] || !m.Context.Sockets["wayland"] || m.Context.Env["FOO"] != "bar" {
		t.Fatalf("context %+v", m.Context)
	}
	if v, _ := m.File.Get("Session Bus Policy", "org.freedesktop.Notifications"); v != "talk" {
		t.Fatalf("bus policy %q", v)
	}
	for name, text := range map[string]string{
		"NUL":        strings.Replace(helloMetadata, "command=true", "command=true\x00\n[Context]\nfilesystems=host;", 1),
		"no group":   "[Other]\nname=org.example.Hello\n",
		"bad name":   strings.Replace(helloMetadata, "name=org.example.Hello", "name=hello", 1),
		"no runtime": strings.Replace(helloMetadata, "runtime=org.example.Platform/x86_64/1.0\n", "", 1),
		"bad perm":   strings.Replace(helloMetadata, "filesystems=", "filesystems=/usr;", 1),
	} {
		if _, err := ParseMetadata([]byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCommitMetadata(t *testing.T) {
	ref, _ := ParseRef("app/org.example.Hello/x86_64/1.0")
	md := CommitMetadata(ref, []byte(helloMetadata), 1234, 56, "")
	b, err := object.MarshalVarDict(md)
	if err != nil {
		t.Fatal(err)
	}
	back, err := object.ParseVarDict(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCommitMetadata(back, ref, []byte(helloMetadata)); err != nil {
		t.Fatal(err)
	}
	v, _ := object.Lookup(back, "xa.installed-size")
	if got := bits.ReverseBytes64(v.Value.(uint64)); got != 1234 {
		t.Fatalf("installed size %d", got)
	}
	// Stored big-endian: the encoding holds 1234's bytes most significant first.
	if !bytes.Contains(b, []byte{0, 0, 0, 0, 0, 0, 0x04, 0xd2}) {
		t.Fatal("xa.installed-size is not stored big-endian")
	}
	other, _ := ParseRef("app/org.example.Other/x86_64/1.0")
	if CheckCommitMetadata(back, other, []byte(helloMetadata)) == nil {
		t.Fatal("a commit of another ref passed")
	}
	if CheckCommitMetadata(back, ref, []byte(helloMetadata+"\n")) == nil {
		t.Fatal("metadata differing by one byte passed")
	}
}

func TestWithArch(t *testing.T) {
	for _, c := range []struct{ name, arch, want string }{
		{"org.example.Hello", "", "org.example.Hello"},
		{"org.example.Hello", "aarch64", "org.example.Hello/aarch64"},
		{"org.example.Hello//stable", "aarch64", "org.example.Hello/aarch64/stable"},
		{"org.example.Hello/x86_64/stable", "aarch64", "org.example.Hello/x86_64/stable"},
		{"runtime/org.example.Platform//1", "i386", "runtime/org.example.Platform/i386/1"},
	} {
		if got := WithArch(c.name, c.arch); got != c.want {
			t.Errorf("WithArch(%q, %q) = %q, want %q", c.name, c.arch, got, c.want)
		}
	}
}

func TestNamedInstallationRepo(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ARBOR_CONFIG_DIR", dir)
	if err := os.MkdirAll(filepath.Join(dir, "installations.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "[Installation \"extra\"]\nPath=/srv/extra/\nDisplayName=Extra\n\n[Installation \"bad\"]\nPath=relative\n"
	if err := os.WriteFile(filepath.Join(dir, "installations.d", "extra.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, want, err string }{
		{"default", SystemRepo, ""},
		{"extra", "/srv/extra/repo", ""},
		{"bad", "", "absolute"},
		{"nonesuch", "", "no installation named"},
	} {
		got, err := NamedInstallationRepo(c.name)
		if got != c.want || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("NamedInstallationRepo(%q) = %q, %v; want %q, error with %q", c.name, got, err, c.want, c.err)
		}
	}
}
