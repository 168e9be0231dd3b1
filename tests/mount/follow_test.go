package mount

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"arbor/mountd"
	"arbor/tests/testutil"
)

// recommit commits files as the next commit of main in the publisher's
// repository, updates its summary and returns the commit.
func (e *env) recommit(t *testing.T, p published, files map[string]string, extra ...string) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "tree")
	for path, c := range files {
		mustWrite(t, filepath.Join(tree, path), c)
	}
	c := strings.TrimSpace(e.run(t, p.repo, "commit", "-b", "main", "--tree=dir="+tree))
	for _, args := range extra {
		e.run(t, p.repo, strings.Fields(args)...)
	}
	e.run(t, p.repo, "summary", "-u")
	return c
}

func (e *env) shown(t *testing.T, repo, mp string) string {
	t.Helper()
	for _, m := range e.mounts(t, repo) {
		if m.Mountpoint == mp {
			return m.Commit
		}
	}
	t.Fatalf("%s is not mounted", mp)
	return ""
}

func readOr(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A mount of a ref follows it. Moved on the remote, `mount --update`
// fetches only the directories that changed (and the files in them);
// moved here by a pull through a static delta, the mount follows at once
// and reads what the delta brought without a request. What a program holds
// open stays the old tree's.
func TestMountFollowsItsRef(t *testing.T) {
	e := setup(t)
	v1 := lazyTree()
	p := e.publish(t, v1)
	repo := e.client(t, p)
	mp := e.mount(t, repo, "origin:main")
	e.waitPrefetch(t, repo, mp)
	if got := readOr(t, filepath.Join(mp, "a/b/c/d/deep.txt")); got != "deep content\n" {
		t.Fatalf("deep.txt = %q", got)
	}
	if readOr(t, filepath.Join(mp, "big/blob")) != v1["big/blob"] {
		t.Fatal("big/blob differs")
	}
	oldFile, err := os.Open(filepath.Join(mp, "a/b/c/d/deep.txt"))
	must(t, err)
	defer oldFile.Close()
	oldDir, err := os.Open(filepath.Join(mp, "dir03"))
	must(t, err)
	defer oldDir.Close()

	// v2 changes one deep file and adds one file to dir03: the changed
	// directories are /, a, a/b, a/b/c, a/b/c/d and dir03.
	v2 := maps.Clone(v1)
	v2["a/b/c/d/deep.txt"] = "deeper content\n"
	v2["dir03/new"] = "a new file\n"
	c2 := e.recommit(t, p, v2)
	if e.shown(t, repo, mp) == c2 {
		t.Fatal("the mount moved before it was asked to")
	}
	resetWhenQuiet(t, p.srv)
	out := e.run(t, repo, "mount", "--update", mp)
	if !strings.Contains(out, "moved from "+p.commit+" to "+c2) {
		t.Fatalf("mount --update said %q", out)
	}
	e.waitPrefetch(t, repo, mp)
	reqs, err := p.srv.Requests()
	must(t, err)
	allowed := map[string]bool{"/config": true, "/summary": true, "/summary.sig": true,
		"/objects/" + c2[:2] + "/" + c2[2:] + ".commit":     true,
		"/objects/" + c2[:2] + "/" + c2[2:] + ".commitmeta": true,
		e.objectOf(t, p.repo, "/a/b/c/d/deep.txt"):          true,
		e.objectOf(t, p.repo, "/dir03/new"):                 true,
	}
	dirtrees := 0
	for _, r := range reqs {
		switch {
		case allowed[r.Path]:
		case strings.HasSuffix(r.Path, ".dirtree"):
			dirtrees++
		default:
			t.Errorf("the update fetched %s, which did not change", r.Path)
		}
	}
	if dirtrees != 6 {
		t.Errorf("the update fetched %d dirtrees; 6 directories changed", dirtrees)
	}
	if t.Failed() {
		t.Logf("requests: %+v", reqs)
	}
	if got := e.shown(t, repo, mp); got != c2 {
		t.Fatalf("mounts says %s, want %s", got, c2)
	}
	resetWhenQuiet(t, p.srv)

	// The new tree, with nothing more to fetch.
	if got := readOr(t, filepath.Join(mp, "a/b/c/d/deep.txt")); got != "deeper content\n" {
		t.Errorf("deep.txt after the move = %q", got)
	}
	names, err := os.ReadDir(filepath.Join(mp, "dir03"))
	must(t, err)
	if !slices.ContainsFunc(names, func(d os.DirEntry) bool { return d.Name() == "new" }) {
		t.Errorf("dir03 after the move lists %v, without new", names)
	}
	if got := readOr(t, filepath.Join(mp, "dir03/new")); got != "a new file\n" {
		t.Errorf("dir03/new = %q", got)
	}
	if got := readOr(t, filepath.Join(mp, "big/blob")); got != v1["big/blob"] {
		t.Errorf("big/blob changed across the move")
	}
	reqs, err = p.srv.Requests()
	must(t, err)
	if len(reqs) != 0 {
		t.Errorf("reading the moved tree made %d requests: %+v", len(reqs), reqs)
	}
	// What was held open is the old tree's.
	b := make([]byte, 64)
	n, err := oldFile.ReadAt(b, 0)
	if string(b[:n]) != "deep content\n" {
		t.Errorf("the file opened before the move reads %q (%v)", b[:n], err)
	}
	held, err := oldDir.Readdirnames(-1)
	must(t, err)
	if slices.Contains(held, "new") {
		t.Errorf("the directory opened before the move lists %v", held)
	}

	// v3 comes through a static delta that a pull applies here; the
	// mount follows the pull, and reads what the delta brought.
	v3 := maps.Clone(v2)
	v3["dir05/file05"] = "changed by the delta\n"
	v3["big/other"] = noise(3, 2<<20)
	c3 := e.recommit(t, p, v3, "static-delta generate --from="+c2+" --to=main")
	pulled := e.run(t, repo, "pull", "--require-static-deltas", "origin", "main")
	if got := e.shown(t, repo, mp); got != c3 {
		t.Fatalf("after the pull (%s) the mount shows %s, want %s", strings.TrimSpace(pulled), got, c3)
	}
	e.waitPrefetch(t, repo, mp)
	resetWhenQuiet(t, p.srv)
	if got := readOr(t, filepath.Join(mp, "dir05/file05")); got != "changed by the delta\n" {
		t.Errorf("dir05/file05 after the pull = %q", got)
	}
	if got := readOr(t, filepath.Join(mp, "big/other")); got != v3["big/other"] {
		t.Error("big/other after the pull is not the delta's")
	}
	reqs, err = p.srv.Requests()
	must(t, err)
	if len(reqs) != 0 {
		t.Errorf("reading what the delta brought made %d requests: %+v", len(reqs), reqs)
	}

	// Up to date, and refused where there is no ref to follow.
	if out := e.run(t, repo, "mount", "--update", mp); !strings.Contains(out, "is up to date at "+c3) {
		t.Errorf("a second update said %q", out)
	}
	pinned := e.mount(t, repo, "origin:"+p.commit)
	_, stderr, err := testutil.RunErr(e.arbor, "--repo="+repo, "mount", "--update", pinned)
	if err == nil || !strings.Contains(stderr, "no ref to follow") {
		t.Errorf("mount --update of a commit: %v, %q", err, stderr)
	}
	var ups []mountd.UpdateInfo
	must(t, json.Unmarshal([]byte(e.run(t, repo, "mount", "--update", "--json")), &ups))
	if len(ups) != 1 || ups[0].Mountpoint != mp || ups[0].To != c3 {
		t.Errorf("mount --update of every mount: %+v", ups)
	}
}

// A mount of a local branch shows each commit to it as soon as the commit
// returns.
func TestLocalMountFollowsCommits(t *testing.T) {
	e := setup(t)
	repo := filepath.Join(t.TempDir(), "repo")
	e.initRepo(t, repo, "bare-user")
	tree := filepath.Join(t.TempDir(), "tree")
	mustWrite(t, filepath.Join(tree, "etc/motd"), "one\n")
	mustWrite(t, filepath.Join(tree, "usr/bin/tool"), "#!/bin/sh\n")
	e.run(t, repo, "commit", "-b", "main", "--tree=dir="+tree)
	mp := e.mount(t, repo, "main")
	if got := readOr(t, filepath.Join(mp, "etc/motd")); got != "one\n" {
		t.Fatalf("motd = %q", got)
	}
	mustWrite(t, filepath.Join(tree, "etc/motd"), "two\n")
	must(t, os.Remove(filepath.Join(tree, "usr/bin/tool")))
	c2 := strings.TrimSpace(e.run(t, repo, "commit", "-b", "main", "--tree=dir="+tree))
	if got := e.shown(t, repo, mp); got != c2 {
		t.Fatalf("the mount shows %s after the commit, want %s", got, c2)
	}
	if got := readOr(t, filepath.Join(mp, "etc/motd")); got != "two\n" {
		t.Errorf("motd after the commit = %q", got)
	}
	if _, err := os.Lstat(filepath.Join(mp, "usr/bin/tool")); !os.IsNotExist(err) {
		t.Errorf("the removed file is still there: %v", err)
	}
}
