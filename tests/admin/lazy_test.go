package admin

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"arbor/mountd"
	"arbor/mountd/mountinfo"
	"arbor/tests/nginx"
	"arbor/tests/testutil"
)

// A thin client: the OS is deployed lazily from a remote served by nginx,
// runs (admin enter) having fetched a fraction of it, comes back after
// the daemon is killed and started again, upgrades lazily with the /etc
// merge, and an undeployed lazy deployment is unmounted.
func TestAdminLazy(t *testing.T) {
	f := newSysroot(t, false)
	// Signed, as an OS vendor's are: the lazy /usr honours setuid bits,
	// and serves only attributes a signature or checksum vouches for.
	key := testutil.NewGPGKey(t, "Arbor OS Vendor")
	sign := []string{"--gpg-sign=" + key.ID, "--gpg-homedir=" + key.Home}
	pub := filepath.Join(f.dir, "pub")
	testutil.Run(t, f.arbor, "--repo="+pub, "init", "--mode=archive")
	big := make([]byte, 4<<20) // nobody reads it
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	release := func(version string, etc map[string]string) {
		tree := osTree(t, f.dir, version, etc)
		testutil.Must(t, os.WriteFile(filepath.Join(tree, "usr/big"), big, 0o644))
		// python3 with the host's standard library, to run from the
		// deployment without fetching the rest of it.
		testutil.HostRuntime(t, filepath.Join(tree, "usr"), "/usr/bin/python3")
		testutil.Run(t, "cp", "-a", "/usr/lib/python3.11", filepath.Join(tree, "usr/lib/"))
		testutil.Run(t, f.arbor, append([]string{"--repo=" + pub, "commit", "-b", "testos/stable", "--tree=dir=" + tree, "--add-metadata-string=version=" + version}, sign...)...)
		testutil.Run(t, f.arbor, append([]string{"--repo=" + pub, "summary", "-u"}, sign...)...)
	}
	release("1.0", map[string]string{"a.conf": "a1\n", "b.conf": "b1\n"})
	srv, err := nginx.Start(filepath.Join(f.dir, "nginx"), pub)
	testutil.Must(t, err)
	t.Cleanup(srv.Stop)
	repo := f.repo()
	t.Cleanup(func() { mountd.Stop(repo, 10*time.Second) })
	testutil.Run(t, f.arbor, "--repo="+repo, "remote", "add", "--gpg-import="+key.Public, "origin", srv.URL)

	out := testutil.Run(t, f.arbor, "admin", "deploy", "--sysroot="+f.sr, "--os=testos", "--lazy", "--karg=root=LABEL=root", "origin:testos/stable")
	if !strings.Contains(out, "Deployed testos") {
		t.Fatalf("deploy --lazy: %s", out)
	}
	ds := deployments(f.status())
	if len(ds) != 1 {
		t.Fatalf("after deploy --lazy: %v", ds)
	}
	d1 := filepath.Join(f.sr, "ostree/deploy/testos/deploy", ds[0])
	if !mountinfo.IsArbor(filepath.Join(d1, "usr")) {
		t.Fatalf("%s/usr is not mounted through the daemon", d1)
	}
	if opts := testutil.MountOptions(t, filepath.Join(d1, "usr")); strings.Contains(","+opts+",", ",nosuid,") {
		t.Errorf("the lazy /usr is mounted nosuid (%s): its setuid programs would not work", opts)
	}
	enter := func(index, script string) string {
		t.Helper()
		return testutil.Run(t, f.arbor, "admin", "enter", "--sysroot="+f.sr, index, "--", "sh", "-c", script)
	}
	if got := enter("0", "read a < /etc/a.conf; echo $a; read v < /usr/lib/os-release; echo $v"); got != "a1\nID=testos\n" {
		t.Errorf("inside the lazy deployment: %q", got)
	}
	if got := testutil.Run(t, f.arbor, "admin", "enter", "--sysroot="+f.sr, "--", "python3", "-c", "import json; print(json.dumps({'ok': 1}))"); got != "{\"ok\": 1}\n" {
		t.Errorf("python3 in the lazy deployment printed %q", got)
	}
	// Only what ran was fetched: never the big file, nor most of the
	// standard library.
	sent, err := srv.BytesSent()
	testutil.Must(t, err)
	var published int64
	filepath.WalkDir(filepath.Join(pub, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				published += fi.Size()
			}
		}
		return nil
	})
	if sent*3 > published {
		t.Errorf("deploying and running the lazy deployment fetched %d bytes of the %d published", sent, published)
	}
	bigSum := strings.Fields(testutil.Run(t, f.arbor, "--repo="+pub, "ls", "-C", "testos/stable", "/usr/big"))[4]
	reqs, err := srv.Requests()
	testutil.Must(t, err)
	files := 0
	for _, r := range reqs {
		if strings.Contains(r.Path, bigSum[2:]) {
			t.Errorf("the unused file was fetched: %s", r.Path)
		}
		if strings.HasSuffix(r.Path, ".filez") {
			files++
		}
	}
	if files == 0 || files > 300 {
		t.Errorf("%d files fetched to run sh and python3 (the tree has over 1,400)", files)
	}
	t.Logf("%d requests, %d files, %d of %d bytes fetched", len(reqs), files, sent, published)
	if js := testutil.Run(t, f.arbor, "admin", "status", "--sysroot="+f.sr, "--json"); !strings.Contains(js, `"lazy": true`) {
		t.Errorf("status --json does not say lazy:\n%s", js)
	}

	// The daemon is killed; the one started next mounts /usr again first.
	pid := mountd.DaemonPID(repo)
	if pid == 0 {
		t.Fatal("no daemon serves the sysroot's repository")
	}
	testutil.Must(t, syscall.Kill(pid, syscall.SIGKILL))
	for i := 0; i < 200 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	daemon := exec.Command(filepath.Join(filepath.Dir(f.arbor), "arbord"), "--repo="+repo)
	testutil.Must(t, daemon.Start())
	t.Cleanup(func() { daemon.Process.Signal(syscall.SIGTERM); daemon.Wait() })
	for i := 0; !mountinfo.IsArbor(filepath.Join(d1, "usr")) || mountd.DaemonPID(repo) == 0; i++ {
		if i > 500 {
			t.Fatal("the restarted daemon did not mount the deployment's /usr again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := enter("0", "read a < /etc/a.conf; echo $a"); got != "a1\n" {
		t.Errorf("after the daemon's restart: %q", got)
	}

	testutil.WriteFile(t, filepath.Join(d1, "etc/a.conf"), "LOCAL\n", 0o644)
	release("2.0", map[string]string{"a.conf": "a2\n", "b.conf": "b2\n"})
	out = testutil.Run(t, f.arbor, "admin", "upgrade", "--sysroot="+f.sr)
	if !strings.Contains(out, "Copying /etc changes: 1 modified, 0 removed, 0 added") {
		t.Errorf("lazy upgrade: %s", out)
	}
	ds = deployments(f.status())
	if len(ds) != 2 {
		t.Fatalf("after the lazy upgrade: %v", ds)
	}
	if got := enter("0", "read a < /etc/a.conf; read b < /etc/b.conf; echo $a $b"); got != "LOCAL b2\n" {
		t.Errorf("the upgraded lazy deployment's /etc: %q", got)
	}
	testutil.Run(t, f.arbor, "admin", "undeploy", "--sysroot="+f.sr, "1")
	if mountinfo.IsArbor(filepath.Join(d1, "usr")) {
		t.Error("the undeployed lazy deployment is still mounted")
	}
	if _, err := os.Stat(d1); err == nil {
		t.Error("the undeployed lazy deployment's directory is left")
	}
	kept, _ := os.ReadFile(filepath.Join(repo, "extensions/arbor/persistent.json"))
	if strings.Contains(string(kept), ds[1]) || !strings.Contains(string(kept), ds[0]) {
		t.Errorf("the daemon's persistent mounts:\n%s", kept)
	}
}
