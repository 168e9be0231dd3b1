package refs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store/object"
)

// Mirrored refs live under refs/mirrors/COLLECTION/REF, list with their
// collection, refuse bad names, and deleting the last leaves no directory.
func TestMirrors(t *testing.T) {
	d := Dir(t.TempDir())
	c1, _ := object.ParseChecksum(strings.Repeat("1", 64))
	if m, err := d.Mirrors(); err != nil || len(m) != 0 {
		t.Fatalf("a repository without refs/mirrors: %v, %v", m, err)
	}
	for _, tc := range []struct {
		cr CollectionRef
		ok bool
	}{
		{CollectionRef{"org.example.A", "app/x"}, true},
		{CollectionRef{"org.example.B", "y"}, true},
		{CollectionRef{"noDots", "y"}, false},
		{CollectionRef{"org.example.C", "-bad"}, false},
		{CollectionRef{"org.1example.C", "y"}, false},
	} {
		err := d.SetMirror(tc.cr, c1, false)
		if (err == nil) != tc.ok {
			t.Errorf("SetMirror(%v): %v, want ok=%v", tc.cr, err, tc.ok)
		}
	}
	m, err := d.Mirrors()
	if err != nil {
		t.Fatal(err)
	}
	got := SortedCollectionRefs(m)
	want := []CollectionRef{{"org.example.A", "app/x"}, {"org.example.B", "y"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Mirrors = %v, want %v", got, want)
	}
	if err := d.DeleteMirror(want[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(string(d), "refs", "mirrors", "org.example.A")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("collection directory left behind: %v", err)
	}
	if err := d.DeleteMirror(want[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
}
