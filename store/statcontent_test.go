package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store/object"
)

// StatContent gives what opening the object gives, from the header
// alone in an archive repository, and names an object whose header is
// cut short.
func TestStatContent(t *testing.T) {
	for _, mode := range []Mode{ModeArchive, ModeBareUser} {
		t.Run(mode.String(), func(t *testing.T) {
			r, src := newRepo(t, mode)
			writeTree(t, src, map[string]string{"big": strings.Repeat("content ", 100000), "small": "s", "empty": ""})
			if err := os.Symlink("small", filepath.Join(src, "link")); err != nil {
				t.Fatal(err)
			}
			c := commitTree(t, r, src, "main")
			root, err := r.RootNode(c)
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]object.Checksum{}
			if err := r.Walk(context.Background(), c, root, func(n Node) error {
				if !n.IsDir {
					files[n.Path] = n.File
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(files) != 4 {
				t.Fatalf("walked %d files, want 4", len(files))
			}
			for p, fc := range files {
				h, size, err := r.StatContent(fc)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				ct, err := r.OpenContent(fc)
				if err != nil {
					t.Fatal(err)
				}
				ct.Close()
				if size != ct.Size || h.Mode != ct.Header.Mode || h.Target != ct.Header.Target || h.UID != ct.Header.UID {
					t.Errorf("%s: stat %+v %d, open %+v %d", p, h, size, ct.Header, ct.Size)
				}
			}
			if mode != ModeArchive {
				return
			}
			obj := r.ObjectPath(files["/big"], object.TypeFile)
			if err := os.Truncate(obj, 12); err != nil {
				t.Fatal(err)
			}
			if _, _, err := r.StatContent(files["/big"]); err == nil || !strings.Contains(err.Error(), files["/big"].String()) {
				t.Errorf("a header cut short: %v, want an error naming the object", err)
			}
		})
	}
}
