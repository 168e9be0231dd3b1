package interop

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

// commitOptionSets are the flag sets both tools commit the fixture with.
var commitOptionSets = []struct {
	name string
	args []string
}{
	{"canonical", []string{"--owner-uid=0", "--owner-gid=0", "--no-xattrs"}},
	{"default", nil},
	{"metadata-bound", []string{"--add-metadata-string=version=1.2", "--add-metadata-string=zz=x"}},
	{"metadata-no-bindings", []string{"--add-metadata-string=version=1.2", "--add-metadata-string=zz=x", "--no-bindings"}},
}

// TestCommitChecksumsMatch commits the fixture with arbor and with ostree,
// each into its own fresh repo, and wants the same commit and the same set
// of objects.
func TestCommitChecksumsMatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	src := buildFixture(t)
	for _, mode := range modes {
		for _, set := range commitOptionSets {
			t.Run(mode+"/"+set.name, func(t *testing.T) {
				t.Parallel()
				tmp := t.TempDir()
				sums := map[string]string{}
				repos := map[string]string{}
				for _, tool := range []string{arborTool, ostreeTool} {
					repo := e.initRepo(t, tool, filepath.Join(tmp, tool), mode)
					repos[tool] = repo
					sums[tool] = e.commit(t, tool, repo, "main", src, set.args...)
				}
				if sums[arborTool] != sums[ostreeTool] {
					t.Errorf("commit checksums differ: arbor %s, ostree %s", sums[arborTool], sums[ostreeTool])
					// Say where: the commit alone, or the tree.
					for _, tool := range []string{arborTool, ostreeTool} {
						t.Logf("%s ls -RC:\n%s", tool, tail(e.run(t, ostreeTool, repos[tool], "ls", "-R", "-C", "-X", "main")))
						t.Logf("%s show:\n%s", tool, e.run(t, ostreeTool, repos[tool], "show", "main"))
					}
				}
				ao, oo := objectFiles(t, repos[arborTool]), objectFiles(t, repos[ostreeTool])
				if !slices.Equal(ao, oo) {
					t.Errorf("object files differ (- arbor, + ostree):\n%s",
						testutil.Diff(strings.Join(ao, "\n")+"\n", strings.Join(oo, "\n")+"\n"))
				}
				if got := readRef(t, repos[arborTool], "main"); got != sums[arborTool] {
					t.Errorf("arbor left refs/heads/main at %q, want %s", got, sums[arborTool])
				}
				if strings.Contains(set.name, "metadata") {
					for _, tool := range []string{arborTool, ostreeTool} {
						got := strings.TrimSpace(e.run(t, ostreeTool, repos[tool], "show", "--print-metadata-key=version", "main"))
						if got != "'1.2'" {
							t.Errorf("%s's commit: version metadata %s, want '1.2'", tool, got)
						}
					}
				}
			})
		}
	}
}

// TestFsckAcrossTools has each tool verify the repositories the other wrote.
func TestFsckAcrossTools(t *testing.T) {
	t.Parallel()
	e := setup(t)
	src := buildFixture(t)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			repos := map[string]string{}
			for _, tool := range []string{arborTool, ostreeTool} {
				repos[tool] = e.initRepo(t, tool, filepath.Join(tmp, tool), mode)
				// Two commits on a branch and one with metadata, so parents
				// and metadata are read too.
				e.commit(t, tool, repos[tool], "main", src, "--owner-uid=0", "--owner-gid=0", "--no-xattrs")
				e.commit(t, tool, repos[tool], "main", src)
				e.commit(t, tool, repos[tool], "other", src, "--add-metadata-string=version=1.2")
			}
			t.Run("ostree-fsck-of-arbor-repo", func(t *testing.T) { e.fsckOK(t, ostreeTool, repos[arborTool]) })
			t.Run("arbor-fsck-of-ostree-repo", func(t *testing.T) { e.fsckOK(t, arborTool, repos[ostreeTool]) })
			// Each on its own repo too, so a failure above is not the tool's
			// own problem.
			t.Run("arbor-fsck-of-arbor-repo", func(t *testing.T) { e.fsckOK(t, arborTool, repos[arborTool]) })
			t.Run("ostree-fsck-of-ostree-repo", func(t *testing.T) { e.fsckOK(t, ostreeTool, repos[ostreeTool]) })
		})
	}
}

// TestCommitParentage replays one sequence of commits (parents, orphans,
// canonical permissions) with both tools and wants the same checksums.
func TestCommitParentage(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tmp := t.TempDir()
	one, two := filepath.Join(tmp, "one"), filepath.Join(tmp, "two")
	mustWrite(t, filepath.Join(one, "f"), "one\n", 0o644)
	mustWrite(t, filepath.Join(two, "f"), "two\n", 0o600)
	mustWrite(t, filepath.Join(two, "sub", "g"), "g\n", 0o755)
	steps := []struct {
		name string
		args func(got map[string]string) []string
	}{
		{"first", func(map[string]string) []string { return []string{"-b", "main", "--tree=dir=" + one} }},
		{"child", func(map[string]string) []string { return []string{"-b", "main", "--tree=dir=" + two} }},
		{"parent-none", func(map[string]string) []string {
			return []string{"-b", "main", "--tree=dir=" + one, "--parent=none"}
		}},
		{"explicit-parent", func(got map[string]string) []string {
			return []string{"-b", "other", "--tree=dir=" + two, "--parent=" + got["first"]}
		}},
		{"canonical-permissions", func(map[string]string) []string {
			return []string{"-b", "main", "--tree=dir=" + two, "--canonical-permissions"}
		}},
		{"orphan", func(map[string]string) []string { return []string{"--orphan", "--tree=dir=" + two} }},
		{"orphan-no-bindings", func(map[string]string) []string {
			return []string{"--orphan", "--no-bindings", "--tree=dir=" + two}
		}},
	}
	got := map[string]map[string]string{}
	repos := map[string]string{}
	for _, tool := range []string{arborTool, ostreeTool} {
		repos[tool] = e.initRepo(t, tool, filepath.Join(tmp, "repo-"+tool), "archive")
		got[tool] = map[string]string{}
		for i, s := range steps {
			args := append([]string{"commit", "-s", s.name, "--timestamp=@" + strconv.Itoa(1000+i)}, s.args(got[tool])...)
			got[tool][s.name] = strings.TrimSpace(e.run(t, tool, repos[tool], args...))
		}
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			a, o := got[arborTool][s.name], got[ostreeTool][s.name]
			if a != o {
				t.Errorf("arbor commit %s gave %s, ostree %s", strings.Join(s.args(got[ostreeTool]), " "), a, o)
				for _, tool := range []string{arborTool, ostreeTool} {
					t.Logf("%s's commit:\n%s", tool, e.run(t, ostreeTool, repos[tool], "show", got[tool][s.name]))
					if md, _, err := e.runErr(ostreeTool, repos[tool], "show", "--print-metadata-key=ostree.ref-binding", got[tool][s.name]); err == nil {
						t.Logf("%s's ostree.ref-binding: %s", tool, md)
					} else {
						t.Logf("%s's commit has no ostree.ref-binding", tool)
					}
				}
			}
		})
	}
	for _, ref := range []string{"main", "other"} {
		if a, o := readRef(t, repos[arborTool], ref), readRef(t, repos[ostreeTool], ref); a != o {
			t.Errorf("ref %s: arbor %s, ostree %s", ref, a, o)
		}
	}
}
