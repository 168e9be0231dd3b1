package index

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arbor/store/object"
)

// With the index held by another opener, a second one answers from the
// object files.
func TestFilesOnlyWhenLocked(t *testing.T) {
	dir := t.TempDir()
	objects := filepath.Join(dir, "objects")
	c := object.Sha256([]byte("x"))
	hex := c.String()
	if err := os.MkdirAll(filepath.Join(objects, hex[:2]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(objects, hex[:2], hex[2:]+".filez"), []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	first, err := Open(context.Background(), filepath.Join(dir, "index"), objects, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := Open(context.Background(), filepath.Join(dir, "index"), objects, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if !second.FilesOnly() {
		t.Fatal("the second opener got the database")
	}
	ref := Ref{Checksum: c, Type: object.TypeFile}
	if has, err := second.Has(ref); err != nil || !has {
		t.Fatalf("Has: %v %v", has, err)
	}
	if n, ok, err := second.Size(ref); err != nil || !ok || n != 5 {
		t.Fatalf("Size: %d %v %v", n, ok, err)
	}
	if has, _ := second.Has(Ref{Checksum: object.Sha256([]byte("y")), Type: object.TypeFile}); has {
		t.Fatal("Has: an absent object is present")
	}
	var seen []Entry
	if err := second.Objects(func(e Entry) error { seen = append(seen, e); return nil }); err != nil || len(seen) != 1 || seen[0].Ref != ref {
		t.Fatalf("Objects: %v %v", seen, err)
	}
}

// A writer's own renames into a directory the index knew whole leave its
// stamp current: the next sync does not list the directory again (here
// shown by a file slipped in with the same mtime, which it does not see).
// Where the index did not know the directory whole, it lists it.
func TestAddWrittenKeepsStamps(t *testing.T) {
	for _, x := range []struct {
		name       string
		knownFirst bool // the index scanned the directory before the write
		skewBefore bool // the directory changed between that scan and the write
		wantSeen   bool // the slipped-in file is found by the next sync
	}{
		{"known whole", true, false, false},
		{"changed meanwhile", true, true, true},
		{"new directory", false, false, false},
	} {
		t.Run(x.name, func(t *testing.T) {
			dir := t.TempDir()
			objects := filepath.Join(dir, "objects")
			sub := filepath.Join(objects, "ab")
			put := func(name string) {
				t.Helper()
				if err := os.WriteFile(filepath.Join(sub, name), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			mtime := func() int64 {
				t.Helper()
				st, err := os.Stat(sub)
				if err != nil {
					t.Fatal(err)
				}
				return st.ModTime().UnixNano()
			}
			old := time.Now().Add(-time.Hour)
			if x.knownFirst {
				if err := os.MkdirAll(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				put(strings.Repeat("1", 62) + ".filez")
				os.Chtimes(sub, old, old)
			}
			ix, err := Open(context.Background(), filepath.Join(dir, "index"), objects, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			if x.skewBefore {
				put(strings.Repeat("3", 62) + ".filez")
				os.Chtimes(sub, old.Add(time.Second), old.Add(time.Second))
			}
			os.MkdirAll(sub, 0o755)
			before := mtime()
			written := strings.Repeat("2", 62) + ".filez"
			put(written)
			after := time.Now().Add(-time.Minute) // out of the racy window
			os.Chtimes(sub, after, after)
			c, _ := object.ParseChecksum("ab" + strings.Repeat("2", 62))
			if err := ix.AddWritten([]Entry{{Ref: Ref{Checksum: c, Type: object.TypeFile}}}, []DirWrite{{Prefix: 0xab, Before: before, After: mtime()}}); err != nil {
				t.Fatal(err)
			}
			slipped := strings.Repeat("4", 62) + ".filez"
			put(slipped)
			os.Chtimes(sub, after, after)
			if err := ix.Sync(); err != nil {
				t.Fatal(err)
			}
			s, _ := object.ParseChecksum("ab" + strings.Repeat("4", 62))
			seen, err := ix.Has(Ref{Checksum: s, Type: object.TypeFile})
			if err != nil || seen != x.wantSeen {
				t.Errorf("after the sync the slipped-in object is known: %v (%v), want %v", seen, err, x.wantSeen)
			}
			if has, _ := ix.Has(Ref{Checksum: c, Type: object.TypeFile}); !has {
				t.Error("the written object is not known")
			}
		})
	}
}
