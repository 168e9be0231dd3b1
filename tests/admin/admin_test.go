// Package admin tests OS deployments end to end, with the real ostree
// reading what arbor writes and writing what arbor reads.
package admin

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"arbor/deploy/history"
	"arbor/tests/testutil"
)

// osTree makes a test OS release: a kernel and initramfs, /usr/etc
// defaults, the host's sh and true, and an os-release.
func osTree(t *testing.T, dir, version string, etc map[string]string) string {
	t.Helper()
	root := filepath.Join(dir, "tree-"+version)
	testutil.WriteFile(t, filepath.Join(root, "usr/lib/modules/6.1.0-test/vmlinuz"), "KERNEL-IMAGE-v1\n", 0o644)
	testutil.WriteFile(t, filepath.Join(root, "usr/lib/modules/6.1.0-test/initramfs.img"), "INITRAMFS-v1\n", 0o644)
	testutil.WriteFile(t, filepath.Join(root, "usr/lib/os-release"), "ID=testos\nPRETTY_NAME=\"Test OS\"\n", 0o644)
	for name, content := range etc {
		testutil.WriteFile(t, filepath.Join(root, "usr/etc", name), content, 0o644)
	}
	testutil.HostRuntime(t, filepath.Join(root, "usr"), "sh", "true")
	return root
}

// sysrootFixture is a sysroot with stateroot testos and a commit function.
type sysrootFixture struct {
	t       *testing.T
	arbor   string
	dir, sr string
}

func (f *sysrootFixture) repo() string { return filepath.Join(f.sr, "ostree/repo") }

// commit commits a release of the test OS to testos/stable with the given tool.
func (f *sysrootFixture) commit(tool, version string, etc map[string]string) string {
	tree := osTree(f.t, f.dir, version, etc)
	out := testutil.Run(f.t, tool, "--repo="+f.repo(), "commit", "-b", "testos/stable", "--tree=dir="+tree,
		"--add-metadata-string=version="+version, "--timestamp=@1700000000")
	return strings.TrimSpace(out)
}

// status runs both tools' admin status and checks they agree.
func (f *sysrootFixture) status() string {
	f.t.Helper()
	a := testutil.Run(f.t, f.arbor, "admin", "status", "--sysroot="+f.sr)
	o := testutil.Run(f.t, "ostree", "admin", "status", "--sysroot="+f.sr)
	// arbor prints the GPG signatures of a lazily deployed commit
	// (partial in the repository), which ostree's status leaves out:
	// where ostree prints none, the rest must agree line for line, and
	// where it prints them, all of it.
	same := a == o
	if !strings.Contains(o, "GPG: ") {
		same = withoutGPG(a) == o
	}
	if !same {
		f.t.Fatalf("arbor admin status and ostree admin status disagree:\n%s", testutil.Diff(o, a))
	}
	return a
}

// withoutGPG is a status without its GPG: lines.
func withoutGPG(status string) string {
	var keep []string
	for _, l := range strings.Split(status, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "GPG: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// deployments are the COMMIT.SERIAL names in status order.
func deployments(status string) []string {
	var out []string
	for _, l := range strings.Split(status, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "testos" {
			out = append(out, f[1])
		} else if len(f) >= 3 && f[0] == "*" && f[1] == "testos" {
			out = append(out, f[2])
		}
	}
	return out
}

func newSysroot(t *testing.T, byOstree bool) *sysrootFixture {
	testutil.Privileged(t) // a bare repository keeps owners
	testutil.NeedTool(t, "ostree")
	f := &sysrootFixture{t: t, arbor: testutil.BuildArbor(t), dir: t.TempDir()}
	f.sr = filepath.Join(f.dir, "sysroot")
	mutable(t, f.sr)
	if byOstree {
		testutil.Must(t, os.MkdirAll(f.sr, 0o755))
		testutil.Run(t, "ostree", "admin", "init-fs", "--modern", f.sr)
		testutil.Run(t, "ostree", "admin", "os-init", "--sysroot="+f.sr, "testos")
	} else {
		testutil.Run(t, f.arbor, "admin", "init-fs", f.sr)
		testutil.Run(t, f.arbor, "admin", "os-init", "--sysroot="+f.sr, "testos")
	}
	// The peer must not look for a real bootloader on this machine.
	testutil.Run(t, "ostree", "--repo="+f.repo(), "config", "set", "sysroot.bootloader", "none")
	return f
}

// The whole life of a deployment: deploy, local /etc edits, upgrade with
// the three-way merge, rollback, pin, undeploy, cleanup; ostree admin
// status agrees with arbor's at every step.
func TestAdminLifecycle(t *testing.T) {
	f := newSysroot(t, false)
	arbor := f.arbor
	v1 := map[string]string{"a.conf": "a1\n", "b.conf": "b1\n", "c.conf": "c1\n", "sub/s.conf": "s1\n"}
	c1 := f.commit(arbor, "1.0", v1)
	testutil.Run(t, arbor, "admin", "deploy", "--sysroot="+f.sr, "--os=testos", "--karg=root=LABEL=root", "--karg=quiet", "testos/stable")
	st := f.status()
	if ds := deployments(st); len(ds) != 1 || !strings.HasPrefix(ds[0], c1+".") {
		t.Fatalf("after the first deploy:\n%s", st)
	}
	entries, _ := filepath.Glob(filepath.Join(f.sr, "boot/loader/entries/*.conf"))
	if len(entries) != 1 || !strings.Contains(testutil.ReadFile(t, entries[0]), "options root=LABEL=root quiet ostree=/ostree/boot.1/testos/") {
		t.Fatalf("boot entries %v", entries)
	}

	d1 := filepath.Join(f.sr, "ostree/deploy/testos/deploy", deployments(st)[0])
	testutil.WriteFile(t, filepath.Join(d1, "etc/a.conf"), "LOCAL a\n", 0o644)
	testutil.Must(t, os.Remove(filepath.Join(d1, "etc/c.conf")))
	testutil.WriteFile(t, filepath.Join(d1, "etc/local.conf"), "added\n", 0o644)
	testutil.WriteFile(t, filepath.Join(d1, "etc/sub/s.conf"), "LOCAL s\n", 0o644)
	testutil.Must(t, os.Chmod(filepath.Join(d1, "etc/b.conf"), 0o600))
	for _, sr := range []string{"arbor", "ostree"} {
		bin := arbor
		if sr == "ostree" {
			bin = "ostree"
		}
		got := testutil.Run(t, bin, "admin", "config-diff", "--sysroot="+f.sr, "--os=testos")
		if want := "M    a.conf\nM    b.conf\nD    c.conf\nA    local.conf\nM    sub/s.conf\n"; sortLines(got) != sortLines(want) {
			t.Errorf("%s admin config-diff:\n%s", sr, got)
		}
	}

	v2 := map[string]string{"a.conf": "a2\n", "b.conf": "b2\n", "c.conf": "c2\n", "d.conf": "d2\n", "sub/s.conf": "s2\n"}
	c2 := f.commit(arbor, "2.0", v2)
	if out := testutil.Run(t, arbor, "admin", "upgrade", "--sysroot="+f.sr, "--check"); !strings.Contains(out, "Update available: "+c2) {
		t.Errorf("upgrade --check: %s", out)
	}
	out := testutil.Run(t, arbor, "admin", "upgrade", "--sysroot="+f.sr)
	if !strings.Contains(out, "Copying /etc changes: 3 modified, 1 removed, 1 added") {
		t.Errorf("upgrade: %s", out)
	}
	st = f.status()
	ds := deployments(st)
	if len(ds) != 2 || !strings.HasPrefix(ds[0], c2+".") || !strings.HasPrefix(ds[1], c1+".") {
		t.Fatalf("after the upgrade:\n%s", st)
	}
	d2 := filepath.Join(f.sr, "ostree/deploy/testos/deploy", ds[0])
	for name, want := range map[string]string{"a.conf": "LOCAL a\n", "d.conf": "d2\n", "local.conf": "added\n", "sub/s.conf": "LOCAL s\n", "b.conf": "b1\n"} {
		if got := testutil.ReadFile(t, filepath.Join(d2, "etc", name)); got != want {
			t.Errorf("merged /etc/%s = %q, want %q", name, got, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(d2, "etc/b.conf")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the mode changed locally was not carried over: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(d2, "etc/c.conf")); err == nil {
		t.Error("a file deleted locally came back")
	}
	for _, e := range mustGlob(t, filepath.Join(f.sr, "boot/loader/entries/*.conf")) {
		if !strings.Contains(testutil.ReadFile(t, e), "options root=LABEL=root quiet ostree=") {
			t.Errorf("kernel arguments not carried over in %s:\n%s", e, testutil.ReadFile(t, e))
		}
	}
	// Entered, the deployment is the root: its /etc, the shared /var, a
	// read-only /usr, its own processes.
	out = testutil.Run(t, arbor, "admin", "enter", "--sysroot="+f.sr, "--", "sh", "-c",
		`read a < /etc/a.conf; echo "$a"; echo marked > /var/tmp/mark; if echo x > /usr/x; then echo usr-writable; fi; echo $$`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if pid, err := strconv.Atoi(lines[len(lines)-1]); len(lines) != 2 || lines[0] != "LOCAL a" || err != nil || pid > 64 {
		t.Errorf("inside the deployment (want the local /etc, a read-only /usr and a small PID of a new namespace): %q", out)
	}
	if got := testutil.ReadFile(t, filepath.Join(f.sr, "ostree/deploy/testos/var/tmp/mark")); got != "marked\n" {
		t.Errorf("/var written inside: %q", got)
	}
	if _, errOut, err := testutil.RunErr(arbor, "admin", "enter", "--sysroot="+f.sr, "1", "--", "sh", "-c", "exit 3"); err == nil {
		t.Errorf("a failing command inside: %v %s", err, errOut)
	}
	if out := testutil.Run(t, arbor, "admin", "upgrade", "--sysroot="+f.sr); !strings.Contains(out, "No update available") {
		t.Errorf("upgrade with nothing new: %s", out)
	}

	testutil.Run(t, arbor, "admin", "rollback", "--sysroot="+f.sr)
	if ds := deployments(f.status()); !strings.HasPrefix(ds[0], c1+".") || !strings.HasPrefix(ds[1], c2+".") {
		t.Fatalf("after rollback: %v", ds)
	}
	testutil.Run(t, arbor, "admin", "pin", "--sysroot="+f.sr, "1")
	if st := f.status(); !strings.Contains(st, "Pinned: yes") {
		t.Errorf("pin:\n%s", st)
	}
	// A third release keeps the pinned one as well as the merge one.
	c3 := f.commit(arbor, "3.0", v2)
	testutil.Run(t, arbor, "admin", "deploy", "--sysroot="+f.sr, "testos/stable")
	if ds := deployments(f.status()); len(ds) != 3 || !strings.HasPrefix(ds[0], c3+".") {
		t.Fatalf("deploy beside a pinned one: %v", ds)
	}
	testutil.Run(t, arbor, "admin", "pin", "--sysroot="+f.sr, "--unpin", "2")
	testutil.Run(t, arbor, "admin", "undeploy", "--sysroot="+f.sr, "2")
	testutil.Run(t, arbor, "admin", "undeploy", "--sysroot="+f.sr, "1")
	if ds := deployments(f.status()); len(ds) != 1 || !strings.HasPrefix(ds[0], c3+".") {
		t.Fatalf("after undeploy: %v", ds)
	}
	testutil.Run(t, arbor, "admin", "cleanup", "--sysroot="+f.sr)
	left, _ := os.ReadDir(filepath.Join(f.sr, "ostree/deploy/testos/deploy"))
	if len(left) != 2 {
		t.Errorf("deployment directories after cleanup: %v", left)
	}
	if kernels, _ := os.ReadDir(filepath.Join(f.sr, "boot/ostree")); len(kernels) != 1 {
		t.Errorf("kernel directories after cleanup: %v", kernels)
	}
	testutil.Run(t, "ostree", "fsck", "--repo="+f.repo())
	testutil.Run(t, arbor, "fsck", "--repo="+f.repo())
	if out := testutil.Run(t, arbor, "admin", "status", "--sysroot="+f.sr, "--json"); !strings.Contains(out, `"version": "3.0"`) || !strings.Contains(out, `"refspec": "testos/stable"`) {
		t.Errorf("status --json:\n%s", out)
	} else if !strings.Contains(out, `"checksum": "`+c3+`"`) {
		t.Errorf("status --json does not name the commit in hex:\n%s", out)
	}
	// The history has each change, newest first, with its commits.
	es, err := history.Open(filepath.Join(f.sr, "ostree/history.jsonl")).Read(context.Background(), 7)
	testutil.Must(t, err)
	var ops []string
	for _, e := range es {
		ops = append(ops, e.Op)
	}
	if got, want := strings.Join(ops, " "), "os-undeploy os-undeploy os-unpin os-deploy os-pin os-rollback os-deploy"; got != want {
		t.Errorf("history: %s, want %s", got, want)
	} else if es[3].To != c3 || es[5].From != c2 || es[5].To != c1 || es[6].From != c1 || es[6].To != c2 || es[6].Ref != "testos/stable" {
		t.Errorf("history's commits: %+v", es)
	}
	// A materialized deployment shares its files with the repository.
	var dep syscall.Stat_t
	d3 := filepath.Join(f.sr, "ostree/deploy/testos/deploy", deployments(f.status())[0])
	testutil.Must(t, syscall.Stat(filepath.Join(d3, "usr/bin/sh"), &dep))
	if dep.Nlink < 2 {
		t.Errorf("usr/bin/sh of the deployment has %d links: not a hardlink checkout", dep.Nlink)
	}
	testutil.Run(t, arbor, "admin", "set-origin", "--sysroot="+f.sr, "--set=gpg-verify=false", "updates", "http://127.0.0.1:9/repo")
	if st := f.status(); !strings.Contains(st, "origin refspec: updates:testos/stable") {
		t.Errorf("after set-origin:\n%s", st)
	}
	if cfg := testutil.ReadFile(t, filepath.Join(f.repo(), "config")); !strings.Contains(cfg, `[remote "updates"]`) {
		t.Errorf("set-origin added no remote:\n%s", cfg)
	}
}

// A full disk stops a deploy with a clear error and changes nothing;
// with room again, the same deploy works.
func TestAdminDiskFull(t *testing.T) {
	f := newSysroot(t, false)
	f.commit(f.arbor, "1.0", map[string]string{"a.conf": "a\n"})
	testutil.Run(t, f.arbor, "admin", "deploy", "--sysroot="+f.sr, "testos/stable")
	f.commit(f.arbor, "2.0", map[string]string{"a.conf": "b\n"})
	before := f.status()
	// The sysroot moves to a small filesystem, then that is filled up.
	small := filepath.Join(f.dir, "small")
	testutil.Must(t, os.MkdirAll(small, 0o755))
	testutil.Run(t, "mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", small)
	t.Cleanup(func() { exec.Command("umount", "-l", small).Run() })
	testutil.Run(t, "cp", "-a", f.sr+"/.", small)
	f.sr = small
	if got := f.status(); got != before {
		t.Fatalf("the copied sysroot:\n%s", got)
	}
	filler := filepath.Join(small, "filler")
	exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=1M").Run()
	_, errOut, err := testutil.RunErr(f.arbor, "admin", "deploy", "--sysroot="+f.sr, "testos/stable")
	if err == nil || !strings.Contains(errOut, "no space left on device") {
		t.Fatalf("deploy on a full disk: %v %q", err, errOut)
	}
	if after := f.status(); after != before {
		t.Errorf("a failed deploy changed the status:\n%s", testutil.Diff(before, after))
	}
	testutil.Must(t, os.Remove(filler))
	testutil.Run(t, f.arbor, "admin", "deploy", "--sysroot="+f.sr, "testos/stable")
	if ds := deployments(f.status()); len(ds) != 2 {
		t.Errorf("after room was made: %v", ds)
	}
	testutil.Run(t, "ostree", "fsck", "--repo="+f.repo())
}

func sortLines(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	testutil.Must(t, err)
	return m
}

// A sysroot made and deployed by one tool is upgraded by the other, then
// by the first again; each reads the other's boot configuration and
// merges the other's /etc.
func TestAdminInterop(t *testing.T) {
	for _, first := range []string{"ostree", "arbor"} {
		t.Run("made by "+first, func(t *testing.T) {
			f := newSysroot(t, first == "ostree")
			tools := map[string]string{"ostree": "ostree", "arbor": f.arbor}
			other := "arbor"
			if first == "arbor" {
				other = "ostree"
			}
			c1 := f.commit(tools[first], "1.0", map[string]string{"a.conf": "a1\n"})
			testutil.Run(t, tools[first], "admin", "deploy", "--sysroot="+f.sr, "--os=testos", "--karg=root=LABEL=root", "testos/stable")
			d1 := filepath.Join(f.sr, "ostree/deploy/testos/deploy", deployments(f.status())[0])
			testutil.WriteFile(t, filepath.Join(d1, "etc/a.conf"), "LOCAL\n", 0o644)

			c2 := f.commit(tools[other], "2.0", map[string]string{"a.conf": "a2\n", "b.conf": "b2\n"})
			testutil.Run(t, tools[other], "admin", "upgrade", "--sysroot="+f.sr, "--os=testos")
			ds := deployments(f.status())
			if len(ds) != 2 || !strings.HasPrefix(ds[0], c2+".") || !strings.HasPrefix(ds[1], c1+".") {
				t.Fatalf("%s's upgrade of %s's sysroot: %v", other, first, ds)
			}
			if got := testutil.ReadFile(t, filepath.Join(f.sr, "ostree/deploy/testos/deploy", ds[0], "etc/a.conf")); got != "LOCAL\n" {
				t.Errorf("%s's merge of %s's deployment: a.conf = %q", other, first, got)
			}

			c3 := f.commit(tools[first], "3.0", map[string]string{"a.conf": "a3\n", "b.conf": "b3\n"})
			testutil.Run(t, tools[first], "admin", "deploy", "--sysroot="+f.sr, "--os=testos", "testos/stable")
			ds = deployments(f.status())
			if len(ds) != 2 || !strings.HasPrefix(ds[0], c3+".") || !strings.HasPrefix(ds[1], c2+".") {
				t.Fatalf("%s's deploy over %s's: %v", first, other, ds)
			}
			if got := testutil.ReadFile(t, filepath.Join(f.sr, "ostree/deploy/testos/deploy", ds[0], "etc/a.conf")); got != "LOCAL\n" {
				t.Errorf("%s's merge of %s's deployment: a.conf = %q", first, other, got)
			}
			testutil.Run(t, f.arbor, "admin", "rollback", "--sysroot="+f.sr)
			if ds := deployments(f.status()); !strings.HasPrefix(ds[0], c2+".") {
				t.Fatalf("arbor's rollback: %v", ds)
			}
			testutil.Run(t, "ostree", "fsck", "--repo="+f.repo())
			testutil.Run(t, f.arbor, "fsck", "--repo="+f.repo())
		})
	}
}

// Bad input changes nothing: a tree without a kernel, an unknown
// stateroot, a ref that does not resolve.
func TestAdminRefusals(t *testing.T) {
	f := newSysroot(t, false)
	f.commit(f.arbor, "1.0", map[string]string{"a.conf": "a\n"})
	testutil.Run(t, f.arbor, "admin", "deploy", "--sysroot="+f.sr, "testos/stable")
	before := f.status()
	nokernel := filepath.Join(f.dir, "nokernel")
	testutil.WriteFile(t, filepath.Join(nokernel, "usr/lib/os-release"), "ID=testos\n", 0o644)
	testutil.Run(t, f.arbor, "--repo="+f.repo(), "commit", "-b", "testos/broken", "--tree=dir="+nokernel)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"testos/broken"}, "Failed to find kernel"},
		{[]string{"--os=nosuch", "testos/stable"}, "unknown stateroot nosuch"},
		{[]string{"testos/nosuch"}, "testos/nosuch"},
		{[]string{"--os=../x", "testos/stable"}, "stateroot"},
	} {
		_, errOut, err := testutil.RunErr(f.arbor, append([]string{"admin", "deploy", "--sysroot=" + f.sr}, c.args...)...)
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("deploy %v: %v %q, want an error naming %q", c.args, err, errOut, c.want)
		}
		if after := f.status(); after != before {
			t.Errorf("deploy %v changed the status:\n%s", c.args, testutil.Diff(before, after))
		}
	}
}

// A deploy killed with SIGKILL at 20 points of its run always leaves a
// whole default deployment that ostree reads; the next command removes
// what was half written.
func TestAdminDeployKilled(t *testing.T) {
	f := newSysroot(t, false)
	c1 := f.commit(f.arbor, "1.0", map[string]string{"a.conf": "a1\n"})
	testutil.Run(t, f.arbor, "admin", "deploy", "--sysroot="+f.sr, "testos/stable")
	c2 := f.commit(f.arbor, "2.0", map[string]string{"a.conf": "a2\n"})
	deploy := func() *exec.Cmd {
		return exec.Command(f.arbor, "admin", "deploy", "--sysroot="+f.sr, "--retain", "testos/stable")
	}
	start := time.Now()
	if out, err := deploy().CombinedOutput(); err != nil {
		t.Fatalf("a timed deploy: %v\n%s", err, out)
	}
	took := time.Since(start)
	t.Logf("one deploy takes %v", took)
	for i := 1; i <= 20; i++ {
		cmd := deploy()
		testutil.Must(t, cmd.Start())
		time.Sleep(took * time.Duration(i) / 21)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		st := f.status() // ostree reads it, and agrees
		ds := deployments(st)
		if len(ds) == 0 || !strings.HasPrefix(ds[0], c1+".") && !strings.HasPrefix(ds[0], c2+".") {
			t.Fatalf("kill %d: the default is neither release:\n%s", i, st)
		}
		for _, d := range ds {
			root := filepath.Join(f.sr, "ostree/deploy/testos/deploy", d)
			for _, p := range []string{"usr/lib/os-release", "usr/bin/sh", "etc/a.conf", "usr/lib/modules/6.1.0-test/vmlinuz"} {
				if _, err := os.Stat(filepath.Join(root, p)); err != nil {
					t.Fatalf("kill %d: deployment %s is not whole: %v", i, d, err)
				}
			}
		}
	}
	testutil.Run(t, f.arbor, "admin", "cleanup", "--sysroot="+f.sr)
	ents, _ := os.ReadDir(filepath.Join(f.sr, "ostree/deploy/testos/deploy"))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("%s left after cleanup", e.Name())
		}
	}
	if n := len(deployments(f.status())); len(ents) != 2*n {
		t.Errorf("%d entries in the deploy directory for %d deployments", len(ents), n)
	}
	testutil.Run(t, "ostree", "fsck", "--repo="+f.repo())
}

// mutable clears the immutable flag ostree and arbor set on deployment
// roots, so that the test's directory can be removed.
func mutable(t *testing.T, sr string) {
	t.Cleanup(func() {
		roots, _ := filepath.Glob(filepath.Join(sr, "ostree/deploy/*/deploy/*"))
		for _, r := range roots {
			if fi, err := os.Lstat(r); err == nil && fi.IsDir() {
				exec.Command("chattr", "-i", r).Run()
			}
		}
	})
}
