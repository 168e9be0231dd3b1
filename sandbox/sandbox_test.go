package sandbox

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"arbor/sandbox/boot"
	"arbor/sandbox/cgroup"
	"arbor/tests/testutil"
)

// sh runs a shell script in a sandbox whose runtime is the host's /usr.
func sh(t *testing.T, spec Spec, script string) (int, string) {
	t.Helper()
	if spec.Runtime == "" {
		spec.Runtime = "/usr"
	}
	spec.Args = []string{"sh", "-c", script}
	spec.Env = append(spec.Env, "PATH=/usr/bin:/bin")
	var out bytes.Buffer
	code, err := Run(context.Background(), spec, Stdio{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out.String())
	}
	return code, out.String()
}

func TestExitStatus(t *testing.T) {
	testutil.Privileged(t)
	for _, c := range []struct {
		script string
		want   int
	}{{"true", 0}, {"exit 7", 7}, {"kill -9 $$", 128 + 9}} {
		if code, out := sh(t, Spec{}, c.script); code != c.want {
			t.Errorf("%q: exit %d, want %d\n%s", c.script, code, c.want, out)
		}
	}
}

func TestConfinement(t *testing.T) {
	testutil.Privileged(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each line must fail inside the sandbox.
	app := t.TempDir()
	for _, probe := range []string{
		"touch /usr/arbor-probe",
		"touch /app/arbor-probe",
		"touch /etc/arbor-probe",
		"touch /arbor-probe",
		"cat " + secret,
		"mount -t tmpfs none /tmp",
		"test $(ls /proc | grep -c '^[0-9]') -gt 8", // sees host processes
		"unshare -U true",
		"unshare -m true",
		"grep -q '^CapEff:.*[1-9a-f]' /proc/self/status",
		"grep -q '^NoNewPrivs:.*0' /proc/self/status",
		// PID 1 may share the caller's memory: it must be out of reach,
		// or writing it would run code outside the sandbox.
		"exec 3</proc/1/mem",
		"exec 3>/proc/1/mem",
		"cat /proc/1/maps",
		"cat /proc/1/environ",
	} {
		if code, out := sh(t, Spec{App: app}, probe); code == 0 {
			t.Errorf("%q succeeded in the sandbox\n%s", probe, out)
		}
	}
	// The seccomp filter's refusals, each with the errno flatpak's gives
	// (so that a refusal for another reason does not count): ptrace,
	// TIOCSTI with and without high bits (CVE-2019-10063), AF_PACKET and
	// AF_KEY sockets, clone3; io_uring, which would run operations the
	// filter never sees (EPERM), and socketpair of a family socket()
	// refuses (AF_VSOCK has none: the kernel's answer would be
	// EOPNOTSUPP).
	for _, probe := range []string{
		`perl -e 'my $p = "\0" x 120; syscall(425, 1, $p); exit($!{EPERM} ? 0 : 1)'`,
		`perl -e 'syscall(426, 0, 0, 0, 0, 0, 0); exit($!{EPERM} ? 0 : 1)'`,
		`perl -e 'syscall(427, 0, 0, 0, 0); exit($!{EPERM} ? 0 : 1)'`,
		`perl -e 'socketpair(my $a, my $b, 40, 5, 0); exit($!{EAFNOSUPPORT} ? 0 : 1)'`,
		`perl -e 'syscall(101, 0, 0, 0, 0); exit($!{EPERM} ? 0 : 1)'`,
		`perl -e 'my $c = "x"; syscall(16, 0, 0x5412, $c); exit($!{EPERM} ? 0 : 1)'`,
		`perl -e 'my $c = "x"; syscall(16, 0, 0x100005412, $c); exit($!{EPERM} ? 0 : 1)'`,
		`perl -e 'socket(my $s, 17, 3, 0); exit($!{EAFNOSUPPORT} ? 0 : 1)'`,
		`perl -e 'socket(my $s, 15, 3, 2); exit($!{EAFNOSUPPORT} ? 0 : 1)'`,
		`perl -e 'syscall(435, 0, 0); exit($!{ENOSYS} ? 0 : 1)'`,
	} {
		if code, out := sh(t, Spec{}, probe); code != 0 {
			t.Errorf("%q: not refused as the filter refuses it\n%s", probe, out)
		}
	}
	// With the devel feature, ptrace is allowed.
	if code, out := sh(t, Spec{Features: Features{Devel: true}}, `perl -e 'exit(syscall(101, 0, 0, 0, 0) == 0 ? 0 : 1)'`); code != 0 {
		t.Errorf("ptrace(TRACEME) with devel: exit %d\n%s", code, out)
	}
	// And these must work.
	for _, probe := range []string{
		"touch /tmp/ok",
		"test -x /bin/sh && test -c /dev/null && echo x > /dev/null",
		"grep -q '^user:x:' /etc/passwd",
		"test -d /run/user/$(id -u)",
		"test $PPID -eq 1", // init is PID 1 and reaps
	} {
		if code, out := sh(t, Spec{}, probe); code != 0 {
			t.Errorf("%q failed in the sandbox (exit %d)\n%s", probe, code, out)
		}
	}
}

func TestNetworkOnlyWhenShared(t *testing.T) {
	testutil.Privileged(t)
	addr := testutil.LoopbackServer(t, "hello\n")
	_, port, _ := net.SplitHostPort(addr)
	probe := "exec 3<>/dev/tcp/127.0.0.1/" + port + " && head -n1 <&3"
	probe = "bash -c '" + probe + "'"
	if code, out := sh(t, Spec{}, probe); code == 0 {
		t.Errorf("reached the host's loopback without network\n%s", out)
	}
	if code, out := sh(t, Spec{Network: true}, probe); code != 0 || !strings.Contains(out, "hello") {
		t.Errorf("with network: exit %d\n%s", code, out)
	}
}

func TestBindsRefuseSymlinks(t *testing.T) {
	testutil.Privileged(t)
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(real, "f"), []byte("granted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	code, out := sh(t, Spec{Binds: []Bind{{Source: real, Dest: "/data"}}}, "cat /data/f && ! touch /data/g")
	if code != 0 || !strings.Contains(out, "granted") {
		t.Fatalf("a read-only bind: exit %d\n%s", code, out)
	}
	var buf bytes.Buffer
	_, err := Run(context.Background(), Spec{Runtime: "/usr", Args: []string{"true"},
		Binds: []Bind{{Source: filepath.Join(dir, "link"), Dest: "/data"}}}, Stdio{Stderr: &buf})
	if err == nil || !strings.Contains(err.Error(), "symlink") || !strings.Contains(err.Error(), filepath.Join(dir, "link")) {
		t.Fatalf("a bind through a symlink: %v\n%s", err, buf.String())
	}
}

// TestUnprivileged runs the tests above again as an unprivileged user,
// where the sandbox makes a user namespace of its own.
func TestEnviron(t *testing.T) {
	host := []string{"LD_PRELOAD=/evil.so", "GST_PLUGIN_PATH=/x", "LANG=C.UTF-8", "PATH=/sbin", "TERM=xterm"}
	got := strings.Join(Environ(host, 1000, "/home/u", []string{"FOO=bar", "TERM="}), " ")
	want := "LANG=C.UTF-8 PATH=/app/bin:/usr/bin XDG_CONFIG_DIRS=/app/etc/xdg:/etc/xdg XDG_DATA_DIRS=/app/share:/usr/share " +
		"XDG_RUNTIME_DIR=/run/user/1000 SHELL=/bin/sh HOME=/home/u container=arbor FOO=bar"
	if got != want {
		t.Fatalf("Environ:\n got %s\nwant %s", got, want)
	}
}

func TestUnprivileged(t *testing.T) {
	testutil.Privileged(t)
	if os.Geteuid() != 0 {
		t.Skip("already unprivileged")
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // both made 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sandbox.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	// A setuid-root program for the unprivileged run to try in /app.
	app := filepath.Join(dir, "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	id, err := os.ReadFile("/usr/bin/id")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "suid-id"), id, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(app, "suid-id"), 0o4755); err != nil {
		t.Fatal(err)
	}
	// Kernel file systems below a directory, mounted by root for the run.
	kernel := makeKernelMounts(t)
	cmd := exec.Command(bin, "-test.count=1", "-test.v",
		"-test.run=^(TestExitStatus|TestConfinement|TestNetworkOnlyWhenShared|TestBindsRefuseSymlinks|TestAppDirsAndInfo|TestAppDirSwappedForSymlinkIsRefused|TestContextApplied|TestSetuidInAppIsPowerless|TestKernelFilesProtected|TestSetupRefusesPlantedSymlinks|TestSetupIgnoresPlantedFIFO|TestSpecRefusals|TestRuntimeEtcSymlinkNotFollowed|TestKernelMountsBelowAGrant|TestKernelMountMovedWhileStarting)$")
	cmd.Env = []string{testutil.PrivilegedEnv + "=1", "HOME=/tmp", "PATH=/usr/bin:/bin", "TMPDIR=/tmp", suidAppEnv + "=" + app, kernelMountsEnv + "=" + kernel}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
	for _, name := range []string{"TestConfinement", "TestSetuidInAppIsPowerless", "TestKernelFilesProtected", "TestSetupRefusesPlantedSymlinks",
		"TestSetupIgnoresPlantedFIFO", "TestSpecRefusals", "TestRuntimeEtcSymlinkNotFollowed", "TestKernelMountsBelowAGrant",
		"TestKernelMountMovedWhileStarting"} {
		if !strings.Contains(string(out), "--- PASS: "+name) {
			t.Fatalf("as uid 65534 %s did not run:\n%s", name, out)
		}
	}
}

func TestAppDirsAndInfo(t *testing.T) {
	testutil.Privileged(t)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "secret"), []byte("host secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	binds, env, err := AppDirs(home, "org.example.App")
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Binds: binds, Env: env, Home: home, Info: []byte("[Application]\nname=org.example.App\n")}
	code, out := sh(t, spec, `touch "$XDG_DATA_HOME/made-inside" && grep -q name=org.example.App /.flatpak-info &&
		test "$(stat -c %a /.flatpak-info)" = 600 && cat /run/user/$(id -u)/flatpak-info >/dev/null && ! ls `+home+`/secret`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(home, ".var/app/org.example.App/data/made-inside")); err != nil {
		t.Fatalf("a file made in XDG_DATA_HOME is not on the host: %v", err)
	}
}

func TestAppDirSwappedForSymlinkIsRefused(t *testing.T) {
	testutil.Privileged(t)
	home := t.TempDir()
	secretDir := filepath.Join(t.TempDir(), "host-private")
	if err := os.MkdirAll(secretDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secretDir, "key"), []byte("host secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	binds, env, err := AppDirs(home, "org.example.App")
	if err != nil {
		t.Fatal(err)
	}
	// Between AppDirs and the start, data becomes a symlink to a host dir.
	data := filepath.Join(home, ".var/app/org.example.App/data")
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secretDir, data); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = Run(context.Background(), Spec{Runtime: "/usr", Binds: binds, Env: env, Home: home,
		Args: []string{"cat", data + "/key"}}, Stdio{Stdout: &out, Stderr: &out})
	if err == nil || strings.Contains(out.String(), "host secret") {
		t.Fatalf("started through a swapped symlink: %v\n%s", err, out.String())
	}
	// And AppDirs itself refuses to go through it.
	if _, _, err := AppDirs(home, "org.example.App"); err == nil {
		t.Fatal("AppDirs went through a symlink")
	}
	for _, bad := range []string{"app", "a.b", "org..x", "org.x./y", "org.1x.y", "../../x.y.z"} {
		if _, _, err := AppDirs(home, bad); err == nil {
			t.Errorf("app id %q accepted", bad)
		}
	}
}

// suidAppEnv names a directory (made by TestUnprivileged as root) holding
// a setuid-root copy of id, for the unprivileged run to try.
const suidAppEnv = "ARBOR_TEST_SUID_APP"

func TestSetuidInAppIsPowerless(t *testing.T) {
	testutil.Privileged(t)
	app := os.Getenv(suidAppEnv)
	if app == "" {
		t.Skip("runs inside TestUnprivileged, which makes the setuid file")
	}
	code, out := sh(t, Spec{App: app}, "test $(/app/suid-id -u) != 0")
	if code != 0 {
		t.Fatalf("a setuid-root program in /app gave root (exit %d)\n%s", code, out)
	}
}

// A sandbox started and given up is gone, with nothing printed; one run
// with other namespaces than it was started with is refused.
func TestStartWithoutRun(t *testing.T) {
	testutil.Privileged(t)
	var out bytes.Buffer
	sb := New(context.Background(), Namespaces{}, Stdio{Stdout: &out, Stderr: &out})
	sb.Start()
	sb.Close()
	if sb.err != nil {
		t.Fatal(sb.err)
	}
	if !sb.proc.Reaped() {
		t.Error("the sandbox's first process was not reaped")
	}
	if out.Len() != 0 {
		t.Errorf("a sandbox given up printed %q", out.String())
	}
	sb = New(context.Background(), Namespaces{}, Stdio{Stdout: &out, Stderr: &out})
	sb.Start()
	err := sb.Prepare(Spec{Runtime: "/usr", Args: []string{"true"}, Network: true})
	if err == nil || !strings.Contains(err.Error(), "namespaces differ") {
		t.Fatalf("a run with the network shared, started without: %v", err)
	}
	sb.Close()
	if !sb.proc.Reaped() {
		t.Error("the first process of a refused run was not reaped")
	}
}

// The kernel's dangerous files are read-only or masked, whoever runs the
// sandbox and whether or not the network is shared: uid 0 without
// capabilities passes the permission checks of root's files (writing
// core_pattern ran code as root on the host). Nothing is written: a file
// opened for writing is closed at once.
func TestKernelFilesProtected(t *testing.T) {
	testutil.Privileged(t)
	writeRefused := func(p string) string {
		return `test ! -e ` + p + ` || perl -e 'use Fcntl; sysopen(my $f, "` + p + `", O_WRONLY) and exit 1; exit($!{EROFS} || $!{EACCES} ? 0 : 2)'`
	}
	checks := []string{
		writeRefused("/proc/sys/kernel/core_pattern"),
		writeRefused("/proc/sys/net/ipv4/ip_forward"),
		writeRefused("/proc/sys/vm/drop_caches"),
		writeRefused("/proc/sysrq-trigger"),
		writeRefused("/proc/irq/default_smp_affinity"),
		// Read-only all the way down, not only at the top.
		`! grep -q ' /proc/sys/[^ ]* rw' /proc/self/mountinfo`,
		// Masked: empty to read, whoever reads.
		`test -z "$(cat /proc/interrupts /proc/timer_list /proc/keys /proc/sched_debug /proc/kpageflags 2>/dev/null)"`,
		`test ! -d /proc/acpi || test -z "$(ls -A /proc/acpi)"`,
	}
	// Each of runc's masked and read-only paths that this kernel has is
	// covered by a mount of its own.
	for _, p := range []string{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"} {
		if _, err := os.Lstat(p); err == nil {
			checks = append(checks, `grep -q '^[^ ]* [^ ]* [^ ]* [^ ]* `+p+` ' /proc/self/mountinfo`)
		}
	}
	for _, network := range []bool{false, true} {
		for _, c := range checks {
			if code, out := sh(t, Spec{Network: network}, c); code != 0 {
				t.Errorf("network=%v: %s: exit %d\n%s", network, c, code, out)
			}
		}
	}
	// Where /sys is bound in, even writable, it is read-only (as root,
	// uevent_helper runs a program as root on the host) and its firmware
	// tables are masked.
	sysChecks := []string{`test -d /sys/kernel`, writeRefused("/sys/kernel/uevent_helper"), writeRefused("/sys/power/state")}
	if ents, err := os.ReadDir("/sys/firmware"); err == nil && len(ents) > 0 {
		sysChecks = append(sysChecks, `test -z "$(ls -A /sys/firmware)"`)
	}
	for _, c := range sysChecks {
		if code, out := sh(t, Spec{Binds: []Bind{{Source: "/sys", Dest: "/sys", Writable: true}}}, c); code != 0 {
			t.Errorf("/sys bound writable: %s: exit %d\n%s", c, code, out)
		}
	}
}

// A spec that would have the setup work inside what is not its own, or
// undo what it protects, is refused with the path named.
func TestSpecRefusals(t *testing.T) {
	testutil.Privileged(t)
	for _, c := range []struct {
		spec Spec
		want string
	}{
		// It could bind the host's /proc/sys writable over the read-only one.
		{Spec{Binds: []Bind{{Source: "/proc/sys", Dest: "/proc/sys", Writable: true}}}, "bind /proc/sys: inside /proc"},
		{Spec{Binds: []Bind{{Source: "/usr", Dest: "/proc"}}}, "bind /proc: inside /proc"},
		// The host's /proc, anywhere: its processes, and no masks.
		{Spec{Binds: []Bind{{Source: "/proc", Dest: "/host-proc"}}}, "bind /proc: a proc file system"},
		{Spec{Binds: []Bind{{Source: "/usr", Dest: "srv"}}}, `bind destination "srv"`},
		// The home is made by path: never inside the runtime or a link.
		{Spec{Home: "/usr/x"}, "home /usr/x: /usr is not"},
		{Spec{Home: "/bin/x"}, "home /bin/x: /bin is not"},
		{Spec{Home: "/proc/x"}, "home /proc/x: /proc is not"},
	} {
		c.spec.Runtime, c.spec.Args = "/usr", []string{"true"}
		var out bytes.Buffer
		if _, err := Run(context.Background(), c.spec, Stdio{Stdout: &out, Stderr: &out}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q\n%s", c.spec, err, c.want, out.String())
		}
	}
}

// A FIFO an app left where a later bind of a file goes does not hang the
// start: the setup never opens what it finds there for writing.
func TestSetupIgnoresPlantedFIFO(t *testing.T) {
	testutil.Privileged(t)
	home := t.TempDir()
	binds, env, err := AppDirs(home, "org.example.App")
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(home, ".var/app/org.example.App/data")
	if err := syscall.Mkfifo(filepath.Join(data, "f"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("granted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A guard, not a measure: a hung start is killed and fails.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	code, err := Run(ctx, Spec{Runtime: "/usr", Binds: append(binds, Bind{Source: src, Dest: filepath.Join(data, "f")}),
		Env: env, Home: home, Args: []string{"cat", filepath.Join(data, "f")}}, Stdio{Stdout: &out, Stderr: &out})
	if err != nil || code != 0 || !strings.Contains(out.String(), "granted") {
		t.Fatalf("a file bind onto a planted FIFO: %d, %v\n%s", code, err, out.String())
	}
}

// A symlink an app planted in a directory it can write (its own data
// directory, bound from the host) is never followed while the sandbox is
// set up: a later bind whose destination goes through it is refused,
// with the destination named, and nothing is made where it points.
func TestSetupRefusesPlantedSymlinks(t *testing.T) {
	testutil.Privileged(t)
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	const name = "arbor-planted-symlink-probe"
	// Not under /tmp, which the setup covers with a tmpfs of its own
	// before it makes the binds.
	victim := func() string {
		d, err := os.MkdirTemp("/var/tmp", "arbor-victim")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	for _, c := range []struct {
		name   string
		target string // where the planted link points
		file   bool   // the later bind is of a file
	}{
		{"to the first process's directory", "/proc/self/cwd", false},
		{"to a host directory", victim(), false},
		{"to a host directory, a file bind", victim(), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			binds, env, err := AppDirs(home, "org.example.App")
			if err != nil {
				t.Fatal(err)
			}
			data := filepath.Join(home, ".var/app/org.example.App/data")
			// What the app left behind in a run before.
			if err := os.Symlink(c.target, filepath.Join(data, "evil")); err != nil {
				t.Fatal(err)
			}
			src := t.TempDir()
			if c.file {
				src = filepath.Join(src, "f")
				if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dest := filepath.Join(data, "evil", name, "x")
			binds = append(binds, Bind{Source: src, Dest: dest})
			var out bytes.Buffer
			_, err = Run(context.Background(), Spec{Runtime: "/usr", Binds: binds, Env: env, Home: home,
				Args: []string{"true"}}, Stdio{Stdout: &out, Stderr: &out})
			if err == nil || !strings.Contains(err.Error(), "bind "+dest) || !strings.Contains(err.Error(), "symlink") {
				t.Errorf("a bind through a planted symlink: %v\n%s", err, out.String())
			}
			for _, dir := range []string{c.target, cwd, "/"} {
				if strings.HasPrefix(dir, "/proc/") {
					continue // the same as cwd here
				}
				if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
					os.RemoveAll(filepath.Join(dir, name))
					t.Errorf("the sandbox's setup made %s on the host", filepath.Join(dir, name))
				}
			}
		})
	}
}

// A runtime whose etc is a symlink does not have the setup list the
// directory it points to: only the runtime's own names become /etc links.
func TestRuntimeEtcSymlinkNotFollowed(t *testing.T) {
	testutil.Privileged(t)
	rt := filepath.Join(t.TempDir(), "runtime")
	testutil.HostRuntime(t, rt, "sh", "ls")
	hostDir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(hostDir, "host-only-name"), "x", 0o644)
	if err := os.Symlink(hostDir, filepath.Join(rt, "etc")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := Run(context.Background(), Spec{Runtime: rt, Args: []string{"ls", "-A", "/etc"},
		Env: []string{"PATH=/usr/bin"}}, Stdio{Stdout: &out, Stderr: &out})
	if err != nil || code != 0 || !strings.Contains(out.String(), "passwd") || strings.Contains(out.String(), "host-only-name") {
		t.Fatalf("/etc with the runtime's etc a symlink: %d, %v\n%s", code, err, out.String())
	}
}

// The runtime directory is the app's to write in (its sockets, dconf's
// and pulse's state), though the root is read-only, also with a socket
// bound into it.
func TestRuntimeDirIsWritable(t *testing.T) {
	testutil.Privileged(t)
	sock := filepath.Join(t.TempDir(), "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	run := boot.RuntimeDir(os.Getuid())
	code, out := sh(t, Spec{Binds: []Bind{{Source: sock, Dest: run + "/wayland-0", Writable: true}}},
		`mkdir "`+run+`/dconf" && touch "`+run+`/x" && [ -S "`+run+`/wayland-0" ] && ! touch /etc/x 2>/dev/null && echo ok`)
	if code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// A sandbox made in a cgroup is born there (clone3 with
// CLONE_INTO_CGROUP), its command too, with no move afterwards.
func TestStartsInItsCgroup(t *testing.T) {
	testutil.Privileged(t)
	dir, f, err := cgroup.Make("arbor-test-" + strconv.Itoa(os.Getpid()))
	if errors.Is(err, cgroup.ErrNone) && !testutil.HasCgroup2() {
		t.Skipf("the host has no cgroup v2 hierarchy: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer cgroup.Remove(dir)
	defer f.Close()
	spec := Spec{Runtime: "/usr", Args: []string{"cat", "/proc/self/cgroup"}, Env: []string{"PATH=/usr/bin:/bin"}}
	var out bytes.Buffer
	sb := New(context.Background(), NamespacesOf(spec), Stdio{Stdout: &out, Stderr: &out})
	defer sb.Close()
	sb.IntoCgroup(int(f.Fd()))
	if err := sb.Prepare(spec); err != nil {
		t.Fatal(err)
	}
	sb.Start()
	if !sb.InCgroup() {
		t.Error("the sandbox was not started in its cgroup")
	}
	if code, err := sb.Run(); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s", code, err, out.String())
	}
	// The command sees its cgroup namespace's root: its own cgroup.
	if !strings.Contains(out.String(), "0::/\n") {
		t.Errorf("the command's cgroups:\n%s", out.String())
	}
}
