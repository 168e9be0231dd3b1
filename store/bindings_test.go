package store

import (
	"context"
	"strings"
	"testing"

	"arbor/store/object"
)

func TestVerifyBindings(t *testing.T) {
	bound := []object.MetaEntry{object.Strings(KeyRefBinding, []string{"ref1", "ref2"}), object.String(KeyCollectionBinding, "org.example.A")}
	refsOnly := []object.MetaEntry{object.Strings(KeyRefBinding, []string{"ref1"})}
	for _, tc := range []struct {
		name            string
		md              []object.MetaEntry
		collection, ref string
		err             string // substring; "" for none
	}{
		{"bound", bound, "org.example.A", "ref2", ""},
		{"no ref asked", bound, "", "", ""},
		{"unbound ref", bound, "", "new", "Commit has no requested ref ‘new’ in ref binding metadata (‘ref1’, ‘ref2’)"},
		{"other collection", bound, "org.example.B", "ref1", "collection ID ‘org.example.A’ in collection binding metadata, while the remote it came from has collection ID ‘org.example.B’"},
		{"old commit, no collection", nil, "", "ref1", ""},
		{"old commit, collection", nil, "org.example.A", "ref1", "Expected commit metadata to have ref binding information"},
		{"no collection binding", refsOnly, "org.example.A", "ref1", "Expected commit metadata to have collection ID binding information"},
		{"empty binding", []object.MetaEntry{object.Strings(KeyRefBinding, nil)}, "", "x", "(no refs)"},
	} {
		err := VerifyBindings(tc.md, tc.collection, tc.ref)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		}
	}
}

// A deleted commit leaves a tombstone that storing it again removes, and
// a commit a ref points at is not deleted.
func TestDeleteCommitTombstone(t *testing.T) {
	r, src := newRepo(t, ModeArchive)
	writeTree(t, src, map[string]string{"a": "1"})
	c := commitTree(t, r, src, "main")
	if err := r.deleteCommit(context.Background(), map[string]object.Checksum{"main": c}, c); err == nil || !strings.Contains(err.Error(), "is referenced by 'main'") {
		t.Fatalf("deleting a ref's commit: %v", err)
	}
	if err := r.deleteCommit(context.Background(), nil, c); err != nil {
		t.Fatal(err)
	}
	if !r.TombstonesEnabled() {
		t.Error("tombstones not turned on")
	}
	if ok, _ := r.HasTombstone(c); !ok {
		t.Error("no tombstone")
	}
	if ok, _ := r.HasObject(c, object.TypeCommit); ok {
		t.Error("commit still there")
	}
	if err := r.DeleteRef("main"); err != nil {
		t.Fatal(err)
	}
	if c2 := commitTree(t, r, src, "main"); c2 != c {
		t.Fatalf("recommit gave %s, want %s", c2, c)
	}
	if ok, _ := r.HasTombstone(c); ok {
		t.Error("tombstone outlives the commit stored again")
	}
}
