package fetch

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arbor/store"
	"arbor/store/delta"
	"arbor/store/object"
)

func TestBareUserOnlyMode(t *testing.T) {
	c := object.Sha256([]byte("x"))
	tests := []struct {
		mode    uint32
		wantErr string // "" for none
	}{
		{object.ModeRegular | 0o644, ""},
		{object.ModeRegular | 0o775, ""},
		{object.ModeSymlink | 0o777, ""},
		{object.ModeRegular | 0o4755, "invalid mode 0104755 with bits 04000"},
		{object.ModeRegular | 0o2755, "with bits 02000"},
		{object.ModeRegular | 0o666, "with bits 00002"},
		{0o040755, "not a regular file or symlink"},
	}
	for _, tc := range tests {
		err := bareUserOnlyMode(c, tc.mode)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("mode %o: %v", tc.mode, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("mode %o: error %v, want one with %q", tc.mode, err, tc.wantErr)
		}
	}
}

func TestWholeTree(t *testing.T) {
	tests := []struct {
		subpaths []string
		want     bool
	}{
		{nil, true},
		{[]string{"/"}, true},
		{[]string{"/a", "/"}, true},
		{[]string{"/a"}, false},
		{[]string{"/a", "/b/c"}, false},
	}
	for _, tc := range tests {
		o := PullOptions{Subpaths: tc.subpaths}
		if got := o.wholeTree(); got != tc.want {
			t.Errorf("%q: wholeTree %v, want %v", tc.subpaths, got, tc.want)
		}
	}
}

// TestPullSeveralSubpaths: each --subpath is pulled, and directories
// above two of them are walked for both.
func TestPullSeveralSubpaths(t *testing.T) {
	p := publishTree(t, map[string]string{"a": "alpha", "dir/x/b": "beta", "dir/y/c": "gamma", "dir/z/d": "delta"})
	r := newClient(t, p.srv.URL)
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}, Subpaths: []string{"/dir/x", "/dir/y"}}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{"/dir/x/b": true, "/dir/y/c": true, "/dir/z/d": false, "/a": false} {
		if has, _ := r.HasObject(someContent(t, p, path), object.TypeFile); has != want {
			t.Errorf("%s present=%v, want %v", path, has, want)
		}
	}
	if !r.IsPartial(p.commit) {
		t.Error("a pull of subpaths left the commit marked complete")
	}
}

// TestPullRefusesCommitLargerThanSummarySays: the summary's size of a
// ref's commit caps its download.
func TestPullRefusesCommitLargerThanSummarySays(t *testing.T) {
	p := publishTree(t, map[string]string{"a": "alpha"})
	path := object.Path(p.commit, object.TypeCommit, true)
	p.set(path, func(w http.ResponseWriter, r *http.Request) bool {
		w.Write(make([]byte, 64<<10))
		return true
	})
	r := newClient(t, p.srv.URL)
	_, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}})
	if err == nil || !strings.Contains(err.Error(), "exceeded maximum size") {
		t.Fatalf("pull of an oversized commit: %v, want exceeded maximum size", err)
	}
}

// TestPullDepthPastPrunedHistory: a parent the source no longer has ends
// the pull's walk back through history; the commit pulled is complete. A
// missing head commit still fails.
func TestPullDepthPastPrunedHistory(t *testing.T) {
	p := publishTree(t, map[string]string{"a": "alpha"})
	parent := p.commit
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a"), []byte("alpha2"), 0o644); err != nil {
		t.Fatal(err)
	}
	head, _, err := p.repo.CommitDir(context.Background(), src, store.CommitOptions{Branch: "main", NoXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	if cm, err := p.repo.ReadCommit(head); err != nil || cm.Parent != parent {
		t.Fatalf("second commit's parent: %v", err)
	}
	sb, err := p.repo.BuildSummary(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.repo.WriteSummary(sb, nil); err != nil {
		t.Fatal(err)
	}
	gone := func(path string) {
		p.set(path, func(w http.ResponseWriter, r *http.Request) bool {
			http.NotFound(w, r)
			return true
		})
	}
	gone(object.Path(parent, object.TypeCommit, true))
	for _, depth := range []int{1, -1} {
		r := newClient(t, p.srv.URL)
		if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}, Depth: depth}); err != nil {
			t.Fatalf("depth %d: %v", depth, err)
		}
		if r.IsPartial(head) {
			t.Errorf("depth %d: head commit left partial", depth)
		}
	}
	gone(object.Path(head, object.TypeCommit, true))
	r := newClient(t, p.srv.URL)
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}, Depth: -1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pull of a missing head commit: %v, want not found", err)
	}
}

// TestPullRefusesUnpullableRemotes: a remote marked unconfigured-state or
// with a custom backend is refused before anything is fetched, with its
// words.
func TestPullRefusesUnpullableRemotes(t *testing.T) {
	p := publishTree(t, map[string]string{"a": "alpha"})
	tests := []struct {
		name, url string
		set       map[string]string
		want      string
	}{
		{"unconfigured", p.srv.URL, map[string]string{"unconfigured-state": "Subscribe first."}, "remote unconfigured-state: Subscribe first."},
		{"custom", "", map[string]string{"custom-backend": "other-tool"}, "remote 'custom' uses custom backend 'other-tool'"},
	}
	for _, tc := range tests {
		r := newClient(t, p.srv.URL)
		if err := AddRemote(r, tc.name, tc.url, AddOptions{NoGPGVerify: true, Set: tc.set}); err != nil {
			t.Fatal(err)
		}
		_, err := Pull(context.Background(), r, tc.name, PullOptions{Refs: []string{"main"}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestPullRefWithoutChecksum: a ref file holding an error page, and a
// missing ref, say what the server sent.
func TestPullRefWithoutChecksum(t *testing.T) {
	p := publishTree(t, map[string]string{"a": "alpha"})
	p.set("summary", func(w http.ResponseWriter, r *http.Request) bool {
		http.NotFound(w, r)
		return true
	})
	p.set("refs/heads/main", func(w http.ResponseWriter, r *http.Request) bool {
		w.Write([]byte("<html>\nnot a ref\n</html>\n"))
		return true
	})
	r := newClient(t, p.srv.URL)
	_, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}})
	if want := "Fetching checksum for ref ((empty), main): Invalid rev <html> not a ref </html>"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	_, err = Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"nosuch"}})
	if err == nil || !strings.Contains(err.Error(), "no such ref nosuch") || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing ref: %v", err)
	}
}

func TestAllPinned(t *testing.T) {
	c := object.Sha256([]byte("c")).String()
	tests := []struct {
		refs []string
		want bool
	}{
		{nil, false},
		{[]string{"main@" + c}, true},
		{[]string{"main@" + c, "other@" + c}, true},
		{[]string{"main@" + c, "other"}, false},
		{[]string{"main@abc"}, false},
	}
	for _, tc := range tests {
		if got := allPinned(tc.refs); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.refs, got, tc.want)
		}
	}
}

// TestPullTimestampCheck: with TimestampCheck, a ref's new commit older
// than the one here is refused and the ref stays; without, it is taken.
func TestPullTimestampCheck(t *testing.T) {
	p := publishTree(t, map[string]string{"a": "alpha"})
	r := newClient(t, p.srv.URL)
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}, TimestampCheck: true}); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a"), []byte("older"), 0o644); err != nil {
		t.Fatal(err)
	}
	old, _, err := p.repo.CommitDir(context.Background(), src, store.CommitOptions{Branch: "main", NoXattrs: true, Timestamp: time.Unix(499000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := p.repo.BuildSummary(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.repo.WriteSummary(sb, nil); err != nil {
		t.Fatal(err)
	}
	_, err = Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}, TimestampCheck: true})
	if err == nil || !strings.Contains(err.Error(), "is chronologically older") {
		t.Fatalf("pull of an older commit with TimestampCheck: %v", err)
	}
	if c, _ := r.ReadRef("origin:main"); c != p.commit {
		t.Errorf("ref moved to %s after a refused pull", c)
	}
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.ReadRef("origin:main"); c != old {
		t.Errorf("ref is %s, want the older commit %s", c, old)
	}
}

// TestPullDryRun: a dry run reports the delta's parts and sizes and
// stores nothing: the ref stays and the new commit is not here.
func TestPullDryRun(t *testing.T) {
	p := publishTree(t, map[string]string{"a": "alpha"})
	r := newClient(t, p.srv.URL)
	if _, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}}); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a"), []byte("alpha, changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	next, _, err := p.repo.CommitDir(context.Background(), src, store.CommitOptions{Branch: "main", NoXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	o := delta.DefaultGenerateOptions()
	o.From, o.To = p.commit, next
	if _, _, err := delta.Generate(context.Background(), p.repo, o); err != nil {
		t.Fatal(err)
	}
	sums, err := delta.Reindex(context.Background(), p.repo)
	if err != nil {
		t.Fatal(err)
	}
	v := delta.DeltasVariant(sums)
	sb, err := p.repo.BuildSummary(time.Now(), &v)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.repo.WriteSummary(sb, nil); err != nil {
		t.Fatal(err)
	}
	res, err := Pull(context.Background(), r, "origin", PullOptions{Refs: []string{"main"}, DryRun: true, RequireStaticDeltas: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.Parts != 1 || res.Plan.Bytes == 0 || res.Plan.Uncompressed == 0 {
		t.Errorf("plan %+v, want one part with its sizes", res.Plan)
	}
	if c, _ := r.ReadRef("origin:main"); c != p.commit {
		t.Errorf("a dry run moved the ref to %s", c)
	}
	if has, _ := r.HasObject(next, object.TypeCommit); has {
		t.Error("a dry run stored the new commit")
	}
}
