package interop

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"arbor/store/object"
	"arbor/tests/fixture"
	"arbor/tests/testutil"
)

// noStaging fails t if a staging directory of arbor's is left in repo/tmp.
func noStaging(t *testing.T, repo string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(repo, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "arbor-staging-") {
			t.Errorf("staging directory %s left behind", e.Name())
		}
	}
}

// TestCommitRejectsSpecialFiles commits trees holding inodes OSTree cannot
// represent and wants a failure naming the path, and no damage.
func TestCommitRejectsSpecialFiles(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cases := []struct {
		name string
		add  func(dir string) error
		file string
	}{
		{"fifo", fixture.Fifo, fixture.FifoName},
		{"socket", fixture.Socket, fixture.SocketName},
	}
	for _, mode := range modes {
		for _, c := range cases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				tmp := t.TempDir()
				src := filepath.Join(tmp, "tree")
				must(t, fixture.Build(src, fixture.Options{BigSize: 1 << 20}))
				// Deep inside the tree, beside ordinary files.
				parent := filepath.Join(src, "sort", "dirs", "a")
				must(t, c.add(parent))
				bad := filepath.Join(parent, c.file)

				repo := e.initRepo(t, arborTool, filepath.Join(tmp, "repo"), mode)
				out, errOut, err := e.runErr(arborTool, repo, "commit", "-b", "main", "--tree=dir="+src, "--timestamp="+timestamp)
				if err == nil {
					t.Fatalf("arbor commit of a tree with a %s succeeded: %s", c.name, out)
				}
				if !strings.Contains(errOut, bad) {
					t.Errorf("arbor commit failed (%v) but stderr does not name %s:\n%s", err, bad, errOut)
				}
				if ref := readRef(t, repo, "main"); ref != "" {
					t.Errorf("failed commit left ref main at %s", ref)
				}
				noStaging(t, repo)
				e.fsckOK(t, arborTool, repo)
				e.fsckOK(t, ostreeTool, repo)
			})
		}
	}
}

// TestCommitUnreadableFile commits, as an unprivileged user, a tree holding
// a file that user cannot read.
func TestCommitUnreadableFile(t *testing.T) {
	t.Parallel()
	e := setup(t)
	testutil.Privileged(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user")
	}
	testutil.NeedTool(t, "setpriv")
	const nobody = 65534
	tmp := t.TempDir()
	// The user must reach tmp: open up the test's temp dirs.
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		must(t, os.Chmod(d, 0o755))
	}
	bin := filepath.Join(tmp, "arbor")
	for _, name := range []string{"arbor", "arbor-full"} { // arbor hands commit to arbor-full
		data, err := os.ReadFile(filepath.Join(filepath.Dir(e.arbor), name))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(tmp, name), data, 0o755))
	}

	// Two trees: one with a file nobody can read, one with a directory
	// nobody can list. Both belong to nobody, with mode 000.
	trees := map[string]string{}
	for _, kind := range []string{"file", "dir"} {
		src := filepath.Join(tmp, "tree-"+kind)
		mustWrite(t, filepath.Join(src, "ok"), "readable\n", 0o644)
		mustWrite(t, filepath.Join(src, "sub", "fine"), "readable\n", 0o644)
		locked := filepath.Join(src, "sub", "locked")
		if kind == "file" {
			mustWrite(t, locked, "secret\n", 0o644)
		} else {
			mustWrite(t, filepath.Join(locked, "inside"), "secret\n", 0o644)
		}
		trees[kind] = src
	}
	repo := filepath.Join(tmp, "repo")
	must(t, os.Mkdir(repo, 0o755))
	must(t, filepath.WalkDir(tmp, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	}))
	for _, src := range trees {
		must(t, os.Chmod(filepath.Join(src, "sub", "locked"), 0o000))
	}

	asNobody := func(args ...string) (string, string, error) {
		return testutil.RunErr("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups",
			bin, "--repo=" + repo}, args...)...)
	}
	for _, mode := range modes {
		for _, kind := range []string{"file", "dir"} {
			t.Run(mode+"/"+kind, func(t *testing.T) {
				unreadable(t, asNobody, repo, mode, trees[kind])
			})
		}
	}
}

// unreadable commits src, whose sub/locked nobody can read, as nobody.
func unreadable(t *testing.T, asNobody func(args ...string) (string, string, error), repo, mode, src string) {
	t.Helper()
	locked := filepath.Join(src, "sub", "locked")
	must(t, os.RemoveAll(repo))
	if _, errOut, err := asNobody("init", "--mode="+mode); err != nil {
		t.Fatalf("init as nobody: %v\n%s", err, errOut)
	}
	out, errOut, err := asNobody("commit", "-b", "main", "--tree=dir="+src, "--timestamp="+timestamp)
	if err == nil {
		t.Fatalf("commit of an unreadable %s succeeded: %s", locked, out)
	}
	if !strings.Contains(errOut, locked) {
		t.Errorf("commit failed (%v) but stderr does not name %s:\n%s", err, locked, errOut)
	}
	if ref := readRef(t, repo, "main"); ref != "" {
		t.Errorf("failed commit left ref main at %s", ref)
	}
	noStaging(t, repo)
}

// hostileRepo is an archive repo holding a commit whose tree has an entry
// called name, as a file or a directory, in the root or a subdirectory.
type hostileRepo struct {
	repo, commit, badTree string
}

func writeObject(t *testing.T, repo string, sum object.Checksum, typ object.Type, data []byte) {
	t.Helper()
	p := filepath.Join(repo, object.Path(sum, typ, true))
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, data, 0o644))
}

func writeMeta(t *testing.T, repo string, typ object.Type, data []byte) object.Checksum {
	t.Helper()
	sum := object.Sha256(data)
	writeObject(t, repo, sum, typ, data)
	return sum
}

func buildHostile(t *testing.T, e *env, dir, name string, asDir, nested bool) hostileRepo {
	t.Helper()
	repo := e.initRepo(t, ostreeTool, dir, "archive")
	// One content object, used for every file.
	h := object.FileHeader{Mode: 0o100644}
	payload := []byte("escaped\n")
	var buf bytes.Buffer
	comp, err := object.NewCompressor(6)
	must(t, err)
	must(t, comp.WriteArchive(&buf, &h, uint64(len(payload)), bytes.NewReader(payload)))
	file := object.ContentChecksum(&h, payload)
	writeObject(t, repo, file, object.TypeFile, buf.Bytes())
	meta := writeMeta(t, repo, object.TypeDirMeta, object.DirMeta{Mode: 0o40755}.Marshal())

	// What the hostile entry would write if followed.
	inner := object.DirTree{Files: []object.FileEntry{{Name: "escaped", Checksum: file}}}
	innerSum := writeMeta(t, repo, object.TypeDirTree, inner.Marshal())

	bad := object.DirTree{Files: []object.FileEntry{{Name: "ok", Checksum: file}, {Name: "zz-ok", Checksum: file}}}
	if asDir {
		bad.Dirs = append(bad.Dirs, object.DirEntry{Name: name, Tree: innerSum, Meta: meta})
	} else {
		bad.Files = append(bad.Files, object.FileEntry{Name: name, Checksum: file})
	}
	badSum := writeMeta(t, repo, object.TypeDirTree, bad.Marshal())
	rootSum := badSum
	if nested {
		root := object.DirTree{
			Files: []object.FileEntry{{Name: "top", Checksum: file}},
			Dirs:  []object.DirEntry{{Name: "sub", Tree: badSum, Meta: meta}},
		}
		rootSum = writeMeta(t, repo, object.TypeDirTree, root.Marshal())
	}
	c := object.Commit{Subject: "hostile", Timestamp: 1, RootTree: rootSum, RootMeta: meta}
	cb, err := c.Marshal()
	must(t, err)
	commit := writeMeta(t, repo, object.TypeCommit, cb)
	mustWrite(t, filepath.Join(repo, "refs", "heads", "hostile"), commit.String()+"\n", 0o644)
	return hostileRepo{repo: repo, commit: commit.String(), badTree: badSum.String()}
}

// TestHostileDirTree feeds arbor repos whose dirtrees hold names that could
// escape a checkout, and wants every command to refuse them.
func TestHostileDirTree(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, name := range []string{"..", ".", "a/b", "", "../escaped-dir"} {
		for _, asDir := range []bool{false, true} {
			for _, nested := range []bool{false, true} {
				label := map[bool]string{false: "file", true: "dir"}[asDir] + "-" +
					map[bool]string{false: "in-root", true: "in-subdir"}[nested] + "-" + strings.NewReplacer("/", "slash", ".", "dot").Replace(name)
				if name == "" {
					label += "empty"
				}
				t.Run(label, func(t *testing.T) {
					t.Parallel()
					tmp := t.TempDir()
					h := buildHostile(t, e, filepath.Join(tmp, "repo"), name, asDir, nested)
					// DEST two levels down, so ".." and "../x" stay inside tmp.
					dest := filepath.Join(tmp, "work", "inner", "dest")
					must(t, os.MkdirAll(filepath.Dir(dest), 0o755))

					for _, args := range [][]string{
						{"checkout", "-U", "hostile", dest},
						{"checkout", "-U", "--union", "hostile", dest},
						{"ls", "-R", "hostile"},
						{"fsck"},
					} {
						out, errOut, err := e.runErr(arborTool, h.repo, args...)
						if err == nil {
							t.Errorf("arbor %s accepted a dirtree entry named %q:\n%s", strings.Join(args, " "), name, out)
						} else if args[0] == "fsck" && !strings.Contains(out+errOut, h.badTree) {
							t.Errorf("arbor fsck failed but does not name dirtree %s:\n%s%s", h.badTree, out, errOut)
						}
					}
					// Nothing may appear outside dest: tmp holds only the
					// repo and the (empty) chain of directories to dest.
					err := filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
						if err != nil {
							return err
						}
						rel, _ := filepath.Rel(tmp, p)
						switch {
						case p == h.repo || p == dest:
							return filepath.SkipDir
						case rel == "." || rel == "work" || rel == filepath.Join("work", "inner"):
							return nil
						}
						t.Errorf("checkout wrote %s, outside %s", p, dest)
						return nil
					})
					must(t, err)
				})
			}
		}
	}
}

// A group of commands given no subcommand, or one it lacks, fails with
// the name and its usage on stderr, as ostree's do; help still succeeds.
func TestUnknownSubcommands(t *testing.T) {
	arbor := testutil.BuildArbor(t)
	for _, c := range []struct {
		args []string
		fail string // "" succeeds
	}{
		{[]string{"frob"}, `Unknown command 'frob'`},
		{[]string{}, `No command specified`},
		{[]string{"remote", "frob"}, `Unknown "remote" subcommand "frob"`},
		{[]string{"admin", "frob"}, `Unknown "admin" subcommand "frob"`},
		{[]string{"admin"}, `No "admin" subcommand specified`},
		{[]string{"remote"}, `No "remote" subcommand specified`},
		{[]string{"remote", "--help"}, ""},
		{[]string{"admin", "status", "--help"}, ""},
	} {
		_, stderr, err := testutil.RunErr(arbor, c.args...)
		if c.fail == "" {
			if err != nil {
				t.Errorf("%v: %v\n%s", c.args, err, stderr)
			}
			continue
		}
		if err == nil || !strings.Contains(stderr, c.fail) || !strings.Contains(stderr, "Usage:") {
			t.Errorf("%v: %v, saying %q; want a failure saying %q", c.args, err, stderr, c.fail)
		}
	}
}

// Without --repo, ostree's commands use the current directory when it is
// a repository, else $OSTREE_REPO, else the system's, and say so when
// there is none, as ostree does; the flatpak-style commands keep the
// installation. A remote with no repository behind it says so.
func TestRepoRequired(t *testing.T) {
	testutil.NeedTool(t, "ostree")
	if _, err := os.Stat("/ostree/repo"); err == nil {
		t.Skip("this machine has /ostree/repo, the default both would use")
	}
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	run := func(name string, env []string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "OSTREE_REPO=") }), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, args := range [][]string{{"refs"}, {"log", "main"}, {"commit", "-b", "main", "--tree=dir=."}, {"remote", "list"}} {
		for _, tool := range []string{"ostree", arbor} {
			out, err := run(tool, nil, args...)
			if err == nil || !strings.Contains(out, "Command requires a --repo argument") {
				t.Errorf("%s %v with no repository: %v, %q", filepath.Base(tool), args, err, out)
			}
		}
	}
	if out, err := run(arbor, []string{"XDG_DATA_HOME=" + filepath.Join(dir, "data")}, "--user", "list"); err != nil {
		t.Errorf("arbor --user list makes the installation: %v %s", err, out)
	}
	repo := filepath.Join(dir, "repo")
	if out, err := run(arbor, nil, "--repo="+repo, "init"); err != nil {
		t.Fatal(out)
	}
	if out, err := run(arbor, []string{"OSTREE_REPO=" + repo}, "remote", "add", "--no-gpg-verify", "none", "file://"+filepath.Join(dir, "nothing-here")); err != nil {
		t.Fatal(out)
	}
	if out, err := run(arbor, []string{"OSTREE_REPO=" + repo}, "pull", "none", "main"); err == nil || !strings.Contains(out, "no repository at file://") {
		t.Errorf("pull from a file:// remote with no repository: %v, %q", err, out)
	}
}
