package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"arbor/store/object"
	"arbor/tests/testutil"
)

// A symlink object staged in a bare repository is the object: opening it
// from the transaction never follows it (to a file beside it, here).
func TestStagedSymlinkNotFollowed(t *testing.T) {
	testutil.Privileged(t) // a bare repository keeps owners: root
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

// A ref write a killed command left behind (a dot file beside the refs)
// is not a ref: listing refs still works.
func TestRefsSkipLeftoverTemporaryFiles(t *testing.T) {
	r, err := Init(filepath.Join(t.TempDir(), "repo"), ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := object.Sha256([]byte("x"))
	if err := r.SetRef("ostree/1/1/0", c); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(r.Path(), "refs/heads/ostree/1/1/.1.tmp123")
	if err := os.WriteFile(left, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, list := range []func() (map[string]object.Checksum, error){r.Refs, func() (map[string]object.Checksum, error) { return r.LocalRefs("ostree") }} {
		refs, err := list()
		if err != nil || len(refs) != 1 || refs["ostree/1/1/0"] != c {
			t.Errorf("refs with a leftover temporary file: %v, %v", refs, err)
		}
	}
}

// Two writers staging the same objects both commit, and every object
// reads back whole.
func TestConcurrentTxnsSameObjects(t *testing.T) {
	r, err := Init(filepath.Join(t.TempDir(), "repo"), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var txns []*Txn
	for i := 0; i < 2; i++ {
		txn, err := r.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer txn.Abort()
		txns = append(txns, txn)
	}
	var sums []object.Checksum
	for i := 0; i < 300; i++ {
		data := []byte(fmt.Sprintf("object %d", i))
		h := &object.FileHeader{Mode: object.ModeRegular | 0o644}
		c := object.ContentChecksum(h, data)
		sums = append(sums, c)
		for _, txn := range txns {
			if err := txn.AddContent(c, h, uint64(len(data)), bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, txn := range txns {
		if err := txn.Commit(); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	for i, c := range sums {
		ct, err := r.OpenContent(c)
		if err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
		b, err := io.ReadAll(ct)
		ct.Close()
		if err != nil || string(b) != fmt.Sprintf("object %d", i) {
			t.Fatalf("object %d reads %q, %v", i, b, err)
		}
	}
}
