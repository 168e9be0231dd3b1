package delta

import (
	"bytes"
	"testing"
)

// A delta's superblock and its bsdiff patches come from the network:
// no input may panic, and a patch that applies makes exactly the size
// asked for.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("old file bytes"), []byte("new file, bytes"), []byte{})
	f.Add([]byte{}, []byte{1, 2, 3}, []byte{0, 0, 0, 0, 0, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, old, data, raw []byte) {
		// Any bytes as a superblock or as a patch.
		_, _ = ParseSuperblock(raw)
		if out, err := Bspatch(old, raw, uint64(len(data))); err == nil && len(out) != len(data) {
			t.Fatalf("a patch made %d bytes, not the %d asked for", len(out), len(data))
		}
		// What Bsdiff makes, Bspatch undoes.
		patch, _ := Bsdiff(old, data)
		out, err := Bspatch(old, patch, uint64(len(data)))
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip of %d bytes from %d: %v", len(data), len(old), err)
		}
	})
}
