package store

import (
	"errors"
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
