package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"arbor/store/object"
)

// A symlink object staged in a bare repository is the object: opening it
// from the transaction never follows it (to a file beside it, here).
func TestStagedSymlinkNotFollowed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a bare repository keeps owners: needs root")
	}
	r, err := Init(filepath.Join(t.TempDir(), "repo"), ModeBare)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	txn, err := r.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Abort()
	h := &object.FileHeader{Mode: object.ModeSymlink | 0o777, Target: "decoy"}
	c := object.ContentChecksum(h, nil)
	if err := txn.AddContent(c, h, 0, bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	// A file where the link's target would resolve, in the staging place.
	rel := object.Path(c, object.TypeFile, false)
	staged := filepath.Join(txn.staging, rel[len("objects/"):])
	if err := os.WriteFile(filepath.Join(filepath.Dir(staged), "decoy"), []byte("not the object"), 0o644); err != nil {
		t.Fatal(err)
	}
	ct, err := txn.OpenContent(c)
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	if !ct.Header.IsSymlink() || ct.Header.Target != "decoy" || ct.Size != 0 {
		t.Errorf("the staged symlink was opened as %+v, size %d", ct.Header, ct.Size)
	}
}
