package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

// A commit whose subject, body and metadata carry terminal escapes (CSI
// in ESC and C1 form, an OSC title, a bidi override) and whose tree has
// such names: log, show, ls, diff and errors print them escaped, and
// --json writes them as \u escapes.
func TestControlCharactersAreEscaped(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	repo := e.initRepo(t, arborTool, filepath.Join(dir, "repo"), "archive")
	tree := filepath.Join(dir, "tree")
	evil := "evil\x1b]0;pwned\x07\u009b2J\u202etxt.exe"
	testutil.WriteFile(t, filepath.Join(tree, evil), "x", 0o644)
	testutil.Must(t, os.Symlink("target\x1b[8m", filepath.Join(tree, "link")))
	testutil.Must(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	e.run(t, arborTool, repo, "commit", "-b", "main", "--tree=dir="+filepath.Join(dir, "empty"), "-s", "first")
	subject := "\x1b[31mred\x1b[0m and \u009b31mC1 red"
	e.run(t, arborTool, repo, "commit", "-b", "main", "--tree=dir="+tree, "-s", subject, "-m", "body\x1b[2J\nline two\u202e\t",
		"--add-metadata-string=version=1.0\u009b6n")
	for _, args := range [][]string{
		{"log", "main"}, {"show", "main"}, {"show", "--print-metadata-key=version", "main"},
		{"ls", "-R", "main"}, {"ls", "-R", "-C", "main"}, {"diff", "main^", "main"},
	} {
		out := e.run(t, arborTool, repo, args...)
		if r, bad := testutil.TerminalControl(out); bad {
			t.Errorf("%s printed U+%04X raw:\n%q", strings.Join(args, " "), r, out)
		}
	}
	log := e.run(t, arborTool, repo, "log", "main")
	for _, want := range []string{`\x1b[31mred\x1b[0m and \u009b31mC1 red`, `body\x1b[2J`, `line two\u202e` + "\t", `Version: 1.0\u009b6n`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if ls := e.run(t, arborTool, repo, "ls", "-R", "main"); !strings.Contains(ls, `/evil\x1b]0;pwned\x07\u009b2J\u202etxt.exe`) ||
		!strings.Contains(ls, `/link -> target\x1b[8m`) {
		t.Errorf("ls:\n%s", ls)
	}
	_, errOut, err := e.runErr(arborTool, repo, "cat", "main", "/no\x1b[2Jsuch")
	if r, bad := testutil.TerminalControl(errOut); err == nil || bad {
		t.Errorf("the error printed U+%04X raw (%v):\n%q", r, err, errOut)
	}
	for _, args := range [][]string{{"log", "--json", "main"}, {"ls", "-R", "--json", "main"}} {
		out := e.run(t, arborTool, repo, args...)
		if r, bad := testutil.TerminalControl(out); bad || !strings.Contains(out, `\u001b`) || !strings.Contains(out, `\u009b`) {
			t.Errorf("%s (U+%04X raw: %v):\n%s", strings.Join(args, " "), r, bad, out)
		}
	}
}
