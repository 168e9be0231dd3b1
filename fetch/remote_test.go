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
