package store

import (
	"bytes"
	"context"
	"testing"

	"github.com/klauspost/compress/zstd"

	"arbor/store/index"
	"arbor/store/object"
)

func TestTreeIndexRoundTrip(t *testing.T) {
	r, c, ti := indexedTree(t, map[string]string{"a": "alpha", "d/b": "beta", "d/e/c": "", "same1": "x", "d/same2": "x"}, "a")
	// Every object the commit reaches but itself is described, once.
	reach, err := r.Reach(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[index.Ref]bool{}
	for _, ref := range reach {
		if ref.Type != object.TypeCommit {
			want[ref] = true
		}
	}
	got := map[index.Ref]bool{}
	for _, m := range ti.Meta {
		got[m.Ref] = true
		stored, err := r.ReadMeta(m.Ref.Checksum, m.Ref.Type)
		if err != nil || !bytes.Equal(stored, m.Data) {
			t.Fatalf("%v: indexed bytes differ from the object (%v)", m.Ref, err)
		}
	}
	for _, f := range ti.Files {
		ref := index.Ref{Checksum: f.Checksum, Type: object.TypeFile}
		if got[ref] {
			t.Fatalf("%s described twice", f.Checksum)
		}
		got[ref] = true
		ct, err := r.OpenContent(f.Checksum)
		if err != nil {
			t.Fatal(err)
		}
		if ct.Size != f.Size || !bytes.Equal(ct.Header.Marshal(), f.Header.Marshal()) {
			t.Fatalf("%s: indexed %d %+v, object %d %+v", f.Checksum, f.Size, f.Header, ct.Size, ct.Header)
		}
		ct.Close()
	}
	if len(got) != len(want) {
		t.Fatalf("index describes %d objects, the commit reaches %d", len(got), len(want))
	}
	for ref := range want {
		if !got[ref] {
			t.Fatalf("%v missing from the index", ref)
		}
	}
}

// rawIndex compresses an uncompressed tree index body.
func rawIndex(t testing.TB, body []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(body, nil)
}

func TestTreeIndexRefusals(t *testing.T) {
	u32 := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	u64 := func(v uint64) []byte { return append(u32(uint32(v)), u32(uint32(v>>32))...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	badTree := []byte("not a dirtree")
	hdr := (&object.FileHeader{Mode: 0o100644}).Marshal()
	link := (&object.FileHeader{Mode: 0o120777, Target: "x"}).Marshal()
	var sum [32]byte
	cases := map[string][]byte{
		"bad magic":       []byte("NOTANIDX"),
		"truncated":       cat([]byte(treeIndexMagic), u64(1)),
		"bad dirtree":     cat([]byte(treeIndexMagic), u64(1), []byte{byte(object.TypeDirTree)}, u32(uint32(len(badTree))), badTree, u64(0)),
		"wrong type":      cat([]byte(treeIndexMagic), u64(1), []byte{byte(object.TypeCommit)}, u32(0), u64(0)),
		"huge length":     cat([]byte(treeIndexMagic), u64(1), []byte{byte(object.TypeDirMeta)}, u32(1<<31), u64(0)),
		"bad header":      cat([]byte(treeIndexMagic), u64(0), u64(1), sum[:], u64(1), u32(3), []byte("abc")),
		"symlink size":    cat([]byte(treeIndexMagic), u64(0), u64(1), sum[:], u64(5), u32(uint32(len(link))), link),
		"trailing bytes":  cat([]byte(treeIndexMagic), u64(0), u64(0), []byte{0}),
		"huge count":      cat([]byte(treeIndexMagic), u64(1<<62), u64(0)),
		"file count only": cat([]byte(treeIndexMagic), u64(0), u64(2), sum[:], u64(1), u32(uint32(len(hdr))), hdr),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseTreeIndex(rawIndex(t, body)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := ParseTreeIndex([]byte("not zstd at all")); err == nil {
		t.Fatal("accepted bytes that are not zstd")
	}
	good := cat([]byte(treeIndexMagic), u64(0), u64(1), sum[:], u64(1), u32(uint32(len(hdr))), hdr)
	if _, err := ParseTreeIndex(rawIndex(t, good)); err != nil {
		t.Fatalf("refused a valid index: %v", err)
	}
}

// FuzzTreeIndex feeds untrusted bytes to the tree index parser: it may not
// panic, and every dirtree or dirmeta it accepts matches its checksum.
func FuzzTreeIndex(f *testing.F) {
	tree := (&object.DirTree{Files: []object.FileEntry{{Name: "a", Checksum: object.Sha256([]byte("x"))}}}).Marshal()
	meta := object.DirMeta{Mode: 0o40755}.Marshal()
	hdr := (&object.FileHeader{Mode: 0o100644}).Marshal()
	var body bytes.Buffer
	body.WriteString(treeIndexMagic)
	body.Write([]byte{2, 0, 0, 0, 0, 0, 0, 0})
	body.WriteByte(byte(object.TypeDirTree))
	body.Write([]byte{byte(len(tree)), 0, 0, 0})
	body.Write(tree)
	body.WriteByte(byte(object.TypeDirMeta))
	body.Write([]byte{byte(len(meta)), 0, 0, 0})
	body.Write(meta)
	body.Write([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	body.Write(make([]byte, 32))
	body.Write([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	body.Write([]byte{byte(len(hdr)), 0, 0, 0})
	body.Write(hdr)
	f.Add(rawIndex(f, body.Bytes()))
	f.Add(body.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		ti, err := ParseTreeIndex(data)
		if err != nil {
			return
		}
		for _, m := range ti.Meta {
			if object.Sha256(m.Data) != m.Ref.Checksum {
				t.Fatal("accepted an object under another checksum")
			}
		}
		for _, fi := range ti.Files {
			if fi.Header.Validate() != nil {
				t.Fatal("accepted an invalid header")
			}
			if fi.Header.IsSymlink() && object.ContentChecksum(&fi.Header, nil) != fi.Checksum {
				t.Fatal("accepted a symlink under another checksum")
			}
		}
	})
}
