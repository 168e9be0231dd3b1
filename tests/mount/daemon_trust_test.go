package mount

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"arbor/mountd"
	"arbor/mountd/mountinfo"
	"arbor/tests/testutil"
)

// localRepo makes a bare-user repository with one commit of one file.
func (e *env) localRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "tree/file"), "content\n")
	repo := filepath.Join(dir, "repo")
	e.initRepo(t, repo, "bare-user")
	e.run(t, repo, "commit", "-b", "main", "--tree=dir="+filepath.Join(dir, "tree"))
	return repo
}

func TestMountPointThroughSymlinkIsRefused(t *testing.T) {
	e := setup(t)
	repo := e.localRepo(t)
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "real/mnt"), 0o755))
	must(t, os.Symlink("real", filepath.Join(dir, "link")))
	via := filepath.Join(dir, "link/mnt")
	_, errOut, err := testutil.RunErr(e.arbor, "--repo="+repo, "mount", "main", via)
	if err == nil {
		testutil.RunErr(e.arbor, "--repo="+repo, "umount", filepath.Join(dir, "real/mnt"))
		t.Fatal("mounted through a symlink")
	}
	if !strings.Contains(errOut, via) || !strings.Contains(errOut, "symlink") {
		t.Fatalf("the refusal does not name the path and the symlink: %s", errOut)
	}
	if mountinfo.IsArbor(filepath.Join(dir, "real/mnt")) {
		t.Fatal("mounted on the symlink's target anyway")
	}
}

func TestDaemonTouchesOnlyItsOwnMounts(t *testing.T) {
	e := setup(t)
	a, b := e.localRepo(t), e.localRepo(t)
	mpA := e.mount(t, a, "main")
	e.mount(t, b, "main") // b's daemon runs
	_, errOut, err := testutil.RunErr(e.arbor, "--repo="+b, "umount", mpA)
	if err == nil || !strings.Contains(errOut, "another repository") {
		t.Fatalf("another repository's umount of %s: %v, %s", mpA, err, errOut)
	}
	if got, err := os.ReadFile(filepath.Join(mpA, "file")); err != nil || string(got) != "content\n" {
		t.Fatalf("%s after another repository's umount: %q, %v", mpA, got, err)
	}
	// Its own daemon still takes it down.
	e.run(t, a, "umount", mpA)
	if mountinfo.IsArbor(mpA) {
		t.Fatal("still mounted after its own umount")
	}
}

func TestDaemonSocketIsPrivate(t *testing.T) {
	e := setup(t)
	testutil.NeedTool(t, "setpriv")
	testutil.NeedTool(t, "curl")
	repo := e.localRepo(t)
	e.mount(t, repo, "main")
	sock := mountd.SocketPath(repo)
	fi, err := os.Stat(sock)
	must(t, err)
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s: %v, want a socket of mode 0600", sock, fi.Mode())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(sock), ".sock-*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	// Should the socket's mode ever let another user reach it, the daemon
	// still answers only its own user and root.
	for d := filepath.Dir(sock); d != "/" && d != "/tmp"; d = filepath.Dir(d) {
		must(t, os.Chmod(d, 0o755))
	}
	must(t, os.Chmod(sock, 0o666))
	out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"curl", "-sS", "--max-time", "10", "--unix-socket", sock, "http://arbor/v1/mounts").CombinedOutput()
	if err == nil || strings.Contains(string(out), "mountpoint") {
		t.Fatalf("another user was answered: %v, %s", err, out)
	}
	// The daemon's own user is.
	if out, err := exec.Command("curl", "-sS", "--max-time", "10", "--unix-socket", sock, "http://arbor/v1/mounts").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "mountpoint") {
		t.Fatalf("the daemon's user: %v, %s", err, out)
	}
}
