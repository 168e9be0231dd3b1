package store

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"arbor/store/index"
	"arbor/store/object"
)

// A metadata object from a file on the same filesystem is hardlinked only
// when the file holds the verified bytes; otherwise they are written.
func TestAddMetaLinked(t *testing.T) {
	data := object.DirMeta{Mode: 0o40755}.Marshal()
	ref := index.Ref{Checksum: object.Sha256(data), Type: object.TypeDirMeta}
	for _, c := range []struct {
		name   string
		file   []byte
		linked bool
	}{
		{"same bytes", data, true},
		{"other bytes", append([]byte{1}, data[1:]...), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			r, err := Init(filepath.Join(tmp, "repo"), ModeArchive)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			src := filepath.Join(tmp, "src")
			if err := os.WriteFile(src, c.file, 0o644); err != nil {
				t.Fatal(err)
			}
			txn, err := r.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := txn.AddMetaLinked(ref, data, src); err != nil {
				t.Fatal(err)
			}
			if err := txn.Commit(); err != nil {
				t.Fatal(err)
			}
			got, err := r.ReadMeta(ref.Checksum, ref.Type)
			if err != nil || string(got) != string(data) {
				t.Fatalf("stored %x %v", got, err)
			}
			a, _ := os.Stat(src)
			b, _ := os.Stat(r.ObjectPath(ref.Checksum, ref.Type))
			if same := a.Sys().(*syscall.Stat_t).Ino == b.Sys().(*syscall.Stat_t).Ino; same != c.linked {
				t.Errorf("linked %v, want %v", same, c.linked)
			}
		})
	}
}
