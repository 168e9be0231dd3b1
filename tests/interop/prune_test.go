package interop

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

// TestPrune prunes copies of one repo with arbor and with ostree and wants
// the same objects left, and the commits the flags promise.
func TestPrune(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tmp := t.TempDir()
	base := e.initRepo(t, arborTool, filepath.Join(tmp, "base"), "archive")
	// Three commits on main (each tree has a file of its own, so pruning a
	// commit frees content too), and one older orphan commit.
	var main []string
	for i, ts := range []string{"@1000", "@2000", "@3000"} {
		dir := filepath.Join(tmp, "tree", ts)
		mustWrite(t, filepath.Join(dir, "common"), "shared by all\n", 0o644)
		mustWrite(t, filepath.Join(dir, "sub", "own"), strings.Repeat(ts, i+1)+"\n", 0o644)
		out := e.run(t, arborTool, base, "commit", "-b", "main", "--tree=dir="+dir, "-s", "c"+ts, "--timestamp="+ts)
		main = append(main, strings.TrimSpace(out))
	}
	orphanDir := filepath.Join(tmp, "tree", "orphan")
	mustWrite(t, filepath.Join(orphanDir, "lonely"), "orphan\n", 0o644)
	orphan := strings.TrimSpace(e.run(t, arborTool, base, "commit", "--orphan", "--tree=dir="+orphanDir, "--timestamp=@500"))
	e.fsckOK(t, ostreeTool, base)

	all := []string{main[0], main[1], main[2], orphan}
	cases := []struct {
		name    string
		args    []string
		deleted []string // commits that must be gone
		cutLog  bool     // main's history no longer complete
	}{
		{"refs-only-depth-0", []string{"--refs-only", "--depth=0"}, []string{main[0], main[1], orphan}, true},
		{"refs-only-depth-1", []string{"--refs-only", "--depth=1"}, []string{main[0], orphan}, true},
		{"refs-only", []string{"--refs-only"}, []string{orphan}, false},
		{"no-prune", []string{"--refs-only", "--depth=0", "--no-prune"}, nil, false},
		{"keep-younger-than", []string{"--keep-younger-than=@2000"}, []string{main[0], orphan}, true},
		{"keep-younger-than-date", []string{"--keep-younger-than=1970-01-01 00:25:00 +0000"}, []string{main[0], orphan}, true},
		{"plain", nil, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			repos := map[string]string{}
			for _, tool := range []string{arborTool, ostreeTool} {
				repos[tool] = filepath.Join(dir, tool)
				copyTree(t, base, repos[tool])
			}
			before := objectFiles(t, repos[arborTool])
			e.run(t, arborTool, repos[arborTool], append([]string{"prune"}, c.args...)...)
			e.run(t, ostreeTool, repos[ostreeTool], append([]string{"prune"}, c.args...)...)
			got, want := objectFiles(t, repos[arborTool]), objectFiles(t, repos[ostreeTool])
			if !slices.Equal(got, want) {
				t.Errorf("arbor prune %s left other objects than ostree prune (- ostree, + arbor):\n%s",
					strings.Join(c.args, " "), testutil.Diff(strings.Join(want, "\n")+"\n", strings.Join(got, "\n")+"\n"))
			}
			if c.name == "no-prune" && !slices.Equal(got, before) {
				t.Errorf("arbor prune --no-prune deleted objects:\n%s",
					testutil.Diff(strings.Join(before, "\n")+"\n", strings.Join(got, "\n")+"\n"))
			}
			for _, sum := range all {
				gone := slices.Contains(c.deleted, sum)
				if has := hasObject(repos[arborTool], sum, "commit"); has == gone {
					t.Errorf("commit %s: present=%v after arbor prune, want %v", sum, has, !gone)
				}
			}
			e.fsckOK(t, ostreeTool, repos[arborTool])
			e.fsckOK(t, arborTool, repos[arborTool])
			log := e.run(t, arborTool, repos[arborTool], "log", "main")
			if cut := strings.Contains(log, "<< History beyond this commit not fetched >>"); cut != c.cutLog {
				t.Errorf("arbor log main says history cut=%v, want %v:\n%s", cut, c.cutLog, log)
			}
			if olog := e.run(t, ostreeTool, repos[arborTool], "log", "main"); olog != log {
				t.Errorf("arbor log differs from ostree log on the pruned repo:\n%s", testutil.Diff(olog, log))
			}
		})
	}
}
