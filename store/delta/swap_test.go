package delta

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"arbor/store"
	"arbor/store/object"
)

// TestSwappedSuperblockReadsTheSame: a superblock written in the other
// byte order is marked so and reads back with the same numbers.
func TestSwappedSuperblockReadsTheSame(t *testing.T) {
	tmp := t.TempDir()
	r := initRepo(t, filepath.Join(tmp, "repo"), store.ModeArchive)
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("some content for a delta"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _, err := r.CommitDir(context.Background(), src, store.CommitOptions{Branch: "main", OwnerUID: 0, OwnerGID: 0, NoXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	read := func(swap bool) *Superblock {
		o := DefaultGenerateOptions()
		o.To, o.SwapEndianness = c, swap
		if _, _, err := Generate(context.Background(), r, o); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(r.Path(), Ref{To: c}.Dir(), "superblock"))
		if err != nil {
			t.Fatal(err)
		}
		sb, err := ParseSuperblock(b)
		if err != nil {
			t.Fatal(err)
		}
		return sb
	}
	plain, swapped := read(false), read(true)
	// The uncompressed size is ostree's: the bytes of the objects made.
	var want uint64
	for _, p := range plain.Parts {
		for _, o := range p.Objects {
			if o.Type == object.TypeFile {
				ct, err := r.OpenContent(o.Checksum)
				if err != nil {
					t.Fatal(err)
				}
				want += ct.Size
				ct.Close()
				continue
			}
			b, err := r.ReadMeta(o.Checksum, o.Type)
			if err != nil {
				t.Fatal(err)
			}
			want += uint64(len(b))
		}
	}
	var got uint64
	for _, p := range plain.Parts {
		got += p.Uncompressed
	}
	if got != want {
		t.Errorf("uncompressed size %d, want the objects' %d", got, want)
	}
	if plain.BigEndian || !swapped.BigEndian {
		t.Fatalf("byte orders read as big=%v and big=%v", plain.BigEndian, swapped.BigEndian)
	}
	if len(plain.Parts) == 0 || len(plain.Parts) != len(swapped.Parts) {
		t.Fatalf("%d parts, swapped %d", len(plain.Parts), len(swapped.Parts))
	}
	for i := range plain.Parts {
		p, s := plain.Parts[i], swapped.Parts[i]
		if p.Size != s.Size || p.Uncompressed != s.Uncompressed || p.Uncompressed == 0 {
			t.Errorf("part %d: %d/%d, swapped %d/%d", i, p.Size, p.Uncompressed, s.Size, s.Uncompressed)
		}
	}
}
