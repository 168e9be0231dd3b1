package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corruption damages one object of a committed fixture and returns its
// checksum, which fsck must name.
type corruption struct {
	name string
	do   func(t *testing.T, e *env, repo string) string
}

func flipByte(t *testing.T, path string, off func(size int64) int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	st, err := f.Stat()
	must(t, err)
	at := off(st.Size())
	b := make([]byte, 1)
	_, err = f.ReadAt(b, at)
	must(t, err)
	b[0] ^= 0x55
	_, err = f.WriteAt(b, at)
	must(t, err)
}

func truncateHalf(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	must(t, err)
	must(t, os.Truncate(path, st.Size()/2))
}

var corruptions = []corruption{
	{"flipped-byte-in-filez-payload", func(t *testing.T, e *env, repo string) string {
		sum, _ := e.lsChecksum(t, repo, "main", "/big.bin")
		// The middle of the file is well inside the deflate stream.
		flipByte(t, objectPath(repo, sum, "filez"), func(n int64) int64 { return n / 2 })
		return sum
	}},
	{"flipped-byte-in-small-filez", func(t *testing.T, e *env, repo string) string {
		sum, _ := e.lsChecksum(t, repo, "main", "/text.txt")
		flipByte(t, objectPath(repo, sum, "filez"), func(n int64) int64 { return n - 3 })
		return sum
	}},
	{"truncated-dirtree", func(t *testing.T, e *env, repo string) string {
		sum, _ := e.lsChecksum(t, repo, "main", "/sort/files")
		truncateHalf(t, objectPath(repo, sum, "dirtree"))
		return sum
	}},
	{"truncated-filez", func(t *testing.T, e *env, repo string) string {
		sum, _ := e.lsChecksum(t, repo, "main", "/64k.bin")
		truncateHalf(t, objectPath(repo, sum, "filez"))
		return sum
	}},
	{"missing-filez", func(t *testing.T, e *env, repo string) string {
		sum, _ := e.lsChecksum(t, repo, "main", "/hard/one")
		must(t, os.Remove(objectPath(repo, sum, "filez")))
		return sum
	}},
	{"missing-dirtree", func(t *testing.T, e *env, repo string) string {
		sum, _ := e.lsChecksum(t, repo, "main", "/unicode")
		must(t, os.Remove(objectPath(repo, sum, "dirtree")))
		return sum
	}},
	{"missing-dirmeta", func(t *testing.T, e *env, repo string) string {
		_, meta := e.lsChecksum(t, repo, "main", "/private")
		must(t, os.Remove(objectPath(repo, meta, "dirmeta")))
		return meta
	}},
	{"flipped-byte-in-commit", func(t *testing.T, e *env, repo string) string {
		sum := strings.TrimSpace(e.run(t, ostreeTool, repo, "rev-parse", "main"))
		flipByte(t, objectPath(repo, sum, "commit"), func(n int64) int64 { return n / 2 })
		return sum
	}},
	{"missing-commit", func(t *testing.T, e *env, repo string) string {
		sum := strings.TrimSpace(e.run(t, ostreeTool, repo, "rev-parse", "main"))
		must(t, os.Remove(objectPath(repo, sum, "commit")))
		return sum
	}},
}

// TestFsckFindsCorruption damages one object at a time, in repos written by
// either tool, and wants arbor fsck to exit 1 naming it.
func TestFsckFindsCorruption(t *testing.T) {
	t.Parallel()
	e := setup(t)
	src := buildFixture(t)
	tmp := t.TempDir()
	pristine := map[string]string{}
	for _, tool := range []string{arborTool, ostreeTool} {
		pristine[tool] = e.initRepo(t, tool, filepath.Join(tmp, "pristine-"+tool), "archive")
		e.commit(t, tool, pristine[tool], "main", src)
		// arbor's repo has its index (with reach sets) built; ostree's has
		// none until arbor first opens it, below.
	}
	// A warm index has the commit's reach set recorded (arbor records it
	// when it commits, and on its first walk of a commit); a cold one must
	// find the objects by reading the damaged tree.
	for _, v := range []struct {
		owner string
		warm  bool
	}{{arborTool, true}, {ostreeTool, true}, {ostreeTool, false}} {
		for _, c := range corruptions {
			label := v.owner + "-repo-" + map[bool]string{true: "warm", false: "cold"}[v.warm] + "/" + c.name
			t.Run(label, func(t *testing.T) {
				t.Parallel()
				repo := filepath.Join(t.TempDir(), "repo")
				copyTree(t, pristine[v.owner], repo)
				if v.warm {
					e.fsckOK(t, arborTool, repo)
				}
				sum := c.do(t, e, repo)
				// fsck marks a commit that lost objects partial, as
				// ostree's does; the second fsck says so rather than
				// naming the objects again. --json runs on a copy.
				jsonRepo := filepath.Join(t.TempDir(), "repo")
				copyTree(t, repo, jsonRepo)
				out, errOut, err := e.runErr(arborTool, repo, "fsck")
				if code := exitCode(err); code != 1 {
					t.Errorf("arbor fsck exited %d (%v), want 1", code, err)
				}
				if !strings.Contains(out+errOut, sum) {
					t.Errorf("arbor fsck does not name %s:\nstdout:\n%s\nstderr:\n%s", sum, out, errOut)
				}
				// The same through --json.
				if _, _, err := e.runErr(arborTool, repo, "fsck"); exitCode(err) != 1 {
					t.Errorf("a second arbor fsck exited %d (%v), want 1", exitCode(err), err)
				}
				out, _, err = e.runErr(arborTool, jsonRepo, "fsck", "--json")
				if code := exitCode(err); code != 1 {
					t.Errorf("arbor fsck --json exited %d (%v), want 1", code, err)
				}
				if !strings.Contains(out, sum) {
					t.Errorf("arbor fsck --json does not name %s:\n%s", sum, out)
				}
				// The damage is real: ostree sees it too.
				if _, _, err := e.runErr(ostreeTool, repo, "fsck"); err == nil {
					t.Errorf("ostree fsck passes the damaged repo: the test corrupted nothing")
				}
			})
		}
		// Every object damaged at once (none lies below another, so all
		// can be found): fsck must name each, not stop at the first.
		t.Run(v.owner+"-repo-"+map[bool]string{true: "warm", false: "cold"}[v.warm]+"/all-at-once", func(t *testing.T) {
			t.Parallel()
			repo := filepath.Join(t.TempDir(), "repo")
			copyTree(t, pristine[v.owner], repo)
			if v.warm {
				e.fsckOK(t, arborTool, repo)
			}
			var sums []string
			for _, c := range corruptions {
				if strings.HasSuffix(c.name, "-commit") {
					continue // would hide the tree
				}
				sums = append(sums, c.do(t, e, repo))
			}
			out, errOut, err := e.runErr(arborTool, repo, "fsck")
			if code := exitCode(err); code != 1 {
				t.Errorf("arbor fsck exited %d (%v), want 1", code, err)
			}
			for _, sum := range sums {
				if !strings.Contains(out+errOut, sum) {
					t.Errorf("arbor fsck does not name %s:\nstdout:\n%s\nstderr:\n%s", sum, out, errOut)
				}
			}
		})
	}
}

type fsckJSON struct {
	Commits  int `json:"commits"`
	Objects  int `json:"objects"`
	Problems []struct {
		Object string `json:"object"`
		Error  string `json:"error"`
	} `json:"problems"`
}

type pruneJSON struct {
	Total          int      `json:"total"`
	Deleted        int      `json:"deleted"`
	DeletedCommits []string `json:"deleted_commits"`
}

func (e *env) fsckJSON(t *testing.T, repo string) (fsckJSON, error) {
	t.Helper()
	out, errOut, err := e.runErr(arborTool, repo, "fsck", "--json")
	var res fsckJSON
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil {
		t.Fatalf("arbor fsck --json: %v (%v)\n%s%s", jerr, err, out, errOut)
	}
	return res, err
}

func (e *env) pruneJSON(t *testing.T, repo string, args ...string) pruneJSON {
	t.Helper()
	out := e.run(t, arborTool, repo, append([]string{"prune", "--json"}, args...)...)
	var res pruneJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("arbor prune --json: %v\n%s", err, out)
	}
	return res
}

// countObjects counts object files as prune counts them (all but
// detached metadata).
func countObjects(t *testing.T, repo string) int {
	n := 0
	for _, f := range objectFiles(t, repo) {
		if !strings.HasSuffix(f, ".commitmeta") {
			n++
		}
	}
	return n
}

// TestStaleIndex changes a repo behind arbor's back (deleting objects,
// ostree writing and pruning) after arbor's index has trusted its view of
// the objects directories, and wants arbor to notice.
func TestStaleIndex(t *testing.T) {
	t.Parallel()
	e := setup(t)
	src := buildFixture(t)
	other := filepath.Join(t.TempDir(), "other")
	mustWrite(t, filepath.Join(other, "only-in-other"), "ostree wrote this\n", 0o644)
	mustWrite(t, filepath.Join(other, "sub", "also-only-in-other"), "and this\n", 0o644)
	for _, mode := range modes {
		ext := map[string]string{"archive": "filez", "bare-user": "file"}[mode]
		// newRepo commits the fixture with arbor, ages the object
		// directories and lets arbor index them, so its stamps are trusted.
		newRepo := func(t *testing.T) (string, string) {
			repo := e.initRepo(t, arborTool, filepath.Join(t.TempDir(), "repo"), mode)
			sum := e.commit(t, arborTool, repo, "main", src)
			ageObjectDirs(t, repo)
			e.fsckOK(t, arborTool, repo)
			return repo, sum
		}
		t.Run(mode+"/deleted-object", func(t *testing.T) {
			t.Parallel()
			repo, _ := newRepo(t)
			obj, _ := e.lsChecksum(t, repo, "main", "/text.txt")
			must(t, os.Remove(objectPath(repo, obj, ext)))
			res, err := e.fsckJSON(t, repo)
			if exitCode(err) != 1 || !strings.Contains(strings.Join(problemObjects(res), " "), obj) {
				t.Errorf("arbor fsck after deleting %s: exit %d, problems %v", obj, exitCode(err), res.Problems)
			}
			if p := e.pruneJSON(t, repo, "--no-prune"); p.Total != countObjects(t, repo) {
				t.Errorf("arbor prune counts %d objects, the repo holds %d", p.Total, countObjects(t, repo))
			}
			// A new commit of the same tree must write the object again,
			// not trust the index's word that it is there.
			e.run(t, arborTool, repo, "commit", "-b", "again", "--tree=dir="+src, "--timestamp=@1")
			if !hasObject(repo, obj, ext) {
				t.Errorf("arbor commit did not rewrite deleted object %s", obj)
			}
		})
		t.Run(mode+"/ostree-commits-into-arbor-repo", func(t *testing.T) {
			t.Parallel()
			repo, _ := newRepo(t)
			before := countObjects(t, repo)
			osum := e.commit(t, ostreeTool, repo, "other", other)
			if countObjects(t, repo) == before {
				t.Fatal("ostree commit added no objects")
			}
			res, err := e.fsckJSON(t, repo)
			if err != nil || res.Commits != 2 || res.Objects != countObjects(t, repo) {
				t.Errorf("arbor fsck after ostree commit: %v, %d commits and %d objects checked; want 2 and %d",
					err, res.Commits, res.Objects, countObjects(t, repo))
			}
			if p := e.pruneJSON(t, repo, "--no-prune"); p.Total != countObjects(t, repo) || p.Deleted != 0 {
				t.Errorf("arbor prune --no-prune: %+v; want total %d, nothing to delete", p, countObjects(t, repo))
			}
			// Damage an object only ostree's commit reaches: arbor fsck
			// must check it.
			obj, _ := e.lsChecksum(t, repo, "other", "/sub/also-only-in-other")
			truncateHalf(t, objectPath(repo, obj, ext))
			res, err = e.fsckJSON(t, repo)
			if exitCode(err) != 1 || !strings.Contains(strings.Join(problemObjects(res), " "), obj) {
				t.Errorf("arbor fsck after damaging ostree's %s: exit %d, problems %v", obj, exitCode(err), res.Problems)
			}
			// Drop ostree's branch: arbor prune must remove what only it held.
			must(t, os.Remove(objectPath(repo, obj, ext)))
			e.run(t, ostreeTool, repo, "refs", "--delete", "other")
			p := e.pruneJSON(t, repo, "--refs-only")
			if len(p.DeletedCommits) != 1 || p.DeletedCommits[0] != osum {
				t.Errorf("arbor prune --refs-only deleted commits %v, want [%s]", p.DeletedCommits, osum)
			}
			if hasObject(repo, osum, "commit") {
				t.Errorf("ostree's commit %s survived arbor prune", osum)
			}
			e.fsckOK(t, ostreeTool, repo)
			e.fsckOK(t, arborTool, repo)
		})
		t.Run(mode+"/ostree-prunes-arbor-repo", func(t *testing.T) {
			t.Parallel()
			repo, first := newRepo(t)
			// Two more commits on main, then let ostree prune history.
			e.run(t, arborTool, repo, "commit", "-b", "main", "--tree=dir="+other, "--timestamp=@2000000000")
			e.run(t, arborTool, repo, "commit", "-b", "main", "--tree=dir="+src, "--timestamp=@2000000001", "--no-xattrs")
			ageObjectDirs(t, repo)
			e.fsckOK(t, arborTool, repo)
			e.run(t, ostreeTool, repo, "prune", "--refs-only", "--depth=0")
			if hasObject(repo, first, "commit") {
				t.Fatal("ostree prune kept the first commit")
			}
			res, err := e.fsckJSON(t, repo)
			if err != nil || res.Commits != 1 || res.Objects != countObjects(t, repo) {
				t.Errorf("arbor fsck after ostree prune: %v, %d commits and %d objects checked, problems %v; want 1 and %d",
					err, res.Commits, res.Objects, res.Problems, countObjects(t, repo))
			}
			p := e.pruneJSON(t, repo, "--refs-only", "--depth=0")
			if p.Deleted != 0 || p.Total != countObjects(t, repo) {
				t.Errorf("arbor prune after ostree prune: %+v; want nothing deleted of %d", p, countObjects(t, repo))
			}
			if log := e.run(t, arborTool, repo, "log", "main"); !strings.Contains(log, "<< History beyond this commit not fetched >>") {
				t.Errorf("arbor log does not say history is cut short:\n%s", log)
			}
		})
		t.Run(mode+"/recommit-after-ostree-prune", func(t *testing.T) {
			t.Parallel()
			repo, sum := newRepo(t)
			e.run(t, ostreeTool, repo, "refs", "--delete", "main")
			e.run(t, ostreeTool, repo, "prune", "--refs-only")
			if n := countObjects(t, repo); n != 0 {
				t.Fatalf("ostree prune left %d objects", n)
			}
			again := e.commit(t, arborTool, repo, "main", src)
			if again != sum {
				t.Errorf("recommit gave %s, want %s", again, sum)
			}
			e.fsckOK(t, arborTool, repo)
			e.fsckOK(t, ostreeTool, repo)
			e.run(t, ostreeTool, repo, "checkout", "-U", "main", filepath.Join(t.TempDir(), "co"))
		})
	}
}

func problemObjects(res fsckJSON) []string {
	var out []string
	for _, p := range res.Problems {
		out = append(out, p.Object+": "+p.Error)
	}
	return out
}

// TestReindex rebuilds arbor's index from the files: after it was deleted,
// after it was overwritten with garbage, and after the objects changed in a
// way the directory stamps cannot show (a restore that keeps mtimes).
func TestReindex(t *testing.T) {
	t.Parallel()
	e := setup(t)
	src := buildFixture(t)
	cases := []struct {
		name   string
		damage func(t *testing.T, e *env, repo string)
	}{
		{"index-deleted", func(t *testing.T, e *env, repo string) {
			must(t, os.RemoveAll(filepath.Join(repo, "extensions", "arbor")))
		}},
		{"index-garbage", func(t *testing.T, e *env, repo string) {
			dir := filepath.Join(repo, "extensions", "arbor", "index")
			ents, err := os.ReadDir(dir)
			must(t, err)
			if len(ents) == 0 {
				t.Fatal("no index files to damage")
			}
			for _, ent := range ents {
				must(t, os.WriteFile(filepath.Join(dir, ent.Name()), []byte("not a badger file"), 0o644))
			}
		}},
		{"mtime-preserving-restore", func(t *testing.T, e *env, repo string) {
			// Remove an object and put the directory's mtime back, as a
			// restore with rsync -a would leave it.
			sum, _ := e.lsChecksum(t, repo, "main", "/text.txt")
			p := objectPath(repo, sum, "filez")
			dir := filepath.Dir(p)
			st, err := os.Stat(dir)
			must(t, err)
			must(t, os.Remove(p))
			must(t, os.Chtimes(dir, st.ModTime(), st.ModTime()))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			repo := e.initRepo(t, arborTool, filepath.Join(t.TempDir(), "repo"), "archive")
			sum := e.commit(t, arborTool, repo, "main", src)
			ageObjectDirs(t, repo)
			e.fsckOK(t, arborTool, repo)
			c.damage(t, e, repo)
			out := e.run(t, arborTool, repo, "reindex")
			if !strings.Contains(out, "Indexed 1 commits") {
				t.Errorf("arbor reindex printed %q", out)
			}
			if p := e.pruneJSON(t, repo, "--no-prune"); p.Total != countObjects(t, repo) {
				t.Errorf("after reindex arbor prune counts %d objects, the repo holds %d", p.Total, countObjects(t, repo))
			}
			// A recommit (the same commit: same ref binding, no parent) must
			// restore anything missing.
			if again := e.commit(t, arborTool, repo, "main", src, "--parent=none"); again != sum {
				t.Errorf("recommit gave %s, want %s", again, sum)
			}
			e.fsckOK(t, arborTool, repo)
			e.fsckOK(t, ostreeTool, repo)
		})
	}
}
