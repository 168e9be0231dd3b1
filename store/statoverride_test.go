package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseStatOverride(t *testing.T) {
	tests := []struct {
		in      string
		add     map[string]uint32
		skip    map[string]bool
		wantErr bool
	}{
		{in: "2048 /some-setuid\n", add: map[string]uint32{"/some-setuid": 0o4000}, skip: map[string]bool{}},
		{in: "\n!/skipped\n1024 /d\n", add: map[string]uint32{"/d": 0o2000}, skip: map[string]bool{"/skipped": true}},
		{in: "2048\n", wantErr: true},
		{in: "x /a\n", wantErr: true},
		{in: "65536 /a\n", wantErr: true},
	}
	for _, tc := range tests {
		add, skip, err := ParseStatOverride(strings.NewReader(tc.in))
		if tc.wantErr != (err != nil) {
			t.Errorf("%q: error %v", tc.in, err)
			continue
		}
		if err != nil {
			continue
		}
		if len(add) != len(tc.add) || len(skip) != len(tc.skip) {
			t.Errorf("%q: %v %v", tc.in, add, skip)
		}
		for p, m := range tc.add {
			if add[p] != m {
				t.Errorf("%q: %s gets %o, want %o", tc.in, p, add[p], m)
			}
		}
		for p := range tc.skip {
			if !skip[p] {
				t.Errorf("%q: %s not skipped", tc.in, p)
			}
		}
	}
}

// TestCommitStatOverride: the bits are added to the path named, and a
// skipped path is left out.
func TestCommitStatOverride(t *testing.T) {
	tmp := t.TempDir()
	r, err := Init(filepath.Join(tmp, "repo"), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := filepath.Join(tmp, "src")
	writeTree(t, src, map[string]string{"suid": "x", "d/plain": "y", "gone": "z"})
	c, _, err := r.CommitDir(context.Background(), src, CommitOptions{Branch: "main", OwnerUID: 0, OwnerGID: 0, NoXattrs: true,
		ModeAdd: map[string]uint32{"/suid": 0o4000}, Skip: map[string]bool{"/gone": true}})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]uint32{"/suid": 0o4000, "/d/plain": 0} {
		n, err := r.Lookup(c, path)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := r.OpenContent(n.File)
		if err != nil {
			t.Fatal(err)
		}
		ct.Close()
		if got := ct.Header.Mode & 0o7000; got != want {
			t.Errorf("%s: special bits %o, want %o", path, got, want)
		}
	}
	if _, err := r.Lookup(c, "/gone"); err == nil {
		t.Error("a skipped path was committed")
	}
}
