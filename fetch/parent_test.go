package fetch

import (
	"path/filepath"
	"reflect"
	"testing"

	"arbor/store"
)

func TestParentRemotes(t *testing.T) {
	dir := t.TempDir()
	parent, err := store.Init(filepath.Join(dir, "parent"), store.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	if err := AddRemote(parent, "up", "http://parent.example/repo", AddOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	child, err := store.Init(filepath.Join(dir, "child"), store.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()
	if err := AddRemote(child, "own", "http://child.example/repo", AddOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := child.EditConfig(func(c store.ConfigFile) error { c.Set("core", "parent", parent.Path()); return nil }); err != nil {
		t.Fatal(err)
	}
	// A parent that is its own parent must not loop.
	if err := parent.EditConfig(func(c store.ConfigFile) error { c.Set("core", "parent", parent.Path()); return nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := ListRemotes(child), []string{"own", "up"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ListRemotes = %q, want %q", got, want)
	}
	for _, tc := range []struct{ name, url string }{
		{"own", "http://child.example/repo"},
		{"up", "http://parent.example/repo"},
		{"none", ""},
	} {
		rm, err := LoadRemote(child, tc.name)
		switch {
		case tc.url == "" && err == nil:
			t.Errorf("%s: loaded a remote no repository has", tc.name)
		case tc.url != "" && (err != nil || rm.URL != tc.url):
			t.Errorf("%s: %v, %v; want url %s", tc.name, rm, err, tc.url)
		}
	}
}
