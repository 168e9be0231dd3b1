package fetch

import (
	"testing"

	"arbor/store/object"
)

// The old directory's entries are found by name, with a cursor when both
// lists are in order and with a map when either is not.
func TestByName(t *testing.T) {
	sum := func(b byte) (c object.Checksum) { c[0] = b; return c }
	fe := func(n string, b byte) object.FileEntry { return object.FileEntry{Name: n, Checksum: sum(b)} }
	key := func(f object.FileEntry) (string, object.Checksum) { return f.Name, f.Checksum }
	old := []object.FileEntry{fe("a", 1), fe("c", 3), fe("d", 4), fe("f", 6)}
	for _, tc := range []struct {
		name string
		cur  []object.FileEntry
	}{
		{"in order", []object.FileEntry{fe("b", 2), fe("c", 3), fe("e", 5), fe("f", 9), fe("g", 7)}},
		{"out of order", []object.FileEntry{fe("f", 9), fe("c", 3), fe("b", 2), fe("g", 7), fe("e", 5)}},
	} {
		b := newByName(old, tc.cur, key)
		for _, f := range tc.cur {
			c, ok := b.get(f.Name)
			wantOK := f.Name == "c" || f.Name == "f"
			if ok != wantOK {
				t.Errorf("%s: %s found %v", tc.name, f.Name, ok)
			}
			if f.Name == "c" && c != sum(3) || f.Name == "f" && c != sum(6) {
				t.Errorf("%s: %s has %x", tc.name, f.Name, c[:1])
			}
		}
	}
	// Names asked out of order in a list that is not: the map.
	unsorted := []object.FileEntry{fe("d", 4), fe("a", 1)}
	b := newByName(unsorted, []object.FileEntry{fe("a", 1), fe("d", 4)}, key)
	if c, ok := b.get("a"); !ok || c != sum(1) {
		t.Error("a not found in an old list out of order")
	}
	if c, ok := b.get("d"); !ok || c != sum(4) {
		t.Error("d not found in an old list out of order")
	}
}
