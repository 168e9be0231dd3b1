package sandbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"arbor/internal/mounts"
	"arbor/tests/testutil"
)

// kernelMountsEnv names a directory with kernel file systems mounted below
// it (see makeKernelMounts), made by TestUnprivileged as root for the run
// as uid 65534.
const kernelMountsEnv = "ARBOR_TEST_KERNEL_MOUNTS"

// kernelMounts is the directory of makeKernelMounts: made now as root, or
// by TestUnprivileged before it ran this test.
func kernelMounts(t *testing.T) string {
	t.Helper()
	if d := os.Getenv(kernelMountsEnv); d != "" {
		return d
	}
	testutil.NeedRoot(t) // to mount (TestUnprivileged mounts first)
	return makeKernelMounts(t)
}

// makeKernelMounts makes a directory with a build chroot's mounts below it
// (chroot/proc, chroot/sys), and sysfs alone below two directories anyone
// may write (sysonly/sys, "sysonly/a b/sys"; moved/x/sys). Everything
// mounted below it is unmounted at the end.
func makeKernelMounts(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "arbor-kernel-mounts")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ms, err := mounts.Read()
		if err != nil {
			t.Error(err)
			return
		}
		for _, m := range slices.Backward(mounts.Below(ms, dir)) {
			if err := unix.Unmount(m.Point, unix.MNT_DETACH); err != nil {
				t.Errorf("unmounting %s: %v", m.Point, err)
				return // not removing what may still be the kernel's
			}
		}
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ fstype, path string }{
		{"proc", "chroot/proc"}, {"sysfs", "chroot/sys"},
		{"sysfs", "sysonly/sys"}, {"sysfs", "sysonly/a b/sys"},
		{"sysfs", "moved/x/sys"},
	} {
		p := filepath.Join(dir, m.path)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount(m.fstype, p, m.fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			t.Fatalf("mounting %s on %s: %v", m.fstype, p, err)
		}
	}
	// Writable for root without capabilities, and for uid 65534.
	for _, d := range []string{"sysonly", "moved"} {
		if err := os.Chmod(filepath.Join(dir, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writableMounts is a script that fails, naming them, if any of the
// kernel's file systems mounted at or below dest is writable, or if none
// is there.
func writableMounts(dest string) string {
	return `perl -e 'my ($d, $n, @bad) = @ARGV;
		open(my $f, "<", "/proc/self/mountinfo") or die "$!";
		while (<$f>) {
			my @f = split;
			my ($sep) = grep { $f[$_] eq "-" } 6 .. $#f;
			next unless $f[4] eq $d || index($f[4], "$d/") == 0;
			next unless $f[$sep + 1] =~ /^(sysfs|cgroup2?|debugfs|tracefs|securityfs|pstore|bpf|configfs|fusectl|efivarfs|selinuxfs|smackfs|binfmt_misc)$/;
			$n++;
			push @bad, $f[4] unless $f[5] =~ /^ro,/ && $f[5] =~ /,nosuid/ && $f[5] =~ /,nodev/;
		}
		if (@bad || !$n) { print "writable: @bad (of $n)\n"; exit 1 }' '` + dest + `'`
}

// A kernel file system mounted below a granted host directory, not only
// the directory's own, is kept from the app: a proc refuses the grant,
// read-only or not, and the others are read-only inside while the grant
// stays writable. As root, writing a build chroot's sys/kernel/uevent_helper
// or proc/sys/kernel/core_pattern ran code as root on the host. Nothing is
// written: a file opened for writing is closed at once.
func TestKernelMountsBelowAGrant(t *testing.T) {
	testutil.Privileged(t)
	dir := kernelMounts(t)
	chroot := filepath.Join(dir, "chroot")
	for _, c := range []struct {
		name string
		spec Spec
		want string
	}{
		{"writable", Spec{Binds: []Bind{{Source: chroot, Dest: "/data", Writable: true}}}, "bind " + chroot + ": " + chroot + "/proc is a proc file system; refused"},
		{"read-only", Spec{Binds: []Bind{{Source: chroot, Dest: "/data"}}}, "bind " + chroot + ": " + chroot + "/proc is a proc file system; refused"},
		{"further down", Spec{Binds: []Bind{{Source: dir, Dest: "/data", Writable: true}}}, "bind " + dir + ": " + chroot + "/proc is a proc file system; refused"},
		{"app", Spec{App: chroot}, "app " + chroot + ": " + chroot + "/proc is a proc file system; refused"},
		{"runtime", Spec{Runtime: chroot}, "runtime " + chroot + ": " + chroot + "/proc is a proc file system; refused"},
	} {
		if c.spec.Runtime == "" {
			c.spec.Runtime = "/usr"
		}
		c.spec.Args = []string{"true"}
		var out bytes.Buffer
		if _, err := Run(context.Background(), c.spec, Stdio{Stdout: &out, Stderr: &out}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q\n%s", c.name, err, c.want, out.String())
		}
	}

	// A root-writable sysfs file this kernel has, for the probe.
	var file string
	for _, f := range []string{"kernel/uevent_helper", "power/state", "kernel/mm/transparent_hugepage/enabled"} {
		if _, err := os.Stat(filepath.Join("/sys", f)); err == nil {
			file = f
			break
		}
	}
	if file == "" {
		t.Fatal("no root-writable sysfs file to probe")
	}
	// Root gets EROFS, nothing else; uid 65534 is refused first by the
	// file's mode, so its mounts are read from mountinfo.
	errno := `$!{EROFS}`
	if os.Geteuid() != 0 {
		errno = `$!{EROFS} || $!{EACCES}`
	}
	for _, p := range []string{"/data/sys/" + file, "/data/a b/sys/" + file} {
		probe := `perl -e 'use Fcntl; sysopen(my $f, "` + p + `", O_WRONLY) and exit 1; exit(` + errno + ` ? 0 : 2)'`
		code, out := sh(t, Spec{Binds: []Bind{{Source: filepath.Join(dir, "sysonly"), Dest: "/data", Writable: true}}},
			probe+` && `+writableMounts("/data")+` && touch /data/made-inside`)
		if code != 0 {
			t.Errorf("sysfs below a writable grant: %s: exit %d\n%s", p, code, out)
		}
	}
	os.Remove(filepath.Join(dir, "sysonly/made-inside"))

	// The host's /sys, granted writable, and a grant of what is below it:
	// every kernel file system in it is read-only (where /sys/fs/cgroup is
	// a tmpfs, the cgroup hierarchies are mounts below the grant).
	for _, p := range []string{"/sys", "/sys/fs/cgroup", "/sys/kernel"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if code, out := sh(t, Spec{Binds: []Bind{{Source: p, Dest: p, Writable: true}}}, writableMounts(p)); code != 0 {
			t.Errorf("%s granted writable: exit %d\n%s", p, code, out)
		}
	}
}

// A directory renamed between the read of the host's mounts and the setup
// inside the sandbox (an app that can write the grant can rename its
// directories, mounts and all) fails the start: the kernel file system
// below it must not end up writable where it went.
func TestKernelMountMovedWhileStarting(t *testing.T) {
	testutil.Privileged(t)
	moved := filepath.Join(kernelMounts(t), "moved")
	x, y := filepath.Join(moved, "x"), filepath.Join(moved, "y")
	for _, c := range []struct {
		name    string
		replace bool // a directory of the same name put where x was
		want    string
	}{
		{"gone", false, "making " + x + "/sys read-only: no such file or directory"},
		{"replaced", true, "making " + x + "/sys read-only: it changed while the sandbox was made; refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			spec := Spec{Runtime: "/usr", Args: []string{"sh", "-c", writableMounts("/data")}, Env: []string{"PATH=/usr/bin:/bin"},
				Binds: []Bind{{Source: moved, Dest: "/data", Writable: true}}}
			sb := New(context.Background(), NamespacesOf(spec), Stdio{Stdout: &out, Stderr: &out})
			defer sb.Close()
			sb.Start()
			if err := sb.Prepare(spec); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(x, y); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if c.replace {
					os.Remove(filepath.Join(x, "sys"))
					os.Remove(x)
				}
				if err := os.Rename(y, x); err != nil {
					t.Fatal(err)
				}
			}()
			if c.replace {
				if err := os.MkdirAll(filepath.Join(x, "sys"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			code, err := sb.Run()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v (exit %d), want %q\n%s", err, code, c.want, out.String())
			}
		})
	}
}
