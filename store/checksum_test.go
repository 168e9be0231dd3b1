package store

import (
	"os"
	"path/filepath"
	"testing"
)

// A file's checksum is that of the object committing it makes.
func TestFileChecksumMatchesCommit(t *testing.T) {
	tmp := t.TempDir()
	r, err := Init(filepath.Join(tmp, "repo"), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := filepath.Join(tmp, "src")
	writeTree(t, src, map[string]string{"f": "content", "empty": ""})
	if err := os.Symlink("f", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	c := commitTree(t, r, src, "main")
	for _, name := range []string{"f", "empty", "link"} {
		n, err := r.Lookup(c, "/"+name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := FileChecksum(filepath.Join(src, name), false)
		if err != nil || got != n.File {
			t.Errorf("%s: %s %v, want %s", name, got, err, n.File)
		}
	}
	if _, err := FileChecksum(src, false); err == nil {
		t.Error("a directory got a file checksum")
	}
}
