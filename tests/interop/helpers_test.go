// Package interop checks arbor against the real ostree binary: the same
// commits byte for byte, each tool reading the other's repositories, the
// same answers from the inspection commands, and arbor's behaviour on
// hostile input, corruption, a stale index and SIGKILL.
package interop

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"arbor/tests/fixture"
	"arbor/tests/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.Cleanup()
	os.Exit(code)
}

// Tool names, also used in subtest names.
const (
	arborTool  = "arbor"
	ostreeTool = "ostree"
)

// modes are the repository modes both tools are compared in.
var modes = []string{"archive", "bare-user"}

// Fixed commit inputs, so both tools produce the same commit.
const (
	subject   = "interop subject"
	body      = "interop body\nsecond line"
	timestamp = "@1234567890"
)

// env runs the two tools.
type env struct {
	arbor string
}

// setup skips or fails t when ostree is missing and builds arbor.
func setup(t *testing.T) *env {
	t.Helper()
	testutil.NeedTool(t, "ostree")
	return &env{arbor: testutil.BuildArbor(t)}
}

func (e *env) bin(tool string) string {
	if tool == arborTool {
		return e.arbor
	}
	return "ostree"
}

// run runs tool against repo and returns stdout, failing t on error.
func (e *env) run(t *testing.T, tool, repo string, args ...string) string {
	t.Helper()
	return testutil.Run(t, e.bin(tool), append([]string{"--repo=" + repo}, args...)...)
}

// runErr is run without failing t.
func (e *env) runErr(tool, repo string, args ...string) (string, string, error) {
	return testutil.RunErr(e.bin(tool), append([]string{"--repo=" + repo}, args...)...)
}

// exitCode returns the exit status of a command error (0 for nil, -1 when
// the command did not exit normally).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// initRepo creates a repository at path with the given tool.
func (e *env) initRepo(t *testing.T, tool, path, mode string) string {
	t.Helper()
	e.run(t, tool, path, "init", "--mode="+mode)
	return path
}

// commit commits dir to branch with the fixed subject, body and timestamp
// plus extra flags, and returns the commit checksum the tool printed.
func (e *env) commit(t *testing.T, tool, repo, branch, dir string, extra ...string) string {
	t.Helper()
	args := append([]string{"commit", "-b", branch, "--tree=dir=" + dir, "-s", subject, "-m", body,
		"--timestamp=" + timestamp}, extra...)
	out := strings.TrimSpace(e.run(t, tool, repo, args...))
	if len(out) != 64 {
		t.Fatalf("%s commit printed %q, want a checksum", tool, out)
	}
	return out
}

// fsckOK fails t unless tool's fsck passes on repo.
func (e *env) fsckOK(t *testing.T, tool, repo string) {
	t.Helper()
	out, errOut, err := e.runErr(tool, repo, "fsck")
	if err != nil {
		t.Errorf("%s fsck of %s failed: %v\nstdout:\n%s\nstderr:\n%s", tool, repo, err, tail(out), tail(errOut))
	}
}

// tail keeps failure messages readable when a tool is chatty.
func tail(s string) string {
	const max = 4000
	if len(s) > max {
		return "...\n" + s[len(s)-max:]
	}
	return s
}

func privileged() bool { return os.Getenv(testutil.PrivilegedEnv) != "" }

// Owners given to some fixture entries in privileged runs, so "real
// ownership" is more than everything being root's.
const (
	fileUID, fileGID = 1234, 5678
	linkUID, linkGID = 4321, 8765
)

// buildFixture builds the shared fixture tree (with xattrs where the
// filesystem allows) under a fresh temp dir. In privileged root runs a few
// entries get non-root owners.
func buildFixture(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "fixture")
	opt := fixture.Options{Xattrs: xattrsSupported(t, tmp)}
	if err := fixture.Build(dir, opt); err != nil {
		t.Fatal(err)
	}
	if privileged() && os.Geteuid() == 0 {
		for _, c := range []struct {
			path     string
			uid, gid int
		}{
			{"text.txt", fileUID, fileGID},
			{"bin", fileUID, fileGID},
			{fixture.PathXattrFile, fileUID, 0},
			{"links/relative", linkUID, linkGID},
		} {
			if err := os.Lchown(filepath.Join(dir, c.path), c.uid, c.gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// xattrsSupported probes dir's filesystem for user.* xattrs; privileged
// runs require them.
func xattrsSupported(t *testing.T, dir string) bool {
	t.Helper()
	p := filepath.Join(dir, ".xattr-probe")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	if err := syscall.Setxattr(p, "user.probe", []byte("1"), 0); err != nil {
		if privileged() {
			t.Fatalf("user xattrs unsupported in %s: %v", dir, err)
		}
		t.Logf("user xattrs unsupported in %s, fixture built without them: %v", dir, err)
		return false
	}
	return true
}

// objectFiles lists the files under repo/objects, relative to it, sorted.
func objectFiles(t *testing.T, repo string) []string {
	t.Helper()
	root := filepath.Join(repo, "objects")
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// objectPath is where a loose object lives in repo.
func objectPath(repo, checksum, ext string) string {
	return filepath.Join(repo, "objects", checksum[:2], checksum[2:]+"."+ext)
}

// hasObject reports whether a loose object file exists.
func hasObject(repo, checksum, ext string) bool {
	_, err := os.Lstat(objectPath(repo, checksum, ext))
	return err == nil
}

// ageObjectDirs sets the mtime of every objects/XX directory an hour back,
// so arbor's index, once it has scanned them, trusts its stamps (it does
// not for directories modified in the last seconds) and only a real change
// behind its back can make it look again.
func ageObjectDirs(t *testing.T, repo string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	ents, err := os.ReadDir(filepath.Join(repo, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := os.Chtimes(filepath.Join(repo, "objects", e.Name()), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// copyTree copies src to dst preserving everything (cp -a).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	testutil.Run(t, "cp", "-a", src, dst)
}

// manifest describes a tree, failing t on error.
func manifest(t *testing.T, root string, opt testutil.ManifestOpts) string {
	t.Helper()
	m, err := testutil.ManifestWith(root, opt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameTree fails t when two trees differ under opt.
func sameTree(t *testing.T, what, want, got string, opt testutil.ManifestOpts) {
	t.Helper()
	if d := testutil.Diff(manifest(t, want, opt), manifest(t, got, opt)); d != "" {
		t.Errorf("%s: %s and %s differ:\n%s", what, want, got, d)
	}
}

// skipOstreeMeta hides the xattr that bare-user objects (and so hardlinked
// checkouts of them) carry.
func skipOstreeMeta(name string) bool { return name == "user.ostreemeta" }

// readRef returns the commit a local ref points at, or "" if it is absent.
func readRef(t *testing.T, repo, ref string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "refs", "heads", ref))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// lsChecksum returns the checksum column `ostree ls -C` prints for path:
// the content checksum of a file, the dirtree checksum of a directory.
func (e *env) lsChecksum(t *testing.T, repo, rev, path string) (tree, meta string) {
	t.Helper()
	out := strings.TrimSpace(e.run(t, ostreeTool, repo, "ls", "-C", "-d", rev, path))
	f := strings.Fields(out)
	// type+mode uid gid size checksum [dirmeta] path
	if len(f) < 6 {
		t.Fatalf("unexpected ostree ls -C output %q", out)
	}
	if strings.HasPrefix(f[0], "d") {
		return f[4], f[5]
	}
	return f[4], ""
}

func mustWrite(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
