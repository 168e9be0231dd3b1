package object

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"arbor/store/gvariant"
)

// genericDirTree is ParseDirTree by the generic decoder alone.
func genericDirTree(b []byte) (DirTree, error) {
	v, err := gvariant.Decode(tDirTree, b)
	if err != nil {
		return DirTree{}, err
	}
	f := v.([]any)
	var t DirTree
	for _, it := range f[0].([]any) {
		e := it.([]any)
		c, err := ChecksumFromBytes(e[1].([]byte))
		if err != nil {
			return DirTree{}, err
		}
		t.Files = append(t.Files, FileEntry{e[0].(string), c})
	}
	for _, it := range f[1].([]any) {
		e := it.([]any)
		tc, err := ChecksumFromBytes(e[1].([]byte))
		if err != nil {
			return DirTree{}, err
		}
		mc, err := ChecksumFromBytes(e[2].([]byte))
		if err != nil {
			return DirTree{}, err
		}
		t.Dirs = append(t.Dirs, DirEntry{e[0].(string), tc, mc})
	}
	return t, nil
}

// randomTree has n files and m dirs with names of about nameLen bytes, so
// that sizes cross the framing offsets' widths (255 and 65,535 bytes).
func randomTree(rng *rand.Rand, n, m, nameLen int) DirTree {
	var t DirTree
	sum := func() (c Checksum) {
		for i := range c {
			c[i] = byte(rng.IntN(256))
		}
		return c
	}
	nm := func(kind string, i int) string {
		pad := bytes.Repeat([]byte{'a' + byte(rng.IntN(26))}, rng.IntN(nameLen+1))
		return fmt.Sprintf("%s%06d%s", kind, i, pad)
	}
	for i := 0; i < n; i++ {
		t.Files = append(t.Files, FileEntry{nm("f", i), sum()})
	}
	for i := 0; i < m; i++ {
		t.Dirs = append(t.Dirs, DirEntry{nm("d", i), sum(), sum()})
	}
	return t
}

// The direct encoder writes the generic encoder's bytes, and the fast
// parser reads back the lists, at every offset width.
func TestDirTreeCodecMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	shapes := [][3]int{{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {1, 1, 3}, {3, 2, 200}, {4, 0, 250}, {0, 3, 250},
		{5, 5, 40}, {200, 0, 300}, {0, 150, 400}, {1200, 900, 30}, {3000, 10, 10}}
	for _, s := range shapes {
		tr := randomTree(rng, s[0], s[1], s[2])
		want := tr.marshalGeneric()
		got := tr.Marshal()
		if !bytes.Equal(got, want) {
			t.Fatalf("%v: Marshal differs from the generic encoder (%d bytes, want %d)", s, len(got), len(want))
		}
		fast, ok := parseDirTreeFast(want)
		if !ok {
			t.Fatalf("%v: the fast parser refused a normal dirtree of %d bytes", s, len(want))
		}
		slow, err := genericDirTree(want)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%v: the fast parser read other lists", s)
		}
		// Bytes changed (every one of a small tree, the last ones, where
		// the tables are, and some others of a large one): what the fast
		// parser takes, the generic one takes as the same lists.
		for k := 0; k < min(len(want), 600); k++ {
			i := k
			if len(want) > 600 {
				i = len(want) - 1 - k
				if k >= 300 {
					i = rng.IntN(len(want))
				}
			}
			b := bytes.Clone(want)
			b[i] ^= byte(1 + rng.IntN(255))
			checkAgree(t, b)
		}
		for _, cut := range []int{1, 2, 5, 33} {
			if cut < len(want) {
				checkAgree(t, want[:len(want)-cut])
				checkAgree(t, want[cut:])
			}
		}
	}
}

func checkAgree(t *testing.T, b []byte) {
	t.Helper()
	fast, ok := parseDirTreeFast(b)
	if !ok {
		return
	}
	if !bytes.Equal(encodeDirTree(nil, &fast), b) {
		t.Fatalf("the fast parser took %x, which is not in normal form", b)
	}
	slow, err := genericDirTree(b)
	if err != nil {
		t.Fatalf("the fast parser took %x, which the generic one refuses: %v", b, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("the parsers read %x differently", b)
	}
}

// What the fast parser leaves to the generic one is still read, or
// refused, as before: lists out of order, a name twice, a bad name.
func TestParseDirTreeFallsBack(t *testing.T) {
	var c Checksum
	c[0] = 1
	unsorted := DirTree{Files: []FileEntry{{"b", c}, {"a", c}}}
	b := unsorted.marshalGeneric()
	if _, ok := parseDirTreeFast(b); ok {
		t.Fatal("the fast parser took names out of order")
	}
	got, err := ParseDirTree(b)
	if err != nil || len(got.Files) != 2 || got.Files[0].Name != "b" {
		t.Fatalf("unsorted dirtree: %v, %v", got, err)
	}
	for _, bad := range []DirTree{
		{Files: []FileEntry{{"a", c}, {"a", c}}},
		{Files: []FileEntry{{"a", c}}, Dirs: []DirEntry{{"a", c, c}}},
		{Files: []FileEntry{{"..", c}}},
		{Dirs: []DirEntry{{"x/y", c, c}}},
		{Files: []FileEntry{{"", c}}},
	} {
		if _, err := ParseDirTree(bad.marshalGeneric()); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

func BenchmarkParseDirTree(b *testing.B) {
	tr := randomTree(rand.New(rand.NewPCG(1, 2)), 2000, 100, 12)
	data := tr.Marshal()
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := ParseDirTree(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDirTreeGeneric(b *testing.B) {
	tr := randomTree(rand.New(rand.NewPCG(1, 2)), 2000, 100, 12)
	data := tr.Marshal()
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := genericDirTree(data); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDirTree: whatever the fast parser takes is in normal form and reads
// as the generic decoder reads it.
func FuzzDirTree(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][3]int{{0, 0, 0}, {1, 1, 3}, {3, 2, 200}, {20, 5, 20}} {
		tr := randomTree(rng, s[0], s[1], s[2])
		f.Add(tr.Marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAgree(t, b) })
}
