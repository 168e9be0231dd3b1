package interop

import (
	"fmt"
	"os"
	"os/exec"
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

// TestCommitTreesMatch commits with ostree's tree options, each into both
// tools' repositories, and wants the same checksums: several --tree
// overlaid, --tree=ref=, no tree argument (the current directory), and
// --bootable, whose metadata ostree writes in glib's hash table order.
func TestCommitTreesMatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	src := t.TempDir()
	write := func(rel, data string) {
		t.Helper()
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("os/usr/lib/modules/6.1.0/vmlinuz", "a kernel\n")
	write("os/usr/bin/sh", "a shell\n")
	write("os/etc/a.conf", "old\n")
	write("over/etc/a.conf", "new\n")
	write("over/etc/b.conf", "added\n")
	write("over/var/x", "x\n")
	write("twokernels/usr/lib/modules/1/vmlinuz", "1\n")
	write("twokernels/usr/lib/modules/2/vmlinuz", "2\n")
	write("clash/usr", "a file where os has a directory\n")
	manyKeys := []string{"--bootable"}
	for i := range 12 {
		manyKeys = append(manyKeys, fmt.Sprintf("--add-metadata-string=key%d=v", i))
	}
	fixed := []string{"-s", subject, "--timestamp=" + timestamp}
	cases := []struct {
		name string
		dir  string // the directory commit runs in
		args []string
	}{
		{"cwd", filepath.Join(src, "os"), nil},
		{"overlay", src, []string{"--tree=dir=os", "--tree=dir=over"}},
		{"ref-then-dir", src, []string{"--tree=ref=base", "--tree=dir=over"}},
		{"bootable", src, []string{"--bootable", "--tree=dir=os"}},
		{"bootable-many-keys", src, append(manyKeys, "--tree=dir=os")},
		{"bootable-overlay", src, []string{"--bootable", "--no-bindings", "--tree=dir=over", "--tree=dir=os"}},
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			repos := map[string]string{}
			for _, tool := range []string{arborTool, ostreeTool} {
				repos[tool] = e.initRepo(t, tool, filepath.Join(t.TempDir(), tool), mode)
				e.run(t, tool, repos[tool], append([]string{"commit", "-b", "base", "--tree=dir=" + filepath.Join(src, "os")}, fixed...)...)
			}
			for _, c := range cases {
				sums := map[string]string{}
				for _, tool := range []string{arborTool, ostreeTool} {
					cmd := exec.Command(e.bin(tool), append(append([]string{"--repo=" + repos[tool], "commit", "-b", c.name}, fixed...), c.args...)...)
					cmd.Dir = c.dir
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("%s: %s commit: %v\n%s", c.name, tool, err, out)
					}
					sums[tool] = strings.TrimSpace(string(out))
				}
				if sums[arborTool] != sums[ostreeTool] {
					t.Errorf("%s: arbor committed %s, ostree %s\narbor: %s\nostree: %s", c.name, sums[arborTool], sums[ostreeTool],
						e.run(t, ostreeTool, repos[arborTool], "show", "--raw", c.name), e.run(t, ostreeTool, repos[ostreeTool], "show", "--raw", c.name))
				}
			}
			// Both refuse what ostree refuses, naming the cause.
			for _, bad := range [][]string{
				{"--bootable", "--tree=dir=" + filepath.Join(src, "over")},
				{"--bootable", "--tree=dir=" + filepath.Join(src, "twokernels")},
				{"--tree=dir=" + filepath.Join(src, "os"), "--tree=dir=" + filepath.Join(src, "clash")},
			} {
				_, errOut, err := e.runErr(arborTool, repos[arborTool], append([]string{"commit", "-b", "bad"}, bad...)...)
				if err == nil {
					t.Errorf("arbor commit %v succeeded", bad)
				} else if !strings.Contains(errOut, "kernel") && !strings.Contains(errOut, "modules") && !strings.Contains(errOut, "replace") {
					t.Errorf("arbor commit %v: %s", bad, errOut)
				}
			}
			if out, _, err := e.runErr(arborTool, repos[arborTool], "rev-parse", "bad"); err == nil {
				t.Errorf("a refused commit moved the ref: %s", out)
			}
		})
	}
}

// A repository with a collection ID binds its commits to it, after the
// refs (--bind-ref included, sorted), as ostree's do.
func TestCommitCollectionBindingMatches(t *testing.T) {
	t.Parallel()
	e := setup(t)
	src := buildFixture(t)
	sums := map[string]string{}
	for _, tool := range []string{arborTool, ostreeTool} {
		repo := filepath.Join(t.TempDir(), tool)
		e.run(t, tool, repo, "init", "--mode=archive", "--collection-id=org.example.Apps")
		sums[tool] = e.commit(t, tool, repo, "main", src, "--bind-ref=zz/x", "--bind-ref=aa/x")
	}
	if sums[arborTool] != sums[ostreeTool] {
		t.Errorf("arbor committed %s, ostree %s", sums[arborTool], sums[ostreeTool])
	}
	if _, errOut, err := e.runErr(arborTool, filepath.Join(t.TempDir(), "bad"), "init", "--collection-id=nodots"); err == nil || !strings.Contains(errOut, "collection ID") {
		t.Errorf("init with a bad collection ID: %v %s", err, errOut)
	}
}
