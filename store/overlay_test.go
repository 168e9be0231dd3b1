package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Options of ostree's commit beyond one directory: overlays, a commit's
// tree as a base, --skip-if-unchanged, --consume and --bootable.
func TestCommitTrees(t *testing.T) {
	r, src := newRepo(t, ModeBareUser)
	put := func(rel, data string) {
		t.Helper()
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("a/etc/x", "a's x")
	put("a/etc/y", "a's y")
	put("a/usr/lib/modules/6.1/vmlinuz", "k")
	put("b/etc/x", "b's x")
	put("b/var/z", "b's z")
	put("clash/etc", "a file")
	base := commitTree(t, r, filepath.Join(src, "a"), "base")
	opts := func(o CommitOptions) CommitOptions {
		o.OwnerUID, o.OwnerGID, o.Timestamp = -1, -1, time.Unix(1700000000, 0)
		return o
	}
	ctx := context.Background()
	for _, x := range []struct {
		name    string
		sources []TreeSource
		o       CommitOptions
		want    map[string]string // path: content ("" for absent)
		wantErr string
	}{
		{"dirs overlay", []TreeSource{{Dir: filepath.Join(src, "a")}, {Dir: filepath.Join(src, "b")}}, CommitOptions{Branch: "o1"},
			map[string]string{"/etc/x": "b's x", "/etc/y": "a's y", "/var/z": "b's z"}, ""},
		{"commit then dir", []TreeSource{{Commit: base}, {Dir: filepath.Join(src, "b")}}, CommitOptions{Branch: "o2"},
			map[string]string{"/etc/x": "b's x", "/etc/y": "a's y"}, ""},
		{"file over directory", []TreeSource{{Dir: filepath.Join(src, "a")}, {Dir: filepath.Join(src, "clash")}}, CommitOptions{Branch: "o3"},
			nil, "can't replace directory with file: /etc"},
		{"bootable", []TreeSource{{Commit: base}}, CommitOptions{Branch: "boot", Bootable: true}, nil, ""},
		{"bootable without kernel", []TreeSource{{Dir: filepath.Join(src, "b")}}, CommitOptions{Branch: "noboot", Bootable: true},
			nil, "usr/lib/modules"},
	} {
		t.Run(x.name, func(t *testing.T) {
			c, _, err := r.CommitTrees(ctx, x.sources, opts(x.o))
			if x.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), x.wantErr) {
					t.Fatalf("err = %v, want %q", err, x.wantErr)
				}
				if _, err := r.ReadRef(x.o.Branch); err == nil {
					t.Error("a refused commit moved its ref")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range x.want {
				got, err := r.ReadFile(c, p, 1<<20)
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", p, got, err, want)
				}
			}
			if x.o.Bootable {
				cm, err := r.ReadCommit(c)
				if err != nil {
					t.Fatal(err)
				}
				var keys []string
				for _, e := range cm.Metadata {
					keys = append(keys, e.Key)
				}
				if strings.Join(keys, " ") != "ostree.linux ostree.bootable ostree.ref-binding" {
					t.Errorf("metadata keys %v", keys)
				}
			}
		})
	}

	// Unchanged: the parent back, no commit written, the ref as it was.
	c, stats, err := r.CommitTrees(ctx, []TreeSource{{Dir: filepath.Join(src, "a")}}, opts(CommitOptions{Branch: "base", SkipIfUnchanged: true}))
	if err != nil || c != base || !stats.Skipped {
		t.Errorf("skip-if-unchanged: %s %+v %v, want %s skipped", c, stats, err, base)
	}
	// Consumed: the directory goes once the commit is made.
	eat := filepath.Join(src, "eat")
	put("eat/file", "food")
	c, _, err = r.CommitTrees(ctx, []TreeSource{{Dir: eat}}, opts(CommitOptions{Branch: "eaten", Consume: true}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(eat); !os.IsNotExist(err) {
		t.Errorf("consumed directory: %v", err)
	}
	if b, err := r.ReadFile(c, "/file", 100); err != nil || string(b) != "food" {
		t.Errorf("consumed commit's file: %q %v", b, err)
	}
}

// A tree that holds the repository it is committed to leaves out the
// repository's staging and index, which change under the walk; the rest
// of the repository is committed as any files are.
func TestCommitLeavesOutOwnWorkings(t *testing.T) {
	top := t.TempDir()
	r, err := Init(filepath.Join(top, "repo"), ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.WriteFile(filepath.Join(top, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _, err := r.CommitDir(context.Background(), top, CommitOptions{Branch: "self", OwnerUID: -1, OwnerGID: -1})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{"/file": true, "/repo/config": true, "/repo/tmp": false, "/repo/extensions/arbor/index": false} {
		_, err := r.Lookup(c, p)
		if (err == nil) != want {
			t.Errorf("%s in the commit: %v, want %v", p, err == nil, want)
		}
	}
}
