package store

import (
	"context"
	"io/fs"
	"path/filepath"
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

// Refs given depths of their own keep them; OnlyBranches leaves the other
// refs' history alone; CommitOnly leaves the rest of the objects.
func TestPruneRetainAndOnly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    PruneOptions
		commits int
		err     string
	}{
		{"depth 0", PruneOptions{RefsOnly: true, Depth: 0}, 2, ""},
		{"retain a", PruneOptions{Depth: 0, RetainDepth: map[string]int{"a": -1}}, 4, ""},
		{"only b", PruneOptions{Depth: 0, OnlyBranches: []string{"b"}}, 4, ""},
		{"only b, retain a=1", PruneOptions{Depth: 0, OnlyBranches: []string{"b"}, RetainDepth: map[string]int{"a": 1}}, 3, ""},
		{"only both depth 1", PruneOptions{Depth: 1, OnlyBranches: []string{"a", "b"}}, 4, ""},
		{"commit only", PruneOptions{RefsOnly: true, Depth: 0, CommitOnly: true}, 2, ""},
		{"only missing", PruneOptions{Depth: 0, OnlyBranches: []string{"nope"}}, 6, "Refspec 'nope' not found"},
	} {
		r, src := newRepo(t, ModeArchive)
		for i := range 3 {
			writeTree(t, src, map[string]string{"f": strings.Repeat("x", i+1)})
			commitTree(t, r, src, "a")
			writeTree(t, src, map[string]string{"f": strings.Repeat("y", i+1)})
			commitTree(t, r, src, "b")
		}
		others := func() int {
			n := 0
			filepath.WalkDir(filepath.Join(r.Path(), "objects"), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".commit") {
					n++
				}
				return nil
			})
			return n
		}
		before := others()
		_, err := r.Prune(context.Background(), tc.opts)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		cs, err := r.Commits(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != tc.commits {
			t.Errorf("%s: %d commits left, want %d", tc.name, len(cs), tc.commits)
		}
		if tc.opts.CommitOnly && others() != before {
			t.Errorf("%s: %d other objects left, want %d", tc.name, others(), before)
		}
	}
}
