package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store/object"
)

// fsck names the commits reaching a corrupt object; with Delete it
// removes the object and marks those commits partial by fsck, which keeps
// later checks failing until the commit is complete again.
func TestFsckDeleteMarksPartial(t *testing.T) {
	for _, c := range []struct {
		name   string
		delete bool
	}{
		{"report", false},
		{"delete", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			r, err := Init(filepath.Join(tmp, "repo"), ModeArchive)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			src := filepath.Join(tmp, "src")
			writeTree(t, src, map[string]string{"f": "content", "g": "other"})
			commit := commitTree(t, r, src, "main")
			n, _ := r.Lookup(commit, "/f")
			p := r.ObjectPath(n.File, object.TypeFile)
			os.Remove(p)
			if err := os.WriteFile(p, []byte("whoops\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := r.FsckWith(context.Background(), FsckOptions{Delete: c.delete}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) != 1 || len(res.Problems[0].Commits) != 1 || res.Problems[0].Commits[0] != commit {
				t.Fatalf("problems %+v, want one reached by %s", res.Problems, commit)
			}
			if s := res.Problems[0].String(); !strings.HasPrefix(s, "In commits "+commit.String()+": ") {
				t.Errorf("problem reads %q", s)
			}
			if res.Problems[0].Deleted != c.delete {
				t.Errorf("deleted %v, want %v", res.Problems[0].Deleted, c.delete)
			}
			_, statErr := os.Stat(p)
			if gone := os.IsNotExist(statErr); gone != c.delete {
				t.Errorf("object gone %v, want %v", gone, c.delete)
			}
			if r.PartialByFsck(commit) != c.delete || r.IsPartial(commit) != c.delete {
				t.Errorf("commit partial by fsck %v, want %v", r.PartialByFsck(commit), c.delete)
			}
			again, err := r.Fsck(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.delete && (again.FsckPartial != 1 || len(again.Problems) != 0) {
				t.Errorf("after delete: %+v, want one fsck-partial commit and no problems", again)
			}
		})
	}
}
