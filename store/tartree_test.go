package store

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"arbor/store/object"
)

func TestCleanArchivePath(t *testing.T) {
	filter, err := ParsePathFilter(`^usr/(bin)/,usr/s\1/`)
	if err != nil {
		t.Fatal(err)
	}
	absolute, err := ParsePathFilter(`^,/`)
	if err != nil {
		t.Fatal(err)
	}
	prefix, err := ParsePathFilter(`^,foo/`)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		name    string
		filter  *PathFilter
		want    string
		wantErr string
	}{
		{"./", nil, "", ""},
		{".", nil, "", ""},
		{"./usr/bin/", nil, "usr/bin", ""},
		{"/usr/bin/x", nil, "usr/bin/x", ""},
		{"usr//bin/./x", nil, "usr/bin/x", ""},
		{"./usr/bin/x", filter, "usr/sbin/x", ""},
		{"./usr/lib/x", filter, "usr/lib/x", ""},
		{"./", prefix, "foo", ""},
		{"./usr/x", prefix, "foo/usr/x", ""},
		{"../etc/passwd", nil, "", "climbs out"},
		{"usr/../../x", nil, "", "climbs out"},
		{"./etc/x", absolute, "", "absolute"},
	} {
		got, err := cleanArchivePath(x.name, x.filter)
		if x.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), x.wantErr) || !strings.Contains(err.Error(), x.name) {
				t.Errorf("%q: err = %v, want %q naming the entry", x.name, err, x.wantErr)
			}
			continue
		}
		if err != nil || got != x.want {
			t.Errorf("%q = %q, %v; want %q", x.name, got, err, x.want)
		}
	}
	if _, err := ParsePathFilter("no-comma"); err == nil {
		t.Error("a filter without a replacement was accepted")
	}
}

type tarEnt struct {
	name, body, link string
	typ              byte
}

func makeTar(t *testing.T, gz bool, ents []tarEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	tw := tar.NewWriter(w)
	if gz {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	}
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link, ModTime: time.Unix(0, 0)}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			fmt.Fprint(tw, e.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func TestCommitTar(t *testing.T) {
	r, _ := newRepo(t, ModeBareUser)
	ctx := context.Background()
	base := []tarEnt{
		{name: "./", typ: tar.TypeDir},
		{name: "./usr/", typ: tar.TypeDir},
		{name: "./usr/x", body: "x data", typ: tar.TypeReg},
		{name: "./usr/hl", link: "./usr/x", typ: tar.TypeLink},
		{name: "./usr/sl", link: "x", typ: tar.TypeSymlink},
	}
	for _, x := range []struct {
		name    string
		gz      bool
		ents    []tarEnt
		opts    TarOptions
		want    map[string]string
		wantErr string
	}{
		{"plain", false, base, TarOptions{}, map[string]string{"/usr/x": "x data", "/usr/hl": "x data"}, ""},
		{"gzip", true, base, TarOptions{}, map[string]string{"/usr/hl": "x data"}, ""},
		{"missing parent", false, []tarEnt{{name: "a/b", body: "b", typ: tar.TypeReg}}, TarOptions{}, nil, "a/b"},
		{"autocreate", false, []tarEnt{{name: "a/b", body: "b", typ: tar.TypeReg}}, TarOptions{AutocreateParents: true},
			map[string]string{"/a/b": "b"}, ""},
		{"climbing", false, []tarEnt{{name: "./", typ: tar.TypeDir}, {name: "../x", body: "x", typ: tar.TypeReg}}, TarOptions{}, nil, "../x"},
		{"hardlink out", false, []tarEnt{{name: "./", typ: tar.TypeDir}, {name: "hl", link: "../etc/shadow", typ: tar.TypeLink}}, TarOptions{}, nil, "../etc/shadow"},
		{"hardlink to nothing", false, []tarEnt{{name: "./", typ: tar.TypeDir}, {name: "hl", link: "nope", typ: tar.TypeLink}}, TarOptions{}, nil, "nope"},
		{"device", false, []tarEnt{{name: "./", typ: tar.TypeDir}, {name: "null", typ: tar.TypeChar}}, TarOptions{}, nil, "null"},
	} {
		t.Run(x.name, func(t *testing.T) {
			data := makeTar(t, x.gz, x.ents)
			src := TreeSource{Tar: "-", TarReader: bytes.NewReader(data), Options: x.opts}
			c, _, err := r.CommitTrees(ctx, []TreeSource{src}, CommitOptions{Branch: "t", OwnerUID: -1, OwnerGID: -1})
			if x.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), x.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, x.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range x.want {
				got, err := r.ReadFile(c, p, 1<<20)
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", p, got, err, want)
				}
			}
			if x.name != "plain" {
				return
			}
			// Export, then import again: the same tree.
			var out bytes.Buffer
			if err := r.ExportTar(ctx, c, &out, ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			c2, _, err := r.CommitTrees(ctx, []TreeSource{{Tar: "-", TarReader: &out}}, CommitOptions{Branch: "t2", OwnerUID: -1, OwnerGID: -1})
			if err != nil {
				t.Fatal(err)
			}
			a, _ := r.ReadCommit(c)
			b, _ := r.ReadCommit(c2)
			if a.RootTree != b.RootTree || a.RootMeta != b.RootMeta {
				t.Error("export and import changed the tree")
			}
		})
	}
}

func TestTarXattrs(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	h := &tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX, PAXRecords: map[string]string{
		"SCHILY.xattr.user.a":         "one",
		"LIBARCHIVE.xattr.user.b%20c": "dHdv", // "two"
	}}
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	e, err := (tarReader{tar.NewReader(&buf)}).next()
	if err != nil {
		t.Fatal(err)
	}
	object.SortXattrs(e.xattrs)
	got := fmt.Sprint(e.xattrs)
	want := fmt.Sprint([]object.Xattr{{Name: "user.a", Value: []byte("one")}, {Name: "user.b c", Value: []byte("two")}})
	if got != want {
		t.Errorf("xattrs = %s, want %s", got, want)
	}
}
