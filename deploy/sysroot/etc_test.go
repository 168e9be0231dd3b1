package sysroot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func put(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The three-way merge: local changes win, local deletions stay deleted,
// what was not touched locally follows the new defaults.
func TestMergeEtc(t *testing.T) {
	dir := t.TempDir()
	orig, mod, next := filepath.Join(dir, "orig"), filepath.Join(dir, "mod"), filepath.Join(dir, "new")
	put(t, orig, map[string]string{"a": "a1", "b": "b1", "c": "c1", "link": "->a", "d/x": "x1", "gone/y": "y1"})
	put(t, mod, map[string]string{"a": "LOCAL", "b": "b1", "link": "->b", "d/x": "x1", "added/z": "z", "added/deep/w": "w", "new": "n"})
	if err := os.Chmod(filepath.Join(mod, "b"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(mod, "new"), "user.arbor.test", []byte("kept"), 0); err != nil {
		t.Fatal(err)
	}
	put(t, next, map[string]string{"a": "a2", "b": "b2", "c": "c2", "link": "->a", "d/x": "x2", "gone/y": "y2", "fresh": "f2"})

	changes, err := diffEtc(orig, mod)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, string(c.Kind)+" "+c.Path)
	}
	want := "M a|A added|A added/deep|A added/deep/w|A added/z|M b|D c|D gone|M link|A new"
	if strings.Join(got, "|") != want {
		t.Errorf("diff:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}

	n, err := mergeEtc(orig, mod, next)
	if err != nil {
		t.Fatal(err)
	}
	if n != (EtcCounts{Modified: 3, Removed: 2, Added: 2}) {
		t.Errorf("counts %+v", n)
	}
	for _, c := range []struct{ path, want string }{
		{"a", "LOCAL"}, {"b", "b1"}, {"d/x", "x2"}, {"fresh", "f2"}, {"added/z", "z"}, {"added/deep/w", "w"}, {"new", "n"},
	} {
		b, err := os.ReadFile(filepath.Join(next, c.path))
		if err != nil || string(b) != c.want {
			t.Errorf("%s = %q, %v; want %q", c.path, b, err, c.want)
		}
	}
	for _, p := range []string{"c", "gone"} {
		if _, err := os.Lstat(filepath.Join(next, p)); err == nil {
			t.Errorf("%s, deleted locally, is back", p)
		}
	}
	if fi, err := os.Stat(filepath.Join(next, "b")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("b's local mode: %v %v", fi, err)
	}
	buf := make([]byte, 16)
	if n, err := unix.Getxattr(filepath.Join(next, "new"), "user.arbor.test", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("the added file's xattr: %q, %v", buf[:max(n, 0)], err)
	}
	if target, err := os.Readlink(filepath.Join(next, "link")); err != nil || target != "b" {
		t.Errorf("link = %q, %v", target, err)
	}
}

func TestParseName(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for _, c := range []struct {
		name   string
		serial int
		ok     bool
	}{
		{sum + ".0", 0, true}, {sum + ".12", 12, true}, {sum, 0, false}, {sum + ".-1", 0, false},
		{"zz.0", 0, false}, {sum + ".x", 0, false}, {"../" + sum + ".0", 0, false},
	} {
		_, serial, err := parseName(c.name)
		if (err == nil) != c.ok || c.ok && serial != c.serial {
			t.Errorf("parseName(%q) = %d, %v", c.name, serial, err)
		}
	}
}

func TestParseEntry(t *testing.T) {
	e := parseEntry([]byte("title Test OS 2.0 (ostree:0)\nversion 2\noptions root=LABEL=root quiet ostree=/ostree/boot.0/testos/abc/0\nlinux /ostree/x/vmlinuz-1\n"))
	if e.version != 2 || strings.Join(e.options, " ") != "root=LABEL=root quiet ostree=/ostree/boot.0/testos/abc/0" {
		t.Errorf("entry %+v", e)
	}
}

// The sysroot lock is an OFD write lock on ostree/lock, the lock ostree
// admin takes, so the two tools exclude each other.
func TestLockIsOstrees(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ostree"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Sysroot{Path: dir}
	unlock, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "ostree", "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("another OFD lock while held: %v, want EAGAIN", err)
	}
	unlock()
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// A local file where the new defaults have a directory cannot be merged;
// a locally added directory that the defaults now have too keeps their
// files and gains the local ones.
func TestMergeEtcDirectories(t *testing.T) {
	dir := t.TempDir()
	orig, mod, next := filepath.Join(dir, "orig"), filepath.Join(dir, "mod"), filepath.Join(dir, "new")
	put(t, orig, map[string]string{"keep": "k"})
	put(t, mod, map[string]string{"keep": "k", "conf": "local", "both/mine": "m"})
	put(t, next, map[string]string{"keep": "k", "both/theirs": "t"})
	if _, err := mergeEtc(orig, mod, next); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"both/mine", "both/theirs", "conf"} {
		if _, err := os.Stat(filepath.Join(next, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	next2 := filepath.Join(dir, "new2")
	put(t, next2, map[string]string{"keep": "k", "conf/x": "a directory now"})
	if _, err := mergeEtc(orig, mod, next2); err == nil || !strings.Contains(err.Error(), "newly defaults to directory") {
		t.Errorf("file over a new default directory: %v", err)
	}
}
