package store

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"arbor/store/object"
)

func TestCheckBareUserOnly(t *testing.T) {
	for _, c := range []struct {
		mode uint32
		ok   bool
	}{
		{0o100644, true},
		{0o100775, true},
		{0o120777, true}, // symlinks keep their mode
		{0o104755, false},
		{0o102755, false},
		{0o100666, false},
		{0o40755, false},
	} {
		err := CheckBareUserOnly(object.Zero, &object.FileHeader{Mode: c.mode})
		if (err == nil) != c.ok {
			t.Errorf("mode %o: %v, want ok %v", c.mode, err, c.ok)
		}
	}
}

// A content object is linked from another repository only when the
// linked file hashes to its name.
func TestAddContentLinked(t *testing.T) {
	tmp := t.TempDir()
	src, err := Init(filepath.Join(tmp, "src"), ModeBareUserOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := filepath.Join(tmp, "files")
	writeTree(t, dir, map[string]string{"good": "good bytes", "bad": "bad bytes"})
	commit := commitTree(t, src, dir, "main")
	for _, c := range []struct {
		name   string
		linked bool
	}{{"good", true}, {"bad", false}} {
		n, err := src.Lookup(commit, "/"+c.name)
		if err != nil {
			t.Fatal(err)
		}
		p := src.ObjectPath(n.File, object.TypeFile)
		if !c.linked {
			if err := os.WriteFile(p, []byte("corrupt"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dst, err := Init(filepath.Join(tmp, "dst-"+c.name), ModeBareUserOnly)
		if err != nil {
			t.Fatal(err)
		}
		txn, err := dst.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		linked, err := txn.AddContentLinked(n.File, p)
		if err != nil || linked != c.linked {
			t.Errorf("%s: linked %v %v, want %v", c.name, linked, err, c.linked)
		}
		if err := txn.Commit(); err != nil {
			t.Fatal(err)
		}
		a, _ := os.Stat(p)
		b, err := os.Stat(dst.ObjectPath(n.File, object.TypeFile))
		if c.linked != (err == nil && a.Sys().(*syscall.Stat_t).Ino == b.Sys().(*syscall.Stat_t).Ino) {
			t.Errorf("%s: object stored as a link %v, want %v", c.name, err == nil, c.linked)
		}
		dst.Close()
	}
}
