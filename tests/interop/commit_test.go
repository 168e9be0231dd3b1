package interop

import (
	"path/filepath"
	"slices"
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
