package store

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// A directory compares with a commit as it would be committed, and the
// comparison leaves no object behind.
func TestDiffDir(t *testing.T) {
	tmp := t.TempDir()
	r, err := Init(filepath.Join(tmp, "repo"), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := filepath.Join(tmp, "src")
	writeTree(t, src, map[string]string{"f": "a", "sub/g": "b"})
	c := commitTree(t, r, src, "main")
	os.WriteFile(filepath.Join(src, "sub/g"), []byte("changed"), 0o644)
	os.Remove(filepath.Join(src, "f"))
	writeTree(t, src, map[string]string{"new/z": "y"})
	before, _ := os.ReadDir(filepath.Join(r.Path(), "objects"))
	var got []Change
	uid := os.Getuid()
	for _, opts := range []CommitOptions{{OwnerUID: -1, OwnerGID: -1}, {OwnerUID: uid + 1, OwnerGID: -1}} {
		got = got[:0]
		if err := r.DiffDir(context.Background(), c, src, opts, func(ch Change) error { got = append(got, ch); return nil }); err != nil {
			t.Fatal(err)
		}
		want := []Change{{'M', "/sub/g"}, {'D', "/f"}, {'A', "new"}, {'A', "new/z"}}
		if opts.OwnerUID >= 0 {
			want = []Change{{'M', "/sub"}, {'M', "/sub/g"}, {'D', "/f"}, {'A', "new"}, {'A', "new/z"}}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("uid %d: %v, want %v", opts.OwnerUID, got, want)
		}
	}
	after, _ := os.ReadDir(filepath.Join(r.Path(), "objects"))
	if len(after) != len(before) {
		t.Errorf("objects/ has %d entries after, %d before", len(after), len(before))
	}
}
