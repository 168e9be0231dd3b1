package fetch

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"arbor/store"
)

// A repository inherits the remotes of its core.parent chain, nearest
// first, and keeps its keyring beside the config that names the remote.
func TestLoadRemoteFromParents(t *testing.T) {
	dir := t.TempDir()
	open := func(name, parent string) *store.Repo {
		t.Helper()
		p := filepath.Join(dir, name)
		r, err := store.Init(p, store.ModeBareUser)
		if err != nil {
			t.Fatal(err)
		}
		if parent != "" {
			if err := r.EditConfig(func(c store.ConfigFile) error {
				c.Set("core", "parent", filepath.Join(dir, parent))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	grand := open("grand", "")
	parent := open("parent", "grand")
	child := open("child", "parent")
	if err := AddRemote(grand, "origin", "http://grand.invalid/repo", AddOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := AddRemote(parent, "near", "http://parent.invalid/repo", AddOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "grand", "origin.trustedkeys.gpg"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, url, dir string
	}{
		{"origin", "http://grand.invalid/repo", filepath.Join(dir, "grand")},
		{"near", "http://parent.invalid/repo", filepath.Join(dir, "parent")},
		{"missing", "", ""},
	} {
		rm, err := LoadRemote(child, c.name)
		if c.url == "" {
			if !errors.Is(err, ErrNoRemote) {
				t.Errorf("%s: got %v, want ErrNoRemote", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if rm.URL != c.url || rm.dir != c.dir {
			t.Errorf("%s: url %q dir %q, want %q %q", c.name, rm.URL, rm.dir, c.url, c.dir)
		}
	}
	if got := ListRemotes(child); len(got) != 2 || got[0] != "near" || got[1] != "origin" {
		t.Errorf("child lists %v, want [near origin]", got)
	}
	if got := ListRemotes(parent); len(got) != 2 {
		t.Errorf("parent lists %v, want its own and its parent's", got)
	}
	rm, err := LoadRemote(child, "origin")
	if err != nil {
		t.Fatal(err)
	}
	if p := rm.keyringPaths(child); len(p) == 0 || p[0] != filepath.Join(dir, "grand", "origin.trustedkeys.gpg") {
		t.Errorf("keyring paths %v, want the grandparent's keyring first", p)
	}
}
