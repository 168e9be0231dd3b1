package store

import (
	"context"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"arbor/store/object"
)

func TestLinkContent(t *testing.T) {
	tests := []struct {
		name     string
		dstMode  Mode
		corrupt  bool
		chmod    os.FileMode // the source object's mode, when set
		wantLink bool
	}{
		{name: "same mode links", dstMode: ModeArchive, wantLink: true},
		{name: "other mode copies", dstMode: ModeBareUser},
		{name: "damaged source is not linked", dstMode: ModeArchive, corrupt: true},
		// Shared, the inode could be changed by others after the check.
		{name: "source others may write is copied", dstMode: ModeArchive, chmod: 0o666},
		{name: "source its group may write is copied", dstMode: ModeArchive, chmod: 0o664},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dir := newRepo(t, ModeArchive)
			writeTree(t, dir, map[string]string{"f": "some file content"})
			c := commitTree(t, src, dir, "main")
			n, err := src.Lookup(c, "/f")
			if err != nil {
				t.Fatal(err)
			}
			obj := n.File
			srcPath := src.ObjectPath(obj, object.TypeFile)
			if tt.corrupt {
				// Same length, other bytes: only hashing tells.
				b, err := os.ReadFile(srcPath)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)-1] ^= 0xff
				os.Chmod(srcPath, 0o644)
				if err := os.WriteFile(srcPath, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.chmod != 0 {
				if err := os.Chmod(srcPath, tt.chmod); err != nil {
					t.Fatal(err)
				}
			}
			dst, _ := newRepo(t, tt.dstMode)
			txn, err := dst.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer txn.Abort()
			linked, err := txn.LinkContent(src, obj)
			if err != nil {
				t.Fatal(err)
			}
			if linked != tt.wantLink {
				t.Fatalf("linked = %v, want %v", linked, tt.wantLink)
			}
			if err := txn.Commit(); err != nil {
				t.Fatal(err)
			}
			has, _ := dst.HasObject(obj, object.TypeFile)
			if has != tt.wantLink {
				t.Fatalf("object stored = %v, want %v", has, tt.wantLink)
			}
			if !tt.wantLink {
				return
			}
			var a, b unix.Stat_t
			if err := unix.Stat(srcPath, &a); err != nil {
				t.Fatal(err)
			}
			if err := unix.Stat(dst.ObjectPath(obj, object.TypeFile), &b); err != nil {
				t.Fatal(err)
			}
			if a.Ino != b.Ino {
				t.Errorf("stored object is a copy (inode %d), not a link to %d", b.Ino, a.Ino)
			}
		})
	}
}
