package delta

import (
	"bytes"
	"testing"

	"arbor/store/delta/gnugz"
	"arbor/store/gvariant"
	"arbor/store/object"
)

// A delta's superblock, its bsdiff patches and its alt parts' programs
// come from the network: no input may panic, and a patch that applies
// makes exactly the size asked for. gzip's deflate makes what inflates
// back to its input. A part's payload is taken by splitPart exactly when the
// whole tuple's decoder takes it, with the same fields.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("old file bytes"), []byte("new file, bytes"), []byte{})
	f.Add([]byte{}, []byte{1, 2, 3}, []byte{0, 0, 0, 0, 0, 0, 0, 0x80})
	f.Add([]byte{}, []byte{}, make([]byte, 256)) // offsets wider than normal
	f.Add([]byte{}, []byte{}, gvariant.MustEncode(partType, []any{[]any{[]any{uint32(0), uint32(0), uint32(0o100644)}}, []any{[]any{}}, []byte("blob"), []byte{1, 2}}))
	f.Fuzz(func(t *testing.T, old, data, raw []byte) {
		// Any bytes as a superblock or as a patch.
		_, _ = ParseSuperblock(raw)
		whole, werr := gvariant.Decode(partType, raw)
		fields, serr := splitPart(raw)
		if serr == nil {
			if _, err := gvariant.Decode(partType.Fields[0], fields[0]); err != nil {
				serr = err
			} else if _, err := gvariant.Decode(partType.Fields[1], fields[1]); err != nil {
				serr = err
			}
		}
		if (werr == nil) != (serr == nil) {
			t.Fatalf("the whole tuple's decoder: %v; splitPart: %v", werr, serr)
		}
		if werr == nil {
			w := whole.([]any)
			if !bytes.Equal(w[2].([]byte), fields[2]) || !bytes.Equal(w[3].([]byte), fields[3]) {
				t.Fatal("splitPart's blob or ops differ from the decoder's")
			}
		}
		if out, err := Bspatch(old, raw, uint64(len(data))); err == nil && len(out) != len(data) {
			t.Fatalf("a patch made %d bytes, not the %d asked for", len(out), len(data))
		}
		// Any bytes as an alt part's program, over any source; any bytes
		// as a gzip file.
		hdr := object.FileHeader{Mode: 0o100644}
		sink := &memSink{meta: map[object.Checksum][]byte{}, content: map[object.Checksum][]byte{}, src: map[object.Checksum][]byte{{}: old}}
		alt := &Part{Modes: [][3]uint32{{0, 0, hdr.Mode}}, Xattrs: [][]object.Xattr{nil}, Blob: append(make([]byte, 32), data...), Ops: raw, alt: true}
		_ = alt.Apply(PartHeader{Objects: []ObjectRef{{Type: object.TypeFile, Checksum: object.ContentChecksum(&hdr, data)}}}, sink)
		if text, err := gunzip(raw, len(data)); err == nil && len(text) != len(data) {
			t.Fatalf("gunzip made %d bytes, not the %d asked for", len(text), len(data))
		}
		// What gzip's deflate makes inflates to what it was given.
		level := 4 + len(old)%6
		z, err := gnugz.Gzip([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, data, level)
		if err != nil {
			t.Fatal(err)
		}
		if text, err := gunzip(z, len(data)); err != nil || !bytes.Equal(text, data) {
			t.Fatalf("level %d: %d bytes deflated inflate to %d: %v", level, len(data), len(text), err)
		}
		// What Bsdiff makes, Bspatch undoes.
		patch, _ := Bsdiff(old, data)
		out, err := Bspatch(old, patch, uint64(len(data)))
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip of %d bytes from %d: %v", len(data), len(old), err)
		}
	})
}
