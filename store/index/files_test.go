package index

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"arbor/store/object"
)

// With the index held by another opener, a second one answers from the
// object files.
func TestFilesOnlyWhenLocked(t *testing.T) {
	dir := t.TempDir()
	objects := filepath.Join(dir, "objects")
	c := object.Sha256([]byte("x"))
	hex := c.String()
	if err := os.MkdirAll(filepath.Join(objects, hex[:2]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(objects, hex[:2], hex[2:]+".filez"), []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	first, err := Open(context.Background(), filepath.Join(dir, "index"), objects, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := Open(context.Background(), filepath.Join(dir, "index"), objects, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if !second.FilesOnly() {
		t.Fatal("the second opener got the database")
	}
	ref := Ref{Checksum: c, Type: object.TypeFile}
	if has, err := second.Has(ref); err != nil || !has {
		t.Fatalf("Has: %v %v", has, err)
	}
	if n, ok, err := second.Size(ref); err != nil || !ok || n != 5 {
		t.Fatalf("Size: %d %v %v", n, ok, err)
	}
	if has, _ := second.Has(Ref{Checksum: object.Sha256([]byte("y")), Type: object.TypeFile}); has {
		t.Fatal("Has: an absent object is present")
	}
	var seen []Entry
	if err := second.Objects(func(e Entry) error { seen = append(seen, e); return nil }); err != nil || len(seen) != 1 || seen[0].Ref != ref {
		t.Fatalf("Objects: %v %v", seen, err)
	}
}
