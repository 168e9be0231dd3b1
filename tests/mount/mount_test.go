// Package mount tests lazy FUSE mounts end to end: the real arbor and
// arbord binaries, a real kernel FUSE mount, and repositories served by
// nginx. These need root (or FUSE) and run for real in CI.
package mount

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"arbor/mountd"
	"arbor/mountd/mountinfo"
	"arbor/store"
	"arbor/store/object"
	"arbor/tests/fixture"
	"arbor/tests/nginx"
	"arbor/tests/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.Cleanup()
	os.Exit(code)
}

type env struct{ arbor string }

func setup(t *testing.T) *env {
	t.Helper()
	testutil.Privileged(t)
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("/dev/fuse: %v (mount tests need FUSE)", err)
	}
	return &env{arbor: testutil.BuildArbor(t)}
}

// initRepo makes a repository whose daemon, if one gets started, is
// stopped before the test's directories are removed.
func (e *env) initRepo(t *testing.T, repo, mode string) {
	t.Helper()
	e.run(t, repo, "init", "--mode="+mode)
	t.Cleanup(func() { stopDaemon(t, repo) })
}

// stopDaemon ends the daemon of repo, if any, and waits for it.
func stopDaemon(t *testing.T, repo string) {
	if err := mountd.Stop(repo, 10*time.Second); err != nil {
		t.Error(err)
		if pid := mountd.DaemonPID(repo); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (e *env) run(t *testing.T, repo string, args ...string) string {
	t.Helper()
	return testutil.Run(t, e.arbor, append([]string{"--repo=" + repo}, args...)...)
}

// mount mounts src at a new directory and unmounts it when t ends.
func (e *env) mount(t *testing.T, repo, src string, flags ...string) string {
	t.Helper()
	mp := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"mount"}, flags...)
	if src != "" {
		args = append(args, src)
	}
	e.run(t, repo, append(args, mp)...)
	t.Cleanup(func() {
		testutil.RunErr(e.arbor, "--repo="+repo, "umount", mp)
	})
	return mp
}

type mountInfo struct {
	Mountpoint string `json:"mountpoint"`
	Commit     string `json:"commit"`
	Fetch      *struct {
		Pending int64 `json:"objects_pending"`
	} `json:"fetch"`
	Prefetch *struct {
		Done  bool   `json:"done"`
		Error string `json:"error"`
	} `json:"prefetch"`
	TreeIndex string `json:"tree_index"`
}

func (e *env) mounts(t *testing.T, repo string) []mountInfo {
	t.Helper()
	var out []mountInfo
	if err := json.Unmarshal([]byte(e.run(t, repo, "mounts", "--json")), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitPrefetch waits for the background walk of the mount at mp to end.
func (e *env) waitPrefetch(t *testing.T, repo, mp string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, m := range e.mounts(t, repo) {
			if m.Mountpoint == mp && m.Prefetch != nil && m.Prefetch.Done {
				if m.Prefetch.Error != "" {
					t.Fatalf("prefetch of %s: %s", mp, m.Prefetch.Error)
				}
				return
			}
		}
	}
	t.Fatalf("the background prefetch of %s did not finish", mp)
}

func TestLocalMountMatchesCheckout(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := fixture.Build(tree, fixture.Options{Xattrs: true, BigSize: 3 << 20}); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "repo")
	e.initRepo(t, repo, "bare-user")
	e.run(t, repo, "commit", "-b", "main", "--tree=dir="+tree)
	co := filepath.Join(dir, "co")
	e.run(t, repo, "checkout", "main", co)
	mp := e.mount(t, repo, "main")

	want, err := testutil.Manifest(co)
	if err != nil {
		t.Fatal(err)
	}
	got, err := testutil.Manifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("mount and checkout differ:\n%s", testutil.Diff(want, got))
	}
	// diff -r compares contents and symlinks with another implementation.
	if out, err := exec.Command("diff", "-r", "--no-dereference", co, mp).CombinedOutput(); err != nil {
		t.Fatalf("diff -r: %v\n%s", err, out)
	}

	// Hardlinks share an inode, as in a hardlink checkout; directories
	// count their subdirectories; every file has mtime 0.
	var a, b, d1, d2 unix.Stat_t
	must(t, unix.Lstat(filepath.Join(mp, fixture.PathHardA), &a))
	must(t, unix.Lstat(filepath.Join(mp, fixture.PathHardB), &b))
	if a.Ino != b.Ino {
		t.Errorf("%s and %s: inodes %d and %d, want one", fixture.PathHardA, fixture.PathHardB, a.Ino, b.Ino)
	}
	if a.Mtim.Sec != 0 {
		t.Errorf("%s: mtime %d, want 0", fixture.PathHardA, a.Mtim.Sec)
	}
	must(t, unix.Lstat(filepath.Join(mp, "hard"), &d1))
	must(t, unix.Lstat(filepath.Join(co, "hard"), &d2))
	if d1.Nlink != d2.Nlink {
		t.Errorf("hard/: %d links in the mount, %d in the checkout", d1.Nlink, d2.Nlink)
	}
	// A second lookup after the kernel forgot everything gives the same
	// inode numbers.
	must(t, os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0))
	var a2 unix.Stat_t
	must(t, unix.Lstat(filepath.Join(mp, fixture.PathHardA), &a2))
	if a2.Ino != a.Ino {
		t.Errorf("inode of %s changed from %d to %d", fixture.PathHardA, a.Ino, a2.Ino)
	}
	var sfs unix.Statfs_t
	must(t, unix.Statfs(mp, &sfs))
	if sfs.Namelen != 255 {
		t.Errorf("statfs: name length %d", sfs.Namelen)
	}
}

func TestMountIsReadOnly(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	mustWrite(t, filepath.Join(tree, "file"), "content\n")
	must(t, os.Mkdir(filepath.Join(tree, "sub"), 0o755))
	repo := filepath.Join(dir, "repo")
	e.initRepo(t, repo, "bare-user")
	e.run(t, repo, "commit", "-b", "main", "--tree=dir="+tree)
	mp := e.mount(t, repo, "main")
	f := filepath.Join(mp, "file")
	ops := []struct {
		name string
		op   func() error
	}{
		{"open for writing", func() error {
			fd, err := unix.Open(f, unix.O_WRONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
		{"create", func() error { return os.WriteFile(filepath.Join(mp, "new"), nil, 0o644) }},
		{"truncate", func() error { return unix.Truncate(f, 0) }},
		{"rename", func() error { return unix.Rename(f, filepath.Join(mp, "moved")) }},
		{"unlink", func() error { return unix.Unlink(f) }},
		{"mkdir", func() error { return unix.Mkdir(filepath.Join(mp, "d"), 0o755) }},
		{"rmdir", func() error { return unix.Rmdir(filepath.Join(mp, "sub")) }},
		{"chmod", func() error { return unix.Chmod(f, 0o777) }},
		{"chown", func() error { return unix.Chown(f, 1, 1) }},
		{"utimes", func() error { return unix.UtimesNano(f, []unix.Timespec{{Sec: 1}, {Sec: 1}}) }},
		{"mknod", func() error { return unix.Mknod(filepath.Join(mp, "fifo"), unix.S_IFIFO|0o644, 0) }},
		{"symlink", func() error { return unix.Symlink("file", filepath.Join(mp, "link")) }},
		{"link", func() error { return unix.Link(f, filepath.Join(mp, "hard")) }},
		{"setxattr", func() error { return unix.Setxattr(f, "user.x", []byte("1"), 0) }},
		{"removexattr", func() error { return unix.Removexattr(f, "user.x") }},
	}
	for _, o := range ops {
		if err := o.op(); !errors.Is(err, unix.EROFS) {
			t.Errorf("%s: got %v, want EROFS", o.name, err)
		}
	}
	if b, err := os.ReadFile(f); err != nil || string(b) != "content\n" {
		t.Fatalf("read after the refused writes: %q, %v", b, err)
	}
}

// published is an archive repository served by nginx.
type published struct {
	repo   string
	srv    *nginx.Server
	commit string
}

// publish commits files (path -> content) into a new archive repository
// and serves it.
func (e *env) publish(t *testing.T, files map[string]string) published {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for p, c := range files {
		mustWrite(t, filepath.Join(tree, p), c)
	}
	repo := filepath.Join(dir, "pub")
	e.initRepo(t, repo, "archive")
	c := strings.TrimSpace(e.run(t, repo, "commit", "-b", "main", "--tree=dir="+tree))
	e.run(t, repo, "summary", "-u")
	srv, err := nginx.Start(filepath.Join(dir, "nginx"), repo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return published{repo: repo, srv: srv, commit: c}
}

// client makes an empty bare-user repo with the publisher as "origin".
func (e *env) client(t *testing.T, p published) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "client")
	e.initRepo(t, repo, "bare-user")
	e.run(t, repo, "remote", "add", "--no-gpg-verify", "origin", p.srv.URL)
	return repo
}

// remoteMount publishes lazyTree, makes a client of it and mounts
// origin:main there with flags.
func (e *env) remoteMount(t *testing.T, flags ...string) (published, string, string) {
	t.Helper()
	p := e.publish(t, lazyTree())
	repo := e.client(t, p)
	return p, repo, e.mount(t, repo, "origin:main", flags...)
}

// lazyTree has a deep file, a big file and enough other files and
// directories that fetching everything would show.
func lazyTree() map[string]string {
	files := map[string]string{
		"a/b/c/d/deep.txt": "deep content\n",
		"big/blob":         noise(1, 4<<20), // more than the prefix a stat fetches
		"big/other":        noise(2, 2<<20),
	}
	for i := 0; i < 40; i++ {
		files[fmt.Sprintf("dir%02d/file%02d", i%8, i)] = fmt.Sprintf("file %d\n", i)
	}
	return files
}

// objectOf returns the published path of a file's content object.
func (e *env) objectOf(t *testing.T, repo, path string) string {
	t.Helper()
	out := e.run(t, repo, "ls", "-C", "main", path)
	f := strings.Fields(out)
	if len(f) < 5 {
		t.Fatalf("ls -C %s: %q", path, out)
	}
	c := f[4]
	return "/objects/" + c[:2] + "/" + c[2:] + ".filez"
}

func TestRemoteMountFetchesOnlyWhatIsRead(t *testing.T) {
	e := setup(t)
	p := e.publish(t, lazyTree())
	repo := e.client(t, p)
	must(t, p.srv.ResetLog())
	mp := e.mount(t, repo, "origin:main", "--no-prefetch")
	b, err := os.ReadFile(filepath.Join(mp, "a/b/c/d/deep.txt"))
	if err != nil || string(b) != "deep content\n" {
		t.Fatalf("read: %q, %v", b, err)
	}
	reqs, err := p.srv.Requests()
	must(t, err)
	// Allowed: the repo's config and summary, the commit (and its
	// detached metadata, absent here), the root and the dirs on the path
	// (dirtree + dirmeta each), and the file.
	allowed := map[string]bool{"/config": true, "/summary": true, "/summary.sig": true,
		"/objects/" + p.commit[:2] + "/" + p.commit[2:] + ".commit":     true,
		"/objects/" + p.commit[:2] + "/" + p.commit[2:] + ".commitmeta": true,
		e.objectOf(t, p.repo, "/a/b/c/d/deep.txt"):                      true}
	dirtrees, dirmetas := 0, 0
	for _, r := range reqs {
		switch {
		case allowed[r.Path]:
		case strings.HasSuffix(r.Path, ".dirtree"):
			dirtrees++
		case strings.HasSuffix(r.Path, ".dirmeta"):
			dirmetas++
		default:
			t.Errorf("fetched %s, which reading one file does not need", r.Path)
		}
	}
	// /, a, b, c, d: five directories (directories with equal metadata
	// share one dirmeta).
	if dirtrees > 5 {
		t.Errorf("%d dirtrees fetched for a path 5 directories deep", dirtrees)
	}
	if dirmetas > 5 {
		t.Errorf("%d dirmetas fetched for a path 5 directories deep", dirmetas)
	}
	if t.Failed() {
		t.Logf("requests: %+v", reqs)
	}

	// A second mount walks the tree in the background; afterwards listing
	// and stat of everything need no request.
	mp2 := e.mount(t, repo, "origin:main")
	e.waitPrefetch(t, repo, mp2)
	resetWhenQuiet(t, p.srv)
	out, err := exec.Command("find", mp2, "-printf", "%M %s %p\n").CombinedOutput()
	if err != nil {
		t.Fatalf("find: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "\n"); n < 50 {
		t.Fatalf("find listed %d entries", n)
	}
	reqs, err = p.srv.Requests()
	must(t, err)
	if len(reqs) != 0 {
		t.Fatalf("find after the prefetch made %d requests: %+v", len(reqs), reqs)
	}
}

func TestConcurrentReadersOneGET(t *testing.T) {
	e := setup(t)
	p, _, mp := e.remoteMount(t, "--no-prefetch")
	f := filepath.Join(mp, "big/blob")
	if _, err := os.Stat(f); err != nil { // the lookup reads the header only
		t.Fatal(err)
	}
	// nginx logs a response after sending it: wait for that line before
	// emptying the log, or it lands after.
	obj := e.objectOf(t, p.repo, "/big/blob")
	for i := 0; i < 100; i++ {
		reqs, err := p.srv.Requests()
		must(t, err)
		if slices.ContainsFunc(reqs, func(r nginx.Request) bool { return r.Path == obj }) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	must(t, p.srv.ResetLog())
	want := noise(1, 4<<20)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := os.ReadFile(f)
			if err == nil && string(b) != want {
				err = fmt.Errorf("read %d bytes, not the published content", len(b))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	reqs, err := p.srv.Requests()
	must(t, err)
	n := 0
	for _, r := range reqs {
		if r.Path == obj {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("16 concurrent readers caused %d requests for the object, want 1: %+v", n, reqs)
	}
}

func TestOfflineReadsCachedFailsUncached(t *testing.T) {
	e := setup(t)
	p, _, mp := e.remoteMount(t, "--no-prefetch", "--fetch-timeout=2s")
	if _, err := os.ReadFile(filepath.Join(mp, "big/blob")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mp, "big/other")); err != nil { // header known, content not
		t.Fatal(err)
	}
	p.srv.Stop()
	must(t, os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0))
	if _, err := os.ReadFile(filepath.Join(mp, "big/blob")); err != nil {
		t.Fatalf("cached file with the server gone: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := os.ReadFile(filepath.Join(mp, "big/other"))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("uncached file with the server gone: %v, want EIO", err)
		}
	case <-time.After(time.Minute): // a hang guard, not a timing check
		t.Fatal("reading an uncached file with the server gone hangs")
	}
}

func TestCorruptObjectIsRefused(t *testing.T) {
	e := setup(t)
	p := e.publish(t, lazyTree())
	obj := e.objectOf(t, p.repo, "/dir01/file01")
	// Same size, other content: a valid archive object of another file.
	other := e.objectOf(t, p.repo, "/dir02/file02")
	b, err := os.ReadFile(filepath.Join(p.repo, other))
	must(t, err)
	must(t, os.Chmod(filepath.Join(p.repo, obj), 0o644))
	must(t, os.WriteFile(filepath.Join(p.repo, obj), b, 0o644))
	repo := e.client(t, p)
	mp := e.mount(t, repo, "origin:main", "--no-prefetch")
	_, err = os.ReadFile(filepath.Join(mp, "dir01/file01"))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("reading a file whose object was tampered with: %v, want EIO", err)
	}
	if b, err := os.ReadFile(filepath.Join(mp, "dir02/file02")); err != nil || string(b) != "file 2\n" {
		t.Fatalf("an intact file: %q, %v", b, err)
	}
	e.run(t, repo, "umount", mp)
	// Nothing unverified reached the store: fsck of what is there passes.
	if out, errOut, err := testutil.RunErr(e.arbor, "--repo="+repo, "fsck"); err != nil {
		t.Fatalf("fsck after the refused object: %v\n%s%s", err, out, errOut)
	}
}

// daemonPid finds the daemon serving repo.
func daemonPid(t *testing.T, repo string) int {
	t.Helper()
	pid := mountd.DaemonPID(repo)
	if pid == 0 {
		t.Fatalf("no arbord for %s", repo)
	}
	return pid
}

func TestStoppedOrKilledDaemonLeavesNoStaleMount(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	mustWrite(t, filepath.Join(tree, "file"), "content\n")
	repo := filepath.Join(dir, "repo")
	e.initRepo(t, repo, "bare-user")
	e.run(t, repo, "commit", "-b", "main", "--tree=dir="+tree)

	// SIGTERM: the daemon unmounts everything on its way out.
	mp := e.mount(t, repo, "main")
	stopDaemon(t, repo)
	if mountinfo.IsArbor(mp) {
		t.Fatalf("%s is still mounted after the daemon got SIGTERM", mp)
	}
	for _, cleaner := range []string{"umount", "next daemon"} {
		t.Run(cleaner, func(t *testing.T) {
			mp := e.mount(t, repo, "main")
			must(t, syscall.Kill(daemonPid(t, repo), syscall.SIGKILL))
			for i := 0; i < 100; i++ {
				if _, err := os.Stat(filepath.Join(mp, "file")); errors.Is(err, syscall.ENOTCONN) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if cleaner == "umount" {
				e.run(t, repo, "umount", mp)
			} else {
				other := e.mount(t, repo, "main") // starts a new daemon
				e.run(t, repo, "umount", other)
			}
			if mountinfo.IsArbor(mp) {
				t.Fatalf("%s is still mounted after the %s", mp, cleaner)
			}
		})
	}
}

func TestMountsListAndUnmount(t *testing.T) {
	e := setup(t)
	p, repo, mp := e.remoteMount(t, "--no-prefetch")
	if _, err := os.ReadFile(filepath.Join(mp, "big/blob")); err != nil {
		t.Fatal(err)
	}
	ms := e.mounts(t, repo)
	if len(ms) != 1 || ms[0].Mountpoint != mp || ms[0].Commit != p.commit || ms[0].Fetch == nil {
		t.Fatalf("mounts: %+v", ms)
	}
	e.run(t, repo, "umount", mp)
	if mountinfo.IsArbor(mp) {
		t.Fatal("still mounted after umount")
	}
	// The daemon started on demand leaves once nothing is mounted.
	for i := 0; ; i++ {
		if mountd.DaemonPID(repo) == 0 {
			break
		}
		if i > 200 {
			t.Fatal("the daemon is still running with no mounts")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, errOut, err := testutil.RunErr(e.arbor, "--repo="+repo, "umount", mp)
	if err == nil || !strings.Contains(errOut, "not an arbor mount") {
		t.Fatalf("umount of a plain directory: %v, %s", err, errOut)
	}
}

func TestProfilePrefetchesWhatWasRead(t *testing.T) {
	e := setup(t)
	p, repo, mp := e.remoteMount(t, "--no-prefetch")
	if _, err := os.ReadFile(filepath.Join(mp, "big/blob")); err != nil {
		t.Fatal(err)
	}
	e.run(t, repo, "umount", mp) // saves the profile
	// A fresh client repo with the same profile: copy it over.
	repo2 := e.client(t, p)
	must(t, os.MkdirAll(filepath.Join(repo2, "extensions/arbor"), 0o755))
	out, err := exec.Command("cp", "-a", filepath.Join(repo, "extensions/arbor/profiles"), filepath.Join(repo2, "extensions/arbor/")).CombinedOutput()
	if err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	must(t, p.srv.ResetLog())
	mp2 := e.mount(t, repo2, "origin:main")
	e.waitPrefetch(t, repo2, mp2)
	reqs, err := p.srv.Requests()
	must(t, err)
	blob, other := e.objectOf(t, p.repo, "/big/blob"), e.objectOf(t, p.repo, "/big/other")
	full := func(path string) bool {
		return slices.ContainsFunc(reqs, func(r nginx.Request) bool { return r.Path == path && r.Status == 200 })
	}
	if !full(blob) {
		t.Errorf("the file read by the last mount was not prefetched whole: %+v", reqs)
	}
	if full(other) {
		t.Errorf("a big file nobody read was fetched whole")
	}
}

// resetWhenQuiet empties nginx's log once it has stopped growing: nginx
// logs a response after sending it, so a line can come after the client
// has its answer.
func resetWhenQuiet(t *testing.T, srv *nginx.Server) {
	t.Helper()
	last := -1
	for i := 0; i < 100; i++ {
		reqs, err := srv.Requests()
		must(t, err)
		if len(reqs) == last {
			break
		}
		last = len(reqs)
		time.Sleep(50 * time.Millisecond)
	}
	must(t, srv.ResetLog())
}

// noise is incompressible content, the same for the same seed.
func noise(seed uint64, n int) string {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestPartialCommitSurvivesPruneAndFsck(t *testing.T) {
	e := setup(t)
	testutil.NeedTool(t, "ostree")
	// Without the prefetch, the dirtrees read are objects; with it, they
	// come from the commit's tree index and are not.
	for _, flags := range [][]string{{"--no-prefetch"}, nil} {
		t.Run(fmt.Sprint(flags), func(t *testing.T) {
			p, repo, mp := e.remoteMount(t, flags...)
			if len(flags) == 0 {
				e.waitPrefetch(t, repo, mp)
			}
			if b, err := os.ReadFile(filepath.Join(mp, "a/b/c/d/deep.txt")); err != nil || string(b) != "deep content\n" {
				t.Fatalf("read: %q, %v", b, err)
			}
			e.run(t, repo, "umount", mp)
			stopDaemon(t, repo) // publishes what it staged
			if out := e.run(t, repo, "prune", "--refs-only"); !strings.Contains(out, "No unreachable objects") {
				t.Fatalf("prune of a partly fetched commit deleted what it holds:\n%s", out)
			}
			e.run(t, repo, "fsck")
			testutil.Run(t, "ostree", "--repo="+repo, "fsck")
			// What was fetched is still there: it reads with the server gone.
			p.srv.Stop()
			mp2 := e.mount(t, repo, "origin:main", "--no-prefetch", "--fetch-timeout=2s")
			if b, err := os.ReadFile(filepath.Join(mp2, "a/b/c/d/deep.txt")); err != nil || string(b) != "deep content\n" {
				t.Fatalf("read offline after prune: %q, %v", b, err)
			}
		})
	}
}

func TestBrowseRoot(t *testing.T) {
	e := setup(t)
	p := e.publish(t, lazyTree())
	repo := e.client(t, p)
	mp := e.mount(t, repo, "", "--browse")
	// e.mount passes "" as the source; --browse takes only the directory.
	ents, err := os.ReadDir(mp)
	must(t, err)
	var names []string
	for _, d := range ents {
		names = append(names, d.Name())
	}
	if !slices.Equal(names, []string{"commits", "origin"}) {
		t.Fatalf("browse root lists %v", names)
	}
	b, err := os.ReadFile(filepath.Join(mp, "origin/main/a/b/c/d/deep.txt"))
	if err != nil || string(b) != "deep content\n" {
		t.Fatalf("through the ref: %q, %v", b, err)
	}
	// A commit by checksum that was never pulled.
	repo2 := e.client(t, p)
	mp2 := e.mount(t, repo2, "", "--browse")
	b, err = os.ReadFile(filepath.Join(mp2, "commits", p.commit, "dir03/file03"))
	if err != nil || string(b) != "file 3\n" {
		t.Fatalf("through the checksum: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(mp2, "commits", strings.Repeat("0", 64))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an unknown commit: %v", err)
	}
	if _, err := os.Stat(filepath.Join(mp2, "origin", "no-such-ref")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an unknown ref: %v", err)
	}
}

func TestPassthroughReadsLargeFilesFromTheStore(t *testing.T) {
	e := setup(t)
	_, repo, mp := e.remoteMount(t, "--passthrough", "--no-prefetch")
	want := noise(1, 4<<20)
	for i := 0; i < 2; i++ {
		b, err := os.ReadFile(filepath.Join(mp, "big/blob"))
		if err != nil || string(b) != want {
			t.Fatalf("read %d through passthrough: %d bytes, %v", i, len(b), err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(mp, "dir01/file01")); err != nil || string(b) != "file 1\n" {
		t.Fatalf("small file: %q, %v", b, err)
	}
	var u unix.Utsname
	must(t, unix.Uname(&u))
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	if major < 6 || major == 6 && minor < 9 {
		return // no passthrough in this kernel: the daemon served the reads
	}
	var out []struct {
		BytesRead int64 `json:"bytes_read"`
	}
	must(t, json.Unmarshal([]byte(e.run(t, repo, "mounts", "--json")), &out))
	if len(out) != 1 || out[0].BytesRead >= 4<<20 {
		t.Fatalf("the daemon served %+v bytes: the big file did not go through passthrough", out)
	}
}

func TestTreeIndexLiesAreCaught(t *testing.T) {
	e := setup(t)
	p := e.publish(t, lazyTree())
	idxPath := filepath.Join(p.repo, store.TreeIndexPath(mustChecksum(t, p.commit)))
	b, err := os.ReadFile(idxPath)
	must(t, err)
	ti, err := store.ParseTreeIndex(b)
	must(t, err)
	// The index claims dir01/file01 is executable and 3 bytes long.
	target := strings.TrimPrefix(e.objectOf(t, p.repo, "/dir01/file01"), "/objects/")
	for i, f := range ti.Files {
		if strings.ReplaceAll(target, "/", "") == f.Checksum.String()+".filez" {
			ti.Files[i].Size = 3
			ti.Files[i].Header.Mode = 0o100755
		}
	}
	lie, err := ti.Encode()
	must(t, err)
	must(t, os.WriteFile(idxPath, lie, 0o644))

	repo := e.client(t, p)
	mp := e.mount(t, repo, "origin:main")
	e.waitPrefetch(t, repo, mp)
	if _, err := os.ReadFile(filepath.Join(mp, "dir01/file01")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("reading a file the index lied about: %v, want EIO", err)
	}
	if b, err := os.ReadFile(filepath.Join(mp, "dir02/file02")); err != nil || string(b) != "file 2\n" {
		t.Fatalf("a file the index tells the truth about: %q, %v", b, err)
	}

	// A dirtree altered in the index no longer has the checksum its parent
	// names, so it is never used: the real one is fetched instead.
	raw := bytes.Replace(mustDecodeZstd(t, b), []byte("file03"), []byte("file0X"), 1)
	must(t, os.WriteFile(idxPath, mustEncodeZstd(t, raw), 0o644))
	repo2 := e.client(t, p)
	mp2 := e.mount(t, repo2, "origin:main")
	e.waitPrefetch(t, repo2, mp2)
	if b, err := os.ReadFile(filepath.Join(mp2, "dir03/file03")); err != nil || string(b) != "file 3\n" {
		t.Fatalf("with an altered index: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(mp2, "dir03/file0X")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a name only the altered index has: %v", err)
	}
}

func mustChecksum(t *testing.T, s string) object.Checksum {
	t.Helper()
	c, err := object.ParseChecksum(s)
	must(t, err)
	return c
}

func mustDecodeZstd(t *testing.T, b []byte) []byte {
	t.Helper()
	d, err := zstd.NewReader(nil)
	must(t, err)
	defer d.Close()
	out, err := d.DecodeAll(b, nil)
	must(t, err)
	return out
}

func mustEncodeZstd(t *testing.T, b []byte) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil)
	must(t, err)
	defer e.Close()
	return e.EncodeAll(b, nil)
}

func TestForegroundMount(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	mustWrite(t, filepath.Join(tree, "file"), "content\n")
	repo := filepath.Join(dir, "repo")
	e.initRepo(t, repo, "bare-user")
	e.run(t, repo, "commit", "-b", "main", "--tree=dir="+tree)
	mp := filepath.Join(dir, "mnt")
	must(t, os.Mkdir(mp, 0o755))
	for _, stop := range []string{"umount", "SIGTERM"} {
		t.Run(stop, func(t *testing.T) {
			cmd := exec.Command(e.arbor, "--repo="+repo, "mount", "--foreground", "main", mp)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			must(t, cmd.Start())
			for i := 0; !mountinfo.IsArbor(mp); i++ {
				if i > 200 {
					cmd.Process.Kill()
					t.Fatalf("no mount after 10s: %s", out.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			if b, err := os.ReadFile(filepath.Join(mp, "file")); err != nil || string(b) != "content\n" {
				t.Fatalf("read: %q, %v", b, err)
			}
			if stop == "umount" {
				must(t, unix.Unmount(mp, 0))
			} else {
				must(t, cmd.Process.Signal(syscall.SIGTERM))
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("arbor mount --foreground: %v\n%s", err, out.String())
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatal("arbor mount --foreground did not end")
			}
			if mountinfo.IsArbor(mp) {
				t.Fatal("still mounted")
			}
		})
	}
}

func TestMountRefusesUnsignedCommitOnVerifyingRemote(t *testing.T) {
	e := setup(t)
	testutil.NeedTool(t, "gpg")
	p := e.publish(t, lazyTree())
	key := testutil.NewGPGKey(t, "Arbor Mount Test")
	repo := filepath.Join(t.TempDir(), "client")
	e.initRepo(t, repo, "bare-user")
	e.run(t, repo, "remote", "add", "--gpg-import="+key.Public, "origin", p.srv.URL)
	mp := filepath.Join(t.TempDir(), "mnt")
	must(t, os.Mkdir(mp, 0o755))
	_, errOut, err := testutil.RunErr(e.arbor, "--repo="+repo, "mount", "origin:main", mp)
	if err == nil {
		testutil.RunErr(e.arbor, "--repo="+repo, "umount", mp)
		t.Fatal("mounted an unsigned commit from a remote with a keyring")
	}
	if !strings.Contains(errOut, "signature") {
		t.Fatalf("the refusal does not say why: %s", errOut)
	}
	if mountinfo.IsArbor(mp) {
		t.Fatal("mounted anyway")
	}
}

// A listing of a lazily mounted directory waits on its dirtree alone:
// files whose headers are not here go out without attributes and of
// unknown type, and only a stat fetches one.
func TestListingFetchesNoHeaders(t *testing.T) {
	e := setup(t)
	p, _, mp := e.remoteMount(t, "--no-prefetch")
	resetWhenQuiet(t, p.srv)
	d, err := os.Open(filepath.Join(mp, "dir03"))
	must(t, err)
	names, err := d.Readdirnames(-1)
	d.Close()
	must(t, err)
	slices.Sort(names)
	if want := []string{"file03", "file11", "file19", "file27", "file35"}; !slices.Equal(names, want) {
		t.Fatalf("listed %v, want %v", names, want)
	}
	resetWhenQuiet(t, p.srv)
	reqs, err := p.srv.Requests()
	must(t, err)
	for _, r := range reqs {
		if strings.HasSuffix(r.Path, ".filez") {
			t.Errorf("listing fetched %s", r.Path)
		}
	}
	fi, err := os.Lstat(filepath.Join(mp, "dir03/file11"))
	must(t, err)
	if !fi.Mode().IsRegular() || fi.Size() != int64(len("file 11\n")) {
		t.Fatalf("stat after the listing: %v, %d bytes", fi.Mode(), fi.Size())
	}
	// nginx logs a request once it has answered it, maybe after the
	// stat has returned.
	waitRequest(t, p.srv, e.objectOf(t, p.repo, "/dir03/file11"))
	out, err := exec.Command("ls", "-l", filepath.Join(mp, "dir03")).CombinedOutput()
	if err != nil || strings.Count(string(out), "\n-rw-r--r-- ") != 5 {
		t.Fatalf("ls -l: %v\n%s", err, out)
	}
}

// A module's bytecode read on a mount brings its source along: Python
// reads it next, as bytecode on a commit is always stale.
func TestBytecodeReadFetchesItsSource(t *testing.T) {
	e := setup(t)
	files := map[string]string{
		"lib/mod.py":                             "x = 1\n",
		"lib/__pycache__/mod.cpython-311.pyc":    "bytecode\n",
		"lib/other.py":                           "y = 2\n",
		"lib/__pycache__/other.cpython-311.pyc":  "more bytecode\n",
		"lib2/two.py":                            "z = 3\n",
		"lib2/__pycache__/two.cpython-311.pyc":   "bytecode two\n",
		"lib3/three.py":                          "w = 4\n",
		"lib3/__pycache__/three.cpython-311.pyc": "bytecode three\n",
	}
	p := e.publish(t, files)
	repo := e.client(t, p)
	mp := e.mount(t, repo, "origin:main", "--no-prefetch")
	resetWhenQuiet(t, p.srv)
	if b, err := os.ReadFile(filepath.Join(mp, "lib/__pycache__/mod.cpython-311.pyc")); err != nil || string(b) != "bytecode\n" {
		t.Fatalf("read: %q, %v", b, err)
	}
	src, other := e.objectOf(t, p.repo, "/lib/mod.py"), e.objectOf(t, p.repo, "/lib/other.py")
	waitRequest(t, p.srv, src)
	reqs, err := p.srv.Requests()
	must(t, err)
	if slices.ContainsFunc(reqs, func(r nginx.Request) bool { return r.Path == other }) {
		t.Errorf("fetched another module's source %s", other)
	}
	if b, err := os.ReadFile(filepath.Join(mp, "lib/mod.py")); err != nil || string(b) != "x = 1\n" {
		t.Fatalf("read of the source: %q, %v", b, err)
	}
	// A listing is no sign of an import (READDIRPLUS describes entries
	// with no program asking); a stat of a module's source, which python
	// makes first, is, and brings its bytecode along.
	resetWhenQuiet(t, p.srv)
	// Names only, as python's os.listdir reads them (no stat).
	if out, err := exec.Command("ls", "-f", filepath.Join(mp, "lib3")).CombinedOutput(); err != nil || !strings.Contains(string(out), "three.py") {
		t.Fatalf("ls -f: %v\n%s", err, out)
	}
	time.Sleep(time.Second) // a prefetch, if one started, has long been asked for
	reqs, err = p.srv.Requests()
	must(t, err)
	if len(reqs) == 0 {
		t.Fatal("the listing fetched nothing, not even its directory")
	}
	if pyc := e.objectOf(t, p.repo, "/lib3/__pycache__/three.cpython-311.pyc"); slices.ContainsFunc(reqs, func(r nginx.Request) bool { return r.Path == pyc }) {
		t.Errorf("a listing fetched the bytecode %s", pyc)
	}
	if _, err := os.Stat(filepath.Join(mp, "lib2/two.py")); err != nil {
		t.Fatal(err)
	}
	waitRequest(t, p.srv, e.objectOf(t, p.repo, "/lib2/__pycache__/two.cpython-311.pyc"))
}

// waitRequest waits until the server has been asked for path.
func waitRequest(t *testing.T, srv *nginx.Server, path string) {
	t.Helper()
	var paths []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		reqs, err := srv.Requests()
		must(t, err)
		paths = paths[:0]
		for _, r := range reqs {
			paths = append(paths, r.Path)
		}
		if slices.Contains(paths, path) {
			return
		}
	}
	t.Fatalf("%s was not fetched: %v", path, paths)
}
