package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"arbor/store/object"
)

// A commit's tree given as a source takes the commit's ownership and
// mode options, as a directory does, unless it is taken as it is (a base).
func TestCommitRewritesCommitSources(t *testing.T) {
	tmp := t.TempDir()
	r, err := Init(filepath.Join(tmp, "repo"), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := filepath.Join(tmp, "src")
	writeTree(t, src, map[string]string{"d/f": "content", "x": "#!/bin/sh\n"})
	if err := os.Chmod(filepath.Join(src, "x"), 0o775); err != nil {
		t.Fatal(err)
	}
	base := commitTree(t, r, src, "main")
	header := func(c object.Checksum, p string) object.FileHeader {
		t.Helper()
		n, err := r.Lookup(c, p)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := r.OpenContent(n.File)
		if err != nil {
			t.Fatal(err)
		}
		defer ct.Close()
		return ct.Header
	}
	orig := header(base, "/d/f")
	for _, c := range []struct {
		name     string
		src      TreeSource
		opts     CommitOptions
		uid      uint32
		xMode    uint32
		sameTree bool
	}{
		{"no options", TreeSource{Commit: base}, CommitOptions{OwnerUID: -1, OwnerGID: -1}, orig.UID, 0o100775, true},
		{"owner", TreeSource{Commit: base}, CommitOptions{OwnerUID: 42, OwnerGID: -1}, 42, 0o100775, false},
		{"as is", TreeSource{Commit: base, AsIs: true}, CommitOptions{OwnerUID: 42, OwnerGID: -1}, orig.UID, 0o100775, true},
		{"ro executables", TreeSource{Commit: base}, CommitOptions{OwnerUID: -1, OwnerGID: -1, ModeRoExecutables: true}, orig.UID, 0o100555, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Orphan, c.opts.Timestamp = true, time.Unix(1700000000, 0)
			sum, _, err := r.CommitTrees(context.Background(), []TreeSource{c.src}, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if h := header(sum, "/d/f"); h.UID != c.uid || h.Mode != orig.Mode {
				t.Errorf("d/f uid %d mode %o, want %d %o", h.UID, h.Mode, c.uid, orig.Mode)
			}
			if h := header(sum, "/x"); h.Mode != c.xMode {
				t.Errorf("x mode %o, want %o", h.Mode, c.xMode)
			}
			bc, _ := r.ReadCommit(base)
			nc, _ := r.ReadCommit(sum)
			if (bc.RootTree == nc.RootTree) != c.sameTree {
				t.Errorf("same root tree %v, want %v", bc.RootTree == nc.RootTree, c.sameTree)
			}
			if res, err := r.Fsck(context.Background(), nil); err != nil || len(res.Problems) != 0 {
				t.Errorf("fsck: %v %+v", err, res)
			}
		})
	}
}
