package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store/object"
)

// indexedTree commits files and a symlink link -> linkTo into an archive
// repository and writes its tree index, signed by signers.
func indexedTree(t *testing.T, files map[string]string, linkTo string, signers ...Signer) (*Repo, object.Checksum, *TreeIndex) {
	t.Helper()
	r, src := newRepo(t, ModeArchive)
	writeTree(t, src, files)
	if err := os.Symlink(linkTo, filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	c := commitTree(t, r, src, "main")
	if err := r.WriteTreeIndexes(context.Background(), signers...); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.Path(), TreeIndexPath(c)))
	if err != nil {
		t.Fatal(err)
	}
	ti, err := ParseTreeIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	return r, c, ti
}

// trustTree is a symlink, its target and a file larger than a header
// probe.
func trustTree(t *testing.T, signers ...Signer) (*Repo, object.Checksum, *TreeIndex) {
	return indexedTree(t, map[string]string{"target": "the real one", "bin/tool": strings.Repeat("x", 20000)}, "target", signers...)
}

// forge changes the entries of ti for which edit returns true and writes
// the result as c's index.
func forge(t *testing.T, r *Repo, c object.Checksum, ti *TreeIndex, edit func(f *IndexedFile) bool) []byte {
	t.Helper()
	n := 0
	for i := range ti.Files {
		if edit(&ti.Files[i]) {
			n++
		}
	}
	if n == 0 {
		t.Fatal("nothing forged")
	}
	b, err := ti.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Path(), TreeIndexPath(c)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func retarget(f *IndexedFile) bool {
	if !f.Header.IsSymlink() {
		return false
	}
	f.Header.Target = "/etc/shadow"
	return true
}

func TestTreeIndexRefusesRetargetedSymlink(t *testing.T) {
	r, c, ti := trustTree(t)
	b := forge(t, r, c, ti, retarget)
	if _, err := ParseTreeIndex(b); !errors.Is(err, ErrForgedIndex) || !strings.Contains(err.Error(), "/etc/shadow") {
		t.Fatalf("a symlink retargeted in the index: %v, want %v naming the target", err, ErrForgedIndex)
	}
}

func TestWriteTreeIndexesSigns(t *testing.T) {
	var signed [][]byte
	sign := func(b []byte) ([]byte, error) {
		signed = append(signed, bytes.Clone(b))
		return []byte("sig"), nil
	}
	r, c, _ := trustTree(t, sign)
	b, err := os.ReadFile(filepath.Join(r.Path(), TreeIndexPath(c)))
	if err != nil {
		t.Fatal(err)
	}
	if len(signed) != 1 || !bytes.Equal(signed[0], b) {
		t.Fatalf("signed %d times, want once over the index's bytes", len(signed))
	}
	sig, err := os.ReadFile(filepath.Join(r.Path(), TreeIndexSigPath(c)))
	if err != nil {
		t.Fatal(err)
	}
	md, err := object.ParseVarDict(sig)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := object.Lookup(md, GPGSigsKey); !ok || len(v.Value.([]any)) != 1 {
		t.Fatalf("signature file holds %v", md)
	}
	// Signed already: a later summary -u signs nothing again, and an
	// index written before signing began gets its signature then.
	if err := r.WriteTreeIndexes(context.Background(), sign); err != nil || len(signed) != 1 {
		t.Fatalf("signed again (%d, %v)", len(signed), err)
	}
	os.Remove(filepath.Join(r.Path(), TreeIndexSigPath(c)))
	if err := r.WriteTreeIndexes(context.Background(), sign); err != nil || len(signed) != 2 {
		t.Fatalf("an unsigned index was not signed (%d, %v)", len(signed), err)
	}
}

func TestCheckTreeIndexesFindsForgeries(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		edit   func(f *IndexedFile) bool
		verify func(data, sig []byte) error
		want   string
	}{
		{"retargeted symlink", retarget, nil, "/etc/shadow"},
		{"setuid claimed", func(f *IndexedFile) bool {
			if f.Header.IsSymlink() || f.Size < 10000 {
				return false
			}
			f.Header.Mode = 0o104755
			return true
		}, nil, "mode 104755"},
		{"size claimed", func(f *IndexedFile) bool {
			if f.Header.IsSymlink() {
				return false
			}
			f.Size++
			return true
		}, nil, "bytes"},
		{"signature", func(f *IndexedFile) bool { return true }, func(data, sig []byte) error {
			return errors.New("bad signature")
		}, "bad signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, c, ti := trustTree(t, func(b []byte) ([]byte, error) { return []byte("sig"), nil })
			if probs, err := r.CheckTreeIndexes(ctx, func(data, sig []byte) error { return nil }); err != nil || len(probs) != 0 {
				t.Fatalf("the genuine index: %v, %v", probs, err)
			}
			forge(t, r, c, ti, tc.edit)
			probs, err := r.CheckTreeIndexes(ctx, tc.verify)
			if err != nil {
				t.Fatal(err)
			}
			if len(probs) != 1 || probs[0].Object != TreeIndexPath(c) || !errors.Is(probs[0].Err, ErrForgedIndex) ||
				!strings.Contains(probs[0].Err.Error(), tc.want) {
				t.Fatalf("problems %v, want one for %s saying %q", probs, TreeIndexPath(c), tc.want)
			}
		})
	}
}
