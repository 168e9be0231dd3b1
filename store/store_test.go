package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arbor/store/index"
	"arbor/store/object"
	"arbor/store/refs"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newRepo makes a repository of mode in a new directory, with a src
// directory beside it.
func newRepo(t *testing.T, mode Mode) (r *Repo, src string) {
	t.Helper()
	tmp := t.TempDir()
	r, err := Init(filepath.Join(tmp, "repo"), mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, filepath.Join(tmp, "src")
}

func commitTree(t *testing.T, r *Repo, dir, branch string) object.Checksum {
	t.Helper()
	c, _, err := r.CommitDir(context.Background(), dir, CommitOptions{Branch: branch, OwnerUID: -1, OwnerGID: -1,
		Timestamp: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCommitCheckoutRoundTrip(t *testing.T) {
	for _, mode := range []Mode{ModeArchive, ModeBareUser} {
		t.Run(mode.String(), func(t *testing.T) {
			tmp := t.TempDir()
			r, err := Init(filepath.Join(tmp, "repo"), mode)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			src := filepath.Join(tmp, "src")
			files := map[string]string{"a": "alpha", "d/b": "beta", "d/e/c": "", "same1": "x", "same2": "x"}
			writeTree(t, src, files)
			if err := os.Symlink("a", filepath.Join(src, "link")); err != nil {
				t.Fatal(err)
			}
			c1 := commitTree(t, r, src, "main")
			// Committing the same tree again writes no object but a commit.
			c2, stats, err := r.CommitDir(context.Background(), src, CommitOptions{Branch: "main", OwnerUID: -1, OwnerGID: -1,
				Timestamp: time.Unix(1700000001, 0)})
			if err != nil {
				t.Fatal(err)
			}
			if stats.NewObjects != 1 {
				t.Errorf("recommit wrote %d objects, want only the commit", stats.NewObjects)
			}
			if cm, _ := r.ReadCommit(c2); cm.Parent != c1 {
				t.Errorf("parent %s, want %s", cm.Parent, c1)
			}
			out := filepath.Join(tmp, "out")
			if err := r.Checkout(context.Background(), c2, out, CheckoutOptions{UserMode: true}); err != nil {
				t.Fatal(err)
			}
			for p, want := range files {
				got, err := os.ReadFile(filepath.Join(out, p))
				if err != nil || string(got) != want {
					t.Errorf("%s: %q %v", p, got, err)
				}
			}
			if tgt, err := os.Readlink(filepath.Join(out, "link")); err != nil || tgt != "a" {
				t.Errorf("link: %q %v", tgt, err)
			}
			res, err := r.Fsck(context.Background(), nil)
			if err != nil || len(res.Problems) != 0 || res.Commits != 2 {
				t.Fatalf("fsck: %v %+v", err, res)
			}
		})
	}
}

func TestIndexNoticesForeignChanges(t *testing.T) {
	tmp := t.TempDir()
	path := filepath.Join(tmp, "repo")
	r, err := Init(path, ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "src")
	writeTree(t, src, map[string]string{"f": "content"})
	c := commitTree(t, r, src, "main")
	n, _ := r.Lookup(c, "/f")
	ref := index.Ref{Checksum: n.File, Type: object.TypeFile}
	r.Close()

	// Another tool deletes the object; the next open must not trust the index.
	objPath := filepath.Join(path, object.Path(n.File, object.TypeFile, true))
	if err := os.Remove(objPath); err != nil {
		t.Fatal(err)
	}
	r, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := r.Index(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if has, _ := idx.Has(ref); has {
		t.Fatal("index still lists an object deleted behind its back")
	}
	res, err := r.Fsck(context.Background(), nil)
	if err != nil || len(res.Problems) != 1 || !errors.Is(res.Problems[0].Err, ErrObjectMissing) {
		t.Fatalf("fsck: %v %+v", err, res)
	}
	r.Close()

	// A deleted index is rebuilt from the files.
	if err := os.RemoveAll(filepath.Join(path, "extensions", "arbor", "index")); err != nil {
		t.Fatal(err)
	}
	r, _ = Open(path)
	defer r.Close()
	commits, err := r.Commits(context.Background())
	if err != nil || len(commits) != 1 || commits[0] != c {
		t.Fatalf("commits after rebuild: %v %v", commits, err)
	}
}

func TestStaleStagingRemoved(t *testing.T) {
	tmp := t.TempDir()
	r, err := Init(filepath.Join(tmp, "repo"), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stale := filepath.Join(r.Path(), "tmp", stagingPrefix+"dead")
	if err := os.MkdirAll(filepath.Join(stale, "ab"), 0o755); err != nil {
		t.Fatal(err)
	}
	txn, err := r.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	txn.Abort()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale staging directory left: %v", err)
	}
}

func TestValidateRef(t *testing.T) {
	for ref, ok := range map[string]bool{
		"main": true, "os/x86_64/stable": true, "app/org.x.Y/x86_64/master": true, "_x": true,
		"": false, "/a": false, "a/": false, "a//b": false, "-a": false, ".a": false, "a b": false, "a/../b": false, "a:b": false,
	} {
		if err := refs.Validate(ref); (err == nil) != ok {
			t.Errorf("%q: %v", ref, err)
		}
	}
}

func TestCommitRefusesSpecialFiles(t *testing.T) {
	r, src := newRepo(t, ModeArchive)
	writeTree(t, src, map[string]string{"sub/ok": "x"})
	fifo := filepath.Join(src, "sub", "pipe")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.CommitDir(context.Background(), src, CommitOptions{Branch: "main", OwnerUID: -1, OwnerGID: -1})
	if err == nil || !strings.Contains(err.Error(), fifo) {
		t.Fatalf("error %v does not name %s", err, fifo)
	}
	if _, err := r.ReadRef("main"); !errors.Is(err, ErrRefNotFound) {
		t.Fatalf("ref written after a failed commit: %v", err)
	}
}

// The daemon does not wait for a command that holds the index (which may
// be waiting for the daemon): it answers from the files meanwhile, and
// has the index once the command lets go.
func TestDaemonIndexAfterCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo")
	cmd, err := Init(path, ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if idx, err := cmd.Index(ctx); err != nil || idx.FilesOnly() {
		t.Fatalf("the command's index: %v", err)
	}
	daemon, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	daemon.KeepsIndex()
	defer daemon.Close()
	idx, err := daemon.Index(ctx)
	if err != nil || !idx.FilesOnly() {
		t.Fatalf("the daemon's index while a command holds it: files only %v, %v", idx != nil && idx.FilesOnly(), err)
	}
	cmd.Close()
	deadline := time.Now().Add(5 * time.Second)
	for idx.FilesOnly() {
		if time.Now().After(deadline) {
			t.Fatal("the daemon never took the index once the command let go")
		}
		time.Sleep(50 * time.Millisecond)
		if idx, err = daemon.Index(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
