package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"arbor/store/index"
	"arbor/store/object"
)

// What a killed writer staged is taken in by the next transaction when it
// is whole, and dropped when it is not; commits are always dropped.
func TestAdoptStaged(t *testing.T) {
	for _, mode := range []Mode{ModeBareUser, ModeArchive} {
		t.Run(mode.String(), func(t *testing.T) {
			r, err := Init(filepath.Join(t.TempDir(), "repo"), mode)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			ctx := context.Background()
			dead, err := r.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			add := func(data string) object.Checksum {
				h := &object.FileHeader{Mode: object.ModeRegular | 0o644}
				c := object.ContentChecksum(h, []byte(data))
				if err := dead.AddContent(c, h, uint64(len(data)), bytes.NewReader([]byte(data))); err != nil {
					t.Fatal(err)
				}
				return c
			}
			whole := add("a whole file")
			cut := add("a file the writer did not finish writing")
			dt := object.DirTree{Files: []object.FileEntry{{Name: "f", Checksum: whole}}}
			tree, err := dead.WriteMeta(object.TypeDirTree, dt.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			commit, err := dead.WriteMeta(object.TypeCommit, []byte("a commit"))
			if err != nil {
				t.Fatal(err)
			}
			// The writer dies: its lock goes, its directory stays, one of
			// its files half written.
			cutPath := filepath.Join(dead.staging, object.Path(cut, object.TypeFile, mode == ModeArchive)[len("objects/"):])
			fi, err := os.Stat(cutPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(cutPath, fi.Size()-5); err != nil {
				t.Fatal(err)
			}
			deadDir := dead.staging
			dead.lock.Close()
			dead.unlock()

			txn, err := r.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := txn.Commit(); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				ref  index.Ref
				want bool
			}{
				{index.Ref{Checksum: whole, Type: object.TypeFile}, true},
				{index.Ref{Checksum: tree, Type: object.TypeDirTree}, true},
				{index.Ref{Checksum: cut, Type: object.TypeFile}, false},
				{index.Ref{Checksum: commit, Type: object.TypeCommit}, false},
			} {
				has, err := r.HasObject(tc.ref.Checksum, tc.ref.Type)
				if err != nil || has != tc.want {
					t.Errorf("%s stored: %v (%v), want %v", object.Name(tc.ref.Checksum, tc.ref.Type), has, err, tc.want)
				}
				if tc.want {
					if err := r.VerifyObject(tc.ref); err != nil {
						t.Errorf("%s: %v", object.Name(tc.ref.Checksum, tc.ref.Type), err)
					}
				}
			}
			if _, err := os.Stat(deadDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the dead writer's staging directory is still there: %v", err)
			}
		})
	}
}
