package fetch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/store"
)

// With ConfigDir, a remote is its own NAME.conf there and the
// repository's config is left as it was.
func TestAddRemoteConfigDir(t *testing.T) {
	r, err := store.Init(filepath.Join(t.TempDir(), "repo"), store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir := filepath.Join(t.TempDir(), "remotes.d")
	o := AddOptions{ConfigDir: dir, Set: map[string]string{"gpg-verify": "false"}}
	if err := AddRemote(r, "side", "file:///srv/repo", o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "side.conf"))
	if err != nil || !strings.Contains(string(b), `[remote "side"]`) || !strings.Contains(string(b), "url=file:///srv/repo") {
		t.Errorf("side.conf: %q %v", b, err)
	}
	if r.Config().HasGroup(`remote "side"`) {
		t.Error("the remote went into the repository's config too")
	}
	if err := AddRemote(r, "side", "file:///other", o); err == nil {
		t.Error("a second remote of the name was added")
	}
	o.IfNotExists = true
	if err := AddRemote(r, "side", "file:///other", o); err != nil {
		t.Errorf("--if-not-exists: %v", err)
	}
}

// A sysroot's repository reads the remotes remote add --sysroot wrote
// to the sysroot's etc/ostree/remotes.d: they load, list and delete as
// the repository's own do.
func TestRemotesDir(t *testing.T) {
	root := t.TempDir()
	r, err := store.Init(filepath.Join(root, "ostree", "repo"), store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir := filepath.Join(root, "etc", "ostree", "remotes.d")
	if err := AddRemote(r, "os", "http://127.0.0.1:1/os", AddOptions{ConfigDir: dir, NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.conf"), []byte("[remote \"x\"\nurl"), 0o644); err != nil {
		t.Fatal(err)
	}
	rm, err := LoadRemote(r, "os")
	if err != nil || rm.URL != "http://127.0.0.1:1/os" || rm.GPGVerify {
		t.Fatalf("LoadRemote: %+v %v", rm, err)
	}
	if got := ListRemotes(r); len(got) != 1 || got[0] != "os" {
		t.Errorf("ListRemotes: %v", got)
	}
	if err := AddRemote(r, "os", "http://other", AddOptions{}); err == nil {
		t.Error("a remote of a name remotes.d has was added to the config")
	}
	if err := DeleteRemote(r, "os", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "os.conf")); !os.IsNotExist(err) {
		t.Errorf("os.conf after delete: %v", err)
	}
	if _, err := LoadRemote(r, "os"); err == nil {
		t.Error("the deleted remote still loads")
	}
}
