package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store/index"
	"arbor/store/object"
)

// TestValidateMetaWords: corrupt metadata is named in the words scripts
// grep for, and is ErrCorrupt.
func TestValidateMetaWords(t *testing.T) {
	gt := object.DirTree{Files: []object.FileEntry{{Name: "a", Checksum: object.Sha256([]byte("a"))}}}
	bt := object.DirTree{Files: []object.FileEntry{{Name: "../afile", Checksum: object.Sha256([]byte("a"))}}}
	good, bad := gt.Marshal(), bt.Marshal()
	other := object.Sha256([]byte("other"))
	tests := []struct {
		name string
		ref  index.Ref
		data []byte
		want string
	}{
		{"checksum", index.Ref{Checksum: other, Type: object.TypeDirTree}, good,
			"Corrupted dirtree object; checksum expected='" + other.String() + "' actual='" + object.Sha256(good).String() + "'"},
		{"unsafe name", index.Ref{Checksum: object.Sha256(bad), Type: object.TypeDirTree}, bad,
			object.Sha256(bad).String() + ".dirtree: Invalid / in filename ../afile"},
	}
	for _, tc := range tests {
		err := ValidateMeta(tc.ref, tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v is not ErrCorrupt", tc.name, err)
		}
	}
	if err := ValidateMeta(index.Ref{Checksum: object.Sha256(good), Type: object.TypeDirTree}, good); err != nil {
		t.Errorf("a good dirtree: %v", err)
	}
}

// TestFsckDeleteMarksPartial: a missing object, or a corrupt one fsck
// deletes, leaves the commits reaching it marked partial; a corrupt one
// kept does not.
func TestFsckDeleteMarksPartial(t *testing.T) {
	for _, tc := range []struct {
		name        string
		damage      func(p string) error
		del         bool
		wantPartial bool
		wantWords   string
	}{
		{"missing", os.Remove, false, true, "Object missing: "},
		{"corrupt, deleted", appendJunk, true, true, "Corrupted file object;"},
		{"corrupt, kept", appendJunk, false, false, "Corrupted file object;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			r, err := Init(filepath.Join(tmp, "repo"), ModeBareUser)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			src := filepath.Join(tmp, "src")
			writeTree(t, src, map[string]string{"f": "content", "g": "other"})
			c := commitTree(t, r, src, "main")
			n, _ := r.Lookup(c, "/f")
			p := r.ObjectPath(n.File, object.TypeFile)
			if err := tc.damage(p); err != nil {
				t.Fatal(err)
			}
			res, err := r.FsckWith(context.Background(), FsckOptions{Delete: tc.del})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].String(), tc.wantWords) {
				t.Fatalf("problems %v, want one with %q", res.Problems, tc.wantWords)
			}
			if got := r.IsPartial(c); got != tc.wantPartial || (len(res.MarkedPartial) == 1) != tc.wantPartial {
				t.Errorf("partial %v (marked %v), want %v", got, res.MarkedPartial, tc.wantPartial)
			}
			_, statErr := os.Stat(p)
			if deleted := errors.Is(statErr, os.ErrNotExist); tc.del && (!deleted || len(res.Deleted) != 1) {
				t.Errorf("corrupt object not deleted: %v %v", statErr, res.Deleted)
			}
			if !tc.wantPartial {
				if s := res.Problems[0].String(); !strings.HasPrefix(s, "In commits "+c.String()+": fsck content object ") {
					t.Errorf("problem %q does not name the commit reaching it", s)
				}
				return
			}
			// Marked by fsck, the commit stays an error until pulled again.
			again, err := r.FsckWith(context.Background(), FsckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Problems) != 0 || again.FsckPartial != 1 {
				t.Errorf("second fsck: problems %v, fsck-partial %d; want none and 1", again.Problems, again.FsckPartial)
			}
		})
	}
}

// appendJunk changes a bare-user object's bytes, keeping its header.
func appendJunk(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("corrupted\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
