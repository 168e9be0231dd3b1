package object

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	"strings"
	"testing"
)

func mustSum(t *testing.T, s string) Checksum {
	t.Helper()
	c, err := ParseChecksum(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestContentChecksums(t *testing.T) {
	tests := []struct {
		name string
		h    FileHeader
		data string
		want string
	}{
		{"hello", FileHeader{Mode: 0o100644}, "hello\n", "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b"},
		{"symlink", FileHeader{Mode: 0o120777, Target: "hello"}, "", "73baaba0102e9154b8522687d33eedb8ed1bc78eadb82428b2616144ec502934"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ContentChecksum(&tc.h, []byte(tc.data))
			if got.String() != tc.want {
				t.Fatalf("got %s want %s", got, tc.want)
			}
		})
	}
}

func TestXattrOrder(t *testing.T) {
	xs := []Xattr{{"user.b", []byte("BB")}, {"user.a", []byte("A")}}
	SortXattrs(xs)
	h := FileHeader{Mode: 0o100644, Xattrs: xs}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	// The file "x" of the format notes: its content is not given, so check
	// the header's xattr bytes, which is what the example pins down.
	want, _ := hex.DecodeString("757365722e610041" + "07" + "757365722e62004242" + "07" + "0913")
	if got := h.Marshal(); !bytes.Contains(got, want) {
		t.Fatalf("header %x lacks %x", got, want)
	}
	link := FileHeader{Mode: 0o120777, Xattrs: xs}
	if link.Validate() == nil {
		t.Error("symlink without a target accepted")
	}
	for _, c := range []struct {
		xs []Xattr
		ok bool
	}{
		{[]Xattr{xs[1], xs[0]}, true}, // libostree keeps an archive's order
		{[]Xattr{xs[0], xs[0]}, true}, // and an archive's repeats
		{[]Xattr{xs[1], xs[0], xs[1]}, true},
	} {
		h.Xattrs = c.xs
		if err := h.Validate(); (err == nil) != c.ok {
			t.Errorf("%v: %v, want ok %v", c.xs, err, c.ok)
		}
	}
}

func TestWorkedExample(t *testing.T) {
	hello := FileHeader{Mode: 0o100644}
	link := FileHeader{Mode: 0o120777, Target: "hello"}
	tree := DirTree{Files: []FileEntry{
		{"link", ContentChecksum(&link, nil)},
		{"hello", ContentChecksum(&hello, []byte("hello\n"))},
	}}
	tb := tree.Marshal()
	if got := Sha256(tb).String(); got != "815aad83f4be3c9713c7be978703ec8875bb3d89d5ca511440561a175d96f55e" {
		t.Fatalf("dirtree %s", got)
	}
	mb := DirMeta{Mode: 0o40755}.Marshal()
	if got := Sha256(mb).String(); got != "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488" {
		t.Fatalf("dirmeta %s", got)
	}
	c := Commit{Subject: "example", Timestamp: 1577836800, RootTree: Sha256(tb), RootMeta: Sha256(mb)}
	cb, _ := c.Marshal()
	if got := Sha256(cb).String(); got != "55cd084aecb5c17a76b9a597f91a0908e62e5546a08a0840298519e363143538" {
		t.Fatalf("commit %s", got)
	}
	c.Metadata = []MetaEntry{Strings("ostree.ref-binding", []string{"test"})}
	cb, _ = c.Marshal()
	if got := Sha256(cb).String(); got != "d6dfe1b7750d9e9e98f439bd719863d4a4a112eaa45f9a5b1bee72c6f1c592b2" {
		t.Fatalf("bound commit %s", got)
	}
	back, err := ParseCommit(cb)
	if err != nil || back.Timestamp != 1577836800 || back.RootTree != Sha256(tb) {
		t.Fatalf("parse: %v %+v", err, back)
	}
}

func TestArchiveRoundTrip(t *testing.T) {
	link := FileHeader{Mode: 0o120777, Target: "hello"}
	var buf bytes.Buffer
	if err := testCompressor.WriteArchive(&buf, &link, 0, nil); err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("0000001f00000000000000000000000000000000000000000000a1ff0000000068656c6c6f001e")
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("symlink .filez\n got %x\nwant %x", buf.Bytes(), want)
	}
	for _, size := range []int{0, 6, 65536, 3 << 20} {
		data := bytes.Repeat([]byte("arbor\n"), size/6+1)[:size]
		h := FileHeader{UID: 1000, GID: 1000, Mode: 0o100755}
		buf.Reset()
		if err := testCompressor.WriteArchive(&buf, &h, uint64(size), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		gh, gsize, r, err := testDecompressor.ReadArchive(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || gsize != uint64(size) || !bytes.Equal(got, data) || gh.Mode != h.Mode || gh.UID != 1000 {
			t.Fatalf("size %d: err %v", size, err)
		}
	}
	// A header that claims more than the stream holds is refused.
	h := FileHeader{Mode: 0o100644}
	buf.Reset()
	testCompressor.WriteArchive(&buf, &h, 6, strings.NewReader("hello\n"))
	b := buf.Bytes()
	b[15] = 7 // the BE size field's low byte
	_, _, r, err := testDecompressor.ReadArchive(bytes.NewReader(b))
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Fatal("size mismatch not detected")
	}
}

func TestValidateName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "/", "a\x00b", "\xff"} {
		if ValidateName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"a", "...", ".hidden", "é", strings.Repeat("x", 250)} {
		if err := ValidateName(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}

func TestParseDirTreeRejects(t *testing.T) {
	var c Checksum
	for _, name := range []string{"..", ".", "a/b"} {
		// Marshal does not validate, so hostile trees can be built for the test.
		tree := DirTree{Files: []FileEntry{{name, c}}}
		if _, err := ParseDirTree(tree.Marshal()); err == nil {
			t.Errorf("dirtree with %q accepted", name)
		}
	}
	dup := DirTree{Files: []FileEntry{{"a", c}}, Dirs: []DirEntry{{"a", c, c}}}
	if _, err := ParseDirTree(dup.Marshal()); err == nil {
		t.Error("duplicate name accepted")
	}
}

var testCompressor, _ = NewCompressor(6)

var testDecompressor Decompressor

// Objects up to a size are inflated from memory in one go, larger ones
// (or any once the memory budget is taken) as a stream: both must give the
// same bytes and refuse the same faults.
func TestArchiveInflatePaths(t *testing.T) {
	const max = 1000
	archive := func(size int, data []byte) []byte {
		var buf bytes.Buffer
		h := FileHeader{Mode: 0o100644}
		if err := testCompressor.WriteArchive(&buf, &h, uint64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		binary.BigEndian.PutUint64(b[8:16], uint64(size)) // the header's size
		return b
	}
	noise := func(n int) []byte {
		b := make([]byte, n)
		x := uint32(1)
		for i := range b {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			b[i] = byte(x)
		}
		return b
	}
	// A valid stream far longer than its content: many empty stored blocks.
	padded := archive(10, nil)
	padded = padded[:8+binary.BigEndian.Uint32(padded)] // the framed header
	padded = append(padded, bytes.Repeat([]byte{0, 0, 0, 0xff, 0xff}, 2000)...)
	padded = append(padded, 1, 10, 0, 0xf5, 0xff)
	padded = append(padded, "0123456789"...)

	for _, tc := range []struct {
		name    string
		b       []byte
		want    []byte
		wantErr bool
	}{
		{"whole, at the limit", archive(max, noise(max)), noise(max), false},
		{"stream, past the limit", archive(max+1, noise(max+1)), noise(max + 1), false},
		{"whole, empty", archive(0, nil), nil, false},
		{"whole, header says more", archive(101, noise(100)), nil, true},
		{"whole, header says less", archive(99, noise(100)), nil, true},
		{"stream, header says more", archive(max+2, noise(max+1)), nil, true},
		{"stream, header says less", archive(max, noise(max+1)), nil, true},
		{"whole, corrupt stream", append(archive(100, noise(100))[:40], 0xff, 0xff, 0xff), nil, true},
		{"whole, truncated stream", archive(100, noise(100))[:60], nil, true},
		{"long stream of empty blocks", padded, []byte("0123456789"), false},
	} {
		for _, budget := range []int64{1 << 20, 100} { // the second forces streaming
			d := &Decompressor{max: max, budget: budget}
			_, _, r, err := d.ReadArchive(bytes.NewReader(tc.b))
			var got bytes.Buffer
			if err == nil {
				_, err = io.Copy(&got, r) // through WriteTo
				r.Close()
			}
			if tc.wantErr {
				if err == nil {
					t.Errorf("%s, budget %d: accepted", tc.name, budget)
				}
			} else if err != nil || !bytes.Equal(got.Bytes(), tc.want) {
				t.Errorf("%s, budget %d: %d bytes, %v; want %d bytes", tc.name, budget, got.Len(), err, len(tc.want))
			}
			if n := d.inflight.Load(); n != 0 {
				t.Errorf("%s, budget %d: %d bytes still reserved after Close", tc.name, budget, n)
			}
		}
	}
}
