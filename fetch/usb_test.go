package fetch

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"arbor/store"
)

// A volume's repository gets the refs by collection, a summary, and a
// link when it is outside the usual places; a second copy adds to it.
func TestCopyToVolume(t *testing.T) {
	p := publishTree(t, map[string]string{"a": "1"})
	if err := p.repo.EditConfig(func(f store.ConfigFile) error {
		f.Set("core", "collection-id", "org.example.Os")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	main := store.CollectionRef{Collection: "org.example.Os", Ref: "main"}
	ctx := context.Background()
	for _, tc := range []struct {
		dest string
		link bool
	}{{"", false}, {"ostree/repo", false}, {"some/where", true}} {
		mount := t.TempDir()
		if err := CopyToVolume(ctx, p.repo, mount, tc.dest, []store.CollectionRef{main}); err != nil {
			t.Fatalf("%q: %v", tc.dest, err)
		}
		dest := tc.dest
		if dest == "" {
			dest = ".ostree/repo"
		}
		dr, err := store.Open(filepath.Join(mount, dest))
		if err != nil {
			t.Fatalf("%q: %v", tc.dest, err)
		}
		if c, err := dr.ReadCollectionRef(main); err != nil || c != p.commit {
			t.Errorf("%q: ref %s, %v; want %s", tc.dest, c, err, p.commit)
		}
		if _, err := dr.ReadSummary(); err != nil {
			t.Errorf("%q: %v", tc.dest, err)
		}
		dr.Close()
		_, err = os.Stat(filepath.Join(mount, ".ostree", "repos.d", "00-generated", "config"))
		if (err == nil) != tc.link {
			t.Errorf("%q: link to the repository: %v, want one: %v", tc.dest, err, tc.link)
		}
	}
	if err := CopyToVolume(ctx, p.repo, t.TempDir(), "../out", []store.CollectionRef{main}); err == nil {
		t.Error("a repository outside the volume")
	}
}
