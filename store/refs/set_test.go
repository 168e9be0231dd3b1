package refs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"arbor/store/object"
)

// A ref set again to the commit it holds is left as it is (the same
// file), one set to another commit is replaced, and a file that only
// starts with the checksum is rewritten whole.
func TestSetUnchanged(t *testing.T) {
	d := Dir(t.TempDir())
	c1, _ := object.ParseChecksum(strings.Repeat("1", 64))
	c2, _ := object.ParseChecksum(strings.Repeat("2", 64))
	p := d.path("origin", "app/x")
	ino := func() uint64 {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	for _, fsync := range []bool{false, true} {
		if err := d.Set("origin:app/x", c1, fsync); err != nil {
			t.Fatal(err)
		}
		before := ino()
		if err := d.Set("origin:app/x", c1, fsync); err != nil {
			t.Fatal(err)
		}
		if ino() != before {
			t.Errorf("fsync=%v: a ref set to the commit it holds was written again", fsync)
		}
		if err := d.Set("origin:app/x", c2, fsync); err != nil {
			t.Fatal(err)
		}
		if c, err := d.Read("origin:app/x"); err != nil || c != c2 {
			t.Errorf("fsync=%v: after a change the ref reads %s, %v", fsync, c, err)
		}
		if err := os.WriteFile(p, []byte(c1.String()+"\nmore"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := d.Set("origin:app/x", c1, fsync); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != c1.String()+"\n" {
			t.Errorf("fsync=%v: a ref file with more after the checksum reads %q after Set", fsync, b)
		}
		os.Remove(p)
	}
	if ents, _ := os.ReadDir(filepath.Dir(p)); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
