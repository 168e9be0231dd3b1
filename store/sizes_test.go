package store

import (
	"testing"

	"arbor/store/object"
)

func TestSizesRoundTrip(t *testing.T) {
	var a, b object.Checksum
	a[0], b[0] = 0x80, 0x01
	in := []ObjectSize{
		{Checksum: a, Type: object.TypeFile, Stored: 42, Unpacked: 6},
		{Checksum: b, Type: object.TypeDirTree, Stored: 149, Unpacked: 149},
	}
	e := SizesEntry(in)
	got, err := CommitSizes([]object.MetaEntry{e})
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by checksum; 149 takes two varint bytes.
	if len(got) != 2 || got[0] != in[1] || got[1] != in[0] {
		t.Fatalf("got %+v", got)
	}
	items := e.Value.Value.([]any)
	if n := len(items[0].([]byte)); n != 32+2+2+1 {
		t.Errorf("entry of %d bytes, want 37", n)
	}
}

func TestParseSize(t *testing.T) {
	sum := make([]byte, 32)
	for _, tc := range []struct {
		name string
		b    []byte
		want object.Type
		ok   bool
	}{
		{"no type byte is a file", append(append([]byte{}, sum...), 5, 3), object.TypeFile, true},
		{"dirmeta", append(append([]byte{}, sum...), 12, 12, 3), object.TypeDirMeta, true},
		{"commit is not listed", append(append([]byte{}, sum...), 1, 1, 4), 0, false},
		{"short", sum[:10], 0, false},
		{"no unpacked size", append(append([]byte{}, sum...), 0x80), 0, false},
		{"trailing", append(append([]byte{}, sum...), 1, 1, 1, 1), 0, false},
	} {
		e, err := parseSize(tc.b)
		if (err == nil) != tc.ok || tc.ok && e.Type != tc.want {
			t.Errorf("%s: %+v, %v", tc.name, e, err)
		}
	}
	if _, err := CommitSizes(nil); err != ErrNoSizes {
		t.Errorf("no key: %v", err)
	}
}
