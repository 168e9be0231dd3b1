package fetch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arbor/store"
	"arbor/store/delta"
	"arbor/store/object"
)

// deltaSource makes an archive repository with two commits of main and
// the deltas to the first from scratch and from it to the second.
func deltaSourceRepo(t *testing.T) (path string, c1, c2 object.Checksum) {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	src, err := store.Init(filepath.Join(tmp, "src"), store.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tree := filepath.Join(tmp, "tree")
	commit := func(content string) object.Checksum {
		if err := os.MkdirAll(tree, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, "f"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		c, _, err := src.CommitDir(ctx, tree, store.CommitOptions{Branch: "main", NoXattrs: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 = commit(strings.Repeat("first version\n", 100))
	c2 = commit(strings.Repeat("second version\n", 100))
	for _, d := range []delta.Ref{{To: c1}, {From: c1, To: c2}} {
		o := delta.DefaultGenerateOptions()
		o.From, o.To = d.From, d.To
		if _, _, err := delta.Generate(ctx, src, o); err != nil {
			t.Fatal(err)
		}
	}
	return src.Path(), c1, c2
}

func updateSourceSummary(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	src, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	v, err := delta.SummaryDeltas(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.UpdateSummaryWith(ctx, store.SummaryOptions{Now: time.Now(), Deltas: v}); err != nil {
		t.Fatal(err)
	}
}

// pull-local goes through the source's deltas, found as a pull from its
// URL finds them (its summary, its delta indexes), only when they are
// required; where none is listed it fails in ostree's words.
func TestPullLocalRequiredDeltas(t *testing.T) {
	ctx := context.Background()
	srcPath, c1, c2 := deltaSourceRepo(t)
	r, err := store.Init(filepath.Join(t.TempDir(), "repo"), store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	require := PullOptions{RequireStaticDeltas: true}

	// No summary: no deltas are listed.
	_, err = PullLocal(ctx, r, srcPath, []string{c1.String()}, require)
	if err == nil || err.Error() != "Static deltas required, but none found for  to "+c1.String() {
		t.Fatalf("with no summary: %v", err)
	}
	updateSourceSummary(t, srcPath)
	res, err := PullLocal(ctx, r, srcPath, []string{c1.String()}, require)
	if err != nil || res.DeltaParts == 0 || r.IsPartial(c1) {
		t.Fatalf("from scratch: %v, %+v", err, res)
	}
	if err := r.SetRef("main", c1); err != nil {
		t.Fatal(err)
	}
	// From the ref's commit here, through the delta from it.
	res, err = PullLocal(ctx, r, srcPath, []string{"main"}, require)
	if err != nil || res.DeltaParts == 0 || r.IsPartial(c2) {
		t.Fatalf("from %s: %v, %+v", c1, err, res)
	}
	// Not required: the objects are copied, as ostree's local pulls do.
	r2, err := store.Init(filepath.Join(t.TempDir(), "repo2"), store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if res, err := PullLocal(ctx, r2, srcPath, []string{"main"}, PullOptions{}); err != nil || res.DeltaParts != 0 {
		t.Fatalf("not required: %v, %+v", err, res)
	}
}

// With the deltas left out of the summary, a pull finds them through
// the indexes alone: none without an index, and the delta once there is.
func TestPullLocalDeltaIndexes(t *testing.T) {
	ctx := context.Background()
	srcPath, c1, _ := deltaSourceRepo(t)
	src, err := store.Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.EditConfig(func(f store.ConfigFile) error {
		f.Set("core", "no-deltas-in-summary", "true")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	src.Close()
	updateSourceSummary(t, srcPath)
	if err := os.RemoveAll(filepath.Join(srcPath, "delta-indexes")); err != nil {
		t.Fatal(err)
	}
	r, err := store.Init(filepath.Join(t.TempDir(), "repo"), store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	require := PullOptions{RequireStaticDeltas: true}
	if _, err := PullLocal(ctx, r, srcPath, []string{c1.String()}, require); err == nil || !strings.HasPrefix(err.Error(), "Static deltas required, but none found for") {
		t.Fatalf("with no index: %v", err)
	}
	updateSourceSummary(t, srcPath) // writes the indexes again
	if res, err := PullLocal(ctx, r, srcPath, []string{c1.String()}, require); err != nil || res.DeltaParts == 0 {
		t.Fatalf("with the index: %v, %+v", err, res)
	}
}

// A local repository's files are read within it and within the size
// asked for.
func TestLocalDeltasGet(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "repo")
	if err := os.MkdirAll(filepath.Join(root, "deltas"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, s := range map[string]string{"repo/deltas/f": "12345", "outside": "secret"} {
		if err := os.WriteFile(filepath.Join(tmp, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../../outside", filepath.Join(root, "deltas", "link")); err != nil {
		t.Fatal(err)
	}
	d := localDeltas{root: root}
	for _, c := range []struct {
		path     string
		max      int64
		want     string
		notFound bool
	}{
		{"deltas/f", 5, "12345", false},
		{"deltas/f", 4, "", false},
		{"deltas/missing", 5, "", true},
		{"../outside", 100, "", false},
		{"deltas/link", 100, "", false},
	} {
		b, err := d.Get(ctx, c.path, c.max)
		if c.want != "" {
			if err != nil || string(b) != c.want {
				t.Errorf("%s: %q, %v", c.path, b, err)
			}
			continue
		}
		if err == nil || errors.Is(err, ErrNotFound) != c.notFound {
			t.Errorf("%s (max %d): %q, %v", c.path, c.max, b, err)
		}
	}
}
