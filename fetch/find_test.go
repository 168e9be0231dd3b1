package fetch

import (
	"strings"
	"testing"

	"arbor/store"
	"arbor/store/object"
)

// Of remotes with a ref, only those with its newest commit keep it.
func TestKeepNewest(t *testing.T) {
	a := store.CollectionRef{Collection: "org.example.A", Ref: "app"}
	old, _ := object.ParseChecksum(strings.Repeat("1", 64))
	nu, _ := object.ParseChecksum(strings.Repeat("2", 64))
	mk := func(c object.Checksum, ts uint64) Found {
		return Found{Refs: map[store.CollectionRef]object.Checksum{a: c}, timestamps: map[store.CollectionRef]uint64{a: ts}}
	}
	for _, tc := range []struct {
		name  string
		found []Found
		want  []object.Checksum
	}{
		{"one", []Found{mk(old, 1)}, []object.Checksum{old}},
		{"older dropped", []Found{mk(old, 1), mk(nu, 2)}, []object.Checksum{object.Zero, nu}},
		{"equal kept", []Found{mk(nu, 2), mk(nu, 2)}, []object.Checksum{nu, nu}},
		{"missing stays missing", []Found{mk(object.Zero, 0), mk(old, 1)}, []object.Checksum{object.Zero, old}},
	} {
		keepNewest(tc.found, []store.CollectionRef{a})
		for i, f := range tc.found {
			if f.Refs[a] != tc.want[i] {
				t.Errorf("%s: result %d has %s, want %s", tc.name, i, f.Refs[a], tc.want[i])
			}
		}
	}
}
