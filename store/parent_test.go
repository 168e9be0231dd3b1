package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"arbor/store/object"
)

// A repository with a parent reads the parent's objects and does not
// store them again; a parent naming itself is refused, not followed.
func TestParentRepo(t *testing.T) {
	parent, src := newRepo(t, ModeArchive)
	writeTree(t, src, map[string]string{"a": "shared"})
	c := commitTree(t, parent, src, "main")
	cm, err := parent.ReadCommit(c)
	if err != nil {
		t.Fatal(err)
	}
	childPath := filepath.Join(t.TempDir(), "child")
	child, err := Init(childPath, ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	child.Close()
	cfg, _ := os.ReadFile(filepath.Join(childPath, "config"))
	cfg = append(cfg, []byte("parent="+parent.Path()+"\n")...)
	if err := os.WriteFile(filepath.Join(childPath, "config"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	child, err = Open(childPath)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()
	if _, err := child.ReadDirTree(cm.RootTree); err != nil {
		t.Errorf("reading the parent's dirtree: %v", err)
	}
	txn, err := child.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Abort()
	b, _ := parent.ReadMeta(cm.RootTree, object.TypeDirTree)
	if _, err := txn.WriteMeta(object.TypeDirTree, b); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(child.ObjectPath(cm.RootTree, object.TypeDirTree)); !os.IsNotExist(err) {
		t.Errorf("the parent's object stored again: %v", err)
	}

	loop := filepath.Join(t.TempDir(), "loop")
	lr, err := Init(loop, ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	lr.Close()
	cfg, _ = os.ReadFile(filepath.Join(loop, "config"))
	cfg = append(cfg, []byte("parent="+loop+"\n")...)
	os.WriteFile(filepath.Join(loop, "config"), cfg, 0o644)
	if r, err := Open(loop); err == nil {
		r.Close()
		t.Error("a repository that is its own parent opened")
	}
}
