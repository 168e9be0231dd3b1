package mount

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"arbor/store"
	"arbor/tests/nginx"
	"arbor/tests/testutil"
)

// signedTree has a symlink, its target and a file larger than a header
// probe fetches.
func signedTree() map[string]string {
	return map[string]string{"target": "the real target\n", "big": noise(3, 1<<20), "small": "small\n"}
}

// publishSigned commits files and a symlink link -> target, signed by key
// (commit, summary and tree index), into a served archive repository.
func (e *env) publishSigned(t *testing.T, key testutil.GPGKey) published {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for p, c := range signedTree() {
		mustWrite(t, filepath.Join(tree, p), c)
	}
	must(t, os.Symlink("target", filepath.Join(tree, "link")))
	repo := filepath.Join(dir, "pub")
	e.initRepo(t, repo, "archive")
	sign := []string{"--gpg-sign=" + key.ID, "--gpg-homedir=" + key.Home}
	c := strings.TrimSpace(e.run(t, repo, append([]string{"commit", "-b", "main", "--tree=dir=" + tree}, sign...)...))
	e.run(t, repo, append([]string{"summary", "-u"}, sign...)...)
	srv, err := nginx.Start(filepath.Join(dir, "nginx"), repo)
	must(t, err)
	t.Cleanup(srv.Stop)
	return published{repo: repo, srv: srv, commit: c}
}

// verifyingClient makes a client whose origin verifies with key.
func (e *env) verifyingClient(t *testing.T, p published, key testutil.GPGKey) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "client")
	e.initRepo(t, repo, "bare-user")
	e.run(t, repo, "remote", "add", "--gpg-import="+key.Public, "origin", p.srv.URL)
	return repo
}

func (e *env) treeIndexState(t *testing.T, repo, mp string) string {
	t.Helper()
	for _, m := range e.mounts(t, repo) {
		if m.Mountpoint == mp {
			return m.TreeIndex
		}
	}
	t.Fatalf("%s is not among the mounts", mp)
	return ""
}

// forgeIndex rewrites the published index of p with edit applied to its
// file entries; withSig false removes its signature.
func forgeIndex(t *testing.T, p published, edit func(f *store.IndexedFile), withSig bool) {
	t.Helper()
	c := mustChecksum(t, p.commit)
	path := filepath.Join(p.repo, store.TreeIndexPath(c))
	b, err := os.ReadFile(path)
	must(t, err)
	ti, err := store.ParseTreeIndex(b)
	must(t, err)
	for i := range ti.Files {
		edit(&ti.Files[i])
	}
	b, err = ti.Encode()
	must(t, err)
	must(t, os.WriteFile(path, b, 0o644))
	if !withSig {
		must(t, os.Remove(filepath.Join(p.repo, store.TreeIndexSigPath(c))))
	}
}

func retargetLink(f *store.IndexedFile) {
	if f.Header.IsSymlink() {
		f.Header.Target = "/etc/shadow"
	}
}

func setuidBig(f *store.IndexedFile) {
	if !f.Header.IsSymlink() && f.Size > 8<<10 {
		f.Header.Mode = 0o104755
	}
}

// checkTruth checks that the mount shows the commit as it is.
func checkTruth(t *testing.T, mp string) {
	t.Helper()
	if target, err := os.Readlink(filepath.Join(mp, "link")); err != nil || target != "target" {
		t.Fatalf("link points to %q (%v), want target", target, err)
	}
	if fi, err := os.Stat(filepath.Join(mp, "big")); err != nil || fi.Mode() != 0o644 {
		t.Fatalf("big: %v, %v; want a plain 0644 file", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(mp, "link")); err != nil || string(b) != "the real target\n" {
		t.Fatalf("through link: %q, %v", b, err)
	}
}

// TestForgedTreeIndexIsRefused: a server or network that alters the tree
// index of a signed commit changes nothing a mount shows.
func TestForgedTreeIndexIsRefused(t *testing.T) {
	e := setup(t)
	key := testutil.NewGPGKey(t, "Arbor Index Test")
	for _, tc := range []struct {
		name      string
		edit      func(*store.IndexedFile)
		withSig   bool
		verifying bool
		want      string // in the mount's tree_index state
	}{
		{"genuine", func(*store.IndexedFile) {}, true, true, "signed"},
		{"retargeted, signature kept", retargetLink, true, true, "refused"},
		{"retargeted, unsigned", retargetLink, false, true, "refused"},
		{"setuid claimed, unsigned", setuidBig, false, true, "refused"},
		{"retargeted, remote not verifying", retargetLink, false, false, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.publishSigned(t, key)
			forgeIndex(t, p, tc.edit, tc.withSig)
			repo := e.client(t, p)
			if tc.verifying {
				repo = e.verifyingClient(t, p, key)
			}
			mp := e.mount(t, repo, "origin:main")
			e.waitPrefetch(t, repo, mp)
			checkTruth(t, mp)
			if st := e.treeIndexState(t, repo, mp); !strings.HasPrefix(st, tc.want) {
				t.Fatalf("tree index: %q, want %s", st, tc.want)
			}
		})
	}
}

// TestFsckFindsForgedKeptIndex: an index a mount kept, altered in the
// client's repository, is named by fsck.
func TestFsckFindsForgedKeptIndex(t *testing.T) {
	e := setup(t)
	key := testutil.NewGPGKey(t, "Arbor Fsck Test")
	p := e.publishSigned(t, key)
	repo := e.verifyingClient(t, p, key)
	mp := e.mount(t, repo, "origin:main")
	e.waitPrefetch(t, repo, mp)
	checkTruth(t, mp)
	if _, err := os.ReadFile(filepath.Join(mp, "big")); err != nil {
		t.Fatal(err)
	}
	e.run(t, repo, "umount", mp)
	stopDaemon(t, repo)
	e.run(t, repo, "fsck")

	kept := published{repo: repo, commit: p.commit}
	name := store.TreeIndexPath(mustChecksum(t, p.commit))
	for _, tc := range []struct {
		name    string
		withSig bool
		want    string
	}{
		{"signature kept", true, "signature"},
		{"unsigned", false, "mode 104755"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forgeIndex(t, kept, setuidBig, tc.withSig)
			_, errOut, err := testutil.RunErr(e.arbor, "--repo="+repo, "fsck")
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(errOut, name) || !strings.Contains(errOut, tc.want) {
				t.Fatalf("fsck of a forged kept index: %v\n%s\nwant exit 1 naming %s and %q", err, errOut, name, tc.want)
			}
		})
	}
}

// TestSetuidMountServesOnlyVerified: a mount that honours setuid bits (a
// lazy OS's /usr) shows no attribute the server merely claims, even from a
// remote that does not verify.
func TestSetuidMountServesOnlyVerified(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	mustWrite(t, filepath.Join(tree, "bin/su"), noise(4, 64<<10))
	must(t, os.Chmod(filepath.Join(tree, "bin/su"), os.ModeSetuid|0o755))
	mustWrite(t, filepath.Join(tree, "big"), noise(5, 1<<20))
	repo := filepath.Join(dir, "pub")
	e.initRepo(t, repo, "archive")
	c := strings.TrimSpace(e.run(t, repo, "commit", "-b", "main", "--tree=dir="+tree))
	e.run(t, repo, "summary", "-u")
	srv, err := nginx.Start(filepath.Join(dir, "nginx"), repo)
	must(t, err)
	t.Cleanup(srv.Stop)
	p := published{repo: repo, srv: srv, commit: c}

	// An unsigned index, honest but for big claimed setuid root.
	idx := filepath.Join(repo, store.TreeIndexPath(mustChecksum(t, c)))
	b, err := os.ReadFile(idx)
	must(t, err)
	ti, err := store.ParseTreeIndex(b)
	must(t, err)
	for i, f := range ti.Files {
		if f.Size == 1<<20 {
			ti.Files[i].Header.Mode = 0o104755
		}
	}
	b, err = ti.Encode()
	must(t, err)
	must(t, os.WriteFile(idx, b, 0o644))

	client := e.client(t, p)
	mp := e.mount(t, client, "origin:main", "--setuid", "--no-prefetch")
	if opts := testutil.MountOptions(t, mp); strings.Contains(","+opts+",", ",nosuid,") {
		t.Fatalf("a setuid mount is nosuid: %s", opts)
	}
	fi, err := os.Stat(filepath.Join(mp, "bin/su"))
	if err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("bin/su: %v, %v; want its setuid bit", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(mp, "big")); err == nil && fi.Mode()&os.ModeSetuid != 0 {
		t.Fatal("the setuid bit the index claimed is served")
	} else if err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatalf("big: %v", err)
	}
	// A mount that does not honour setuid bits stays nosuid.
	plain := e.mount(t, client, "origin:main", "--no-prefetch")
	if opts := testutil.MountOptions(t, plain); !strings.Contains(","+opts+",", ",nosuid,") {
		t.Fatalf("a plain mount is not nosuid: %s", opts)
	}
}

// TestDaemonSeesTrustChanges: a remote turned to verifying while its
// daemon runs is verified for the next mount.
func TestDaemonSeesTrustChanges(t *testing.T) {
	e := setup(t)
	key := testutil.NewGPGKey(t, "Arbor Trust Change Test")
	p := e.publishSigned(t, key)
	forgeIndex(t, p, func(*store.IndexedFile) {}, false) // the index unsigned
	repo := e.client(t, p)
	first := e.mount(t, repo, "origin:main")
	e.waitPrefetch(t, repo, first)
	if st := e.treeIndexState(t, repo, first); st != "unsigned" {
		t.Fatalf("a remote that does not verify: tree index %q, want unsigned", st)
	}
	e.run(t, repo, "remote", "delete", "origin")
	e.run(t, repo, "remote", "add", "--gpg-import="+key.Public, "origin", p.srv.URL)
	second := e.mount(t, repo, "origin:main") // the same daemon: first is still mounted
	e.waitPrefetch(t, repo, second)
	if st := e.treeIndexState(t, repo, second); !strings.HasPrefix(st, "refused") {
		t.Fatalf("after the remote was made to verify: tree index %q, want refused", st)
	}
	checkTruth(t, second)
}
