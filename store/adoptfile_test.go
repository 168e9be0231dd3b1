package store

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"arbor/store/object"
)

// commit --consume makes a file that already is its object the object
// itself in a bare-user-only repository, and copies it elsewhere.
func TestConsumeAdoptsFiles(t *testing.T) {
	for _, c := range []struct {
		mode    Mode
		perm    os.FileMode
		adopted bool
	}{
		{ModeBareUserOnly, 0o644, true},
		{ModeBareUserOnly, 0o666, false}, // o+w: the object's mode differs
		{ModeArchive, 0o644, false},
	} {
		tmp := t.TempDir()
		r, err := Init(filepath.Join(tmp, "repo"), c.mode)
		if err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(tmp, "src")
		writeTree(t, src, map[string]string{"f": "eat me"})
		f := filepath.Join(src, "f")
		if err := os.Chmod(f, c.perm); err != nil {
			t.Fatal(err)
		}
		saved := filepath.Join(tmp, "saved")
		if err := os.Link(f, saved); err != nil {
			t.Fatal(err)
		}
		sum, _, err := r.CommitDir(context.Background(), src, CommitOptions{Branch: "main", OwnerUID: -1, OwnerGID: -1,
			Consume: true, Timestamp: time.Unix(1700000000, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(src); !os.IsNotExist(err) {
			t.Errorf("%s: the consumed directory is still there", c.mode)
		}
		n, err := r.Lookup(sum, "/f")
		if err != nil {
			t.Fatal(err)
		}
		a, err1 := os.Stat(saved)
		b, err2 := os.Stat(r.ObjectPath(n.File, object.TypeFile))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if same := a.Sys().(*syscall.Stat_t).Ino == b.Sys().(*syscall.Stat_t).Ino; same != c.adopted {
			t.Errorf("%s %o: adopted %v, want %v", c.mode, c.perm, same, c.adopted)
		}
		if res, err := r.Fsck(context.Background(), nil); err != nil || len(res.Problems) != 0 {
			t.Errorf("%s: fsck %v %+v", c.mode, err, res)
		}
		r.Close()
	}
}
