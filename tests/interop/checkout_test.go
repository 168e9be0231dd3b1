package interop

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"arbor/tests/testutil"
)

// bothRepos commits the fixture (default flags: xattrs and real ownership)
// into a fresh repo of each tool and returns the repos by tool and the
// commit, which the two must agree on.
func bothRepos(t *testing.T, e *env, src, tmp, mode string) map[string]string {
	t.Helper()
	repos := map[string]string{}
	sums := map[string]string{}
	for _, tool := range []string{arborTool, ostreeTool} {
		repos[tool] = e.initRepo(t, tool, filepath.Join(tmp, "repo-"+tool), mode)
		sums[tool] = e.commit(t, tool, repos[tool], "main", src)
	}
	if sums[arborTool] != sums[ostreeTool] {
		t.Fatalf("commits differ (arbor %s, ostree %s); see TestCommitChecksumsMatch", sums[arborTool], sums[ostreeTool])
	}
	return repos
}

// TestCrossCheckout checks out each tool's commit with the other tool and
// compares the trees with that tool's own checkout.
func TestCrossCheckout(t *testing.T) {
	t.Parallel()
	e := setup(t)
	src := buildFixture(t)
	variants := []struct {
		name     string
		flags    []string
		root     bool   // needs privileges: ownership, setuid, xattrs
		onlyMode string // "" for every mode
		// asSource is what a checkout keeps of the committed tree.
		asSource testutil.ManifestOpts
		srcSub   string                          // the part of the tree checked out
		prepare  func(t *testing.T, dest string) // fills dest before the checkout
	}{
		{name: "user", flags: []string{"-U"},
			asSource: testutil.ManifestOpts{IgnoreOwner: true, IgnoreXattrs: true, DropModeBits: syscall.S_ISUID | syscall.S_ISGID}},
		// -H: only regular files must be hardlinks (symlinks are created).
		{name: "user-hardlinks", flags: []string{"-U", "-H"}, onlyMode: "bare-user",
			asSource: testutil.ManifestOpts{IgnoreOwner: true, IgnoreXattrs: true, DropModeBits: syscall.S_ISUID | syscall.S_ISGID}},
		{name: "full", root: true, asSource: testutil.ManifestOpts{SkipXattr: skipOstreeMeta}},
		{name: "user-subpath", flags: []string{"-U", "--subpath=/sort"}, srcSub: "sort",
			asSource: testutil.ManifestOpts{IgnoreOwner: true, IgnoreXattrs: true, DropModeBits: syscall.S_ISUID | syscall.S_ISGID}},
		{name: "full-subpath", flags: []string{"--subpath=/xattr"}, root: true, srcSub: "xattr",
			asSource: testutil.ManifestOpts{SkipXattr: skipOstreeMeta}},
		// --union over a tree holding stale versions of committed files and
		// a file of its own, which stays.
		{name: "user-union", flags: []string{"-U", "--union"},
			prepare: func(t *testing.T, dest string) {
				mustWrite(t, filepath.Join(dest, "text.txt"), "stale\n", 0o600)
				mustWrite(t, filepath.Join(dest, "sort", "files", "a"), "stale\n", 0o644)
				mustWrite(t, filepath.Join(dest, "sort", "extra"), "not in the commit\n", 0o644)
				must(t, os.Symlink("stale-target", filepath.Join(dest, "no-newline")))
			}},
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			repos := bothRepos(t, e, src, tmp, mode)
			for _, v := range variants {
				if v.onlyMode != "" && v.onlyMode != mode {
					continue
				}
				t.Run(v.name, func(t *testing.T) {
					if v.root {
						testutil.Privileged(t)
					}
					// co[checkout tool][repo tool]; missing when the checkout failed.
					co := map[string]map[string]string{}
					for _, tool := range []string{arborTool, ostreeTool} {
						co[tool] = map[string]string{}
						for _, owner := range []string{arborTool, ostreeTool} {
							// Beside the repos, so hardlinks work.
							dest := filepath.Join(tmp, "co-"+v.name+"-"+tool+"-of-"+owner)
							if v.prepare != nil {
								v.prepare(t, dest)
							}
							args := append(append([]string{"checkout"}, v.flags...), "main", dest)
							if _, errOut, err := e.runErr(tool, repos[owner], args...); err != nil {
								t.Errorf("%s checkout of %s's commit failed: %v\n%s", tool, owner, err, tail(errOut))
								continue
							}
							co[tool][owner] = dest
						}
					}
					opt := testutil.ManifestOpts{SkipXattr: skipOstreeMeta}
					compare := func(what, want, got string, opt testutil.ManifestOpts) {
						if want != "" && got != "" {
							sameTree(t, what, want, got, opt)
						}
					}
					compare("arbor's checkout of ostree's commit vs ostree's own", co[ostreeTool][ostreeTool], co[arborTool][ostreeTool], opt)
					compare("ostree's checkout of arbor's commit vs arbor's own", co[arborTool][arborTool], co[ostreeTool][arborTool], opt)
					compare("arbor's own checkout vs ostree's own", co[ostreeTool][ostreeTool], co[arborTool][arborTool], opt)
					if v.prepare == nil {
						compare("arbor's checkout vs the committed tree", filepath.Join(src, v.srcSub), co[arborTool][arborTool], v.asSource)
					}
				})
			}
		})
	}
}

// TestInspectCommands runs arbor's read-only commands and ostree's on the
// same repos (written by either tool) and wants the same output.
func TestInspectCommands(t *testing.T) {
	t.Parallel()
	e := setup(t)
	src := buildFixture(t)
	cmds := [][]string{
		{"ls", "-R", "main"},
		{"ls", "-R", "-C", "main"},
		{"ls", "-R", "main", "/sort"},
		{"ls", "main"},
		{"ls", "main", "/links"},
		{"log", "main"},
		{"show", "main"},
		{"show", "main^"},
		{"show", "--print-metadata-key=version", "main"},
		{"rev-parse", "main^"},
		{"refs"},
		{"cat", "main", "/text.txt"},
		{"cat", "main", "/big.bin"},
		{"cat", "main", "/64k.bin"},
		{"cat", "main", "/empty"},
		{"cat", "main", "/no-newline"},
		{"cat", "main", "/unicode/é"},
		{"cat", "main", "/unicode/e\u0301"},
		{"cat", "main", "/hard/sub/three"},
		{"cat", "main", "/xattr/file"},
		{"cat", "main", "/bin/setuid"},
		{"cat", "main", "/secret"},
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			repos := map[string]string{}
			for _, tool := range []string{arborTool, ostreeTool} {
				repos[tool] = e.initRepo(t, tool, filepath.Join(tmp, tool), mode)
				e.commit(t, tool, repos[tool], "main", src)
				e.commit(t, tool, repos[tool], "main", src, "--add-metadata-string=version=1.2")
			}
			for _, owner := range []string{arborTool, ostreeTool} {
				for _, args := range cmds {
					t.Run(owner+"-repo/"+strings.Join(args, " "), func(t *testing.T) {
						want := e.run(t, ostreeTool, repos[owner], args...)
						got := e.run(t, arborTool, repos[owner], args...)
						if got == want {
							return
						}
						if sortLines(got) == sortLines(want) {
							t.Errorf("arbor %s prints ostree's lines in another order (- ostree, + arbor):\n%s",
								strings.Join(args, " "), testutil.Diff(want, got))
							return
						}
						t.Errorf("arbor %s differs from ostree's (- ostree, + arbor):\n%s",
							strings.Join(args, " "), testutil.Diff(want, got))
					})
				}
			}
		})
	}
}

func sortLines(s string) string {
	l := strings.Split(s, "\n")
	slices.Sort(l)
	return strings.Join(l, "\n")
}
