package sandboxcli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

// buildRuntime makes a runtime tree from the host's own binaries and the
// libraries they load, laid out as a flatpak runtime's files/.
func buildRuntime(t *testing.T) string {
	t.Helper()
	rt := filepath.Join(t.TempDir(), "runtime")
	testutil.HostRuntime(t, rt, "sh", "cat", "ls", "id", "true")
	if err := os.MkdirAll(filepath.Join(rt, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	return rt
}

// buildApp makes an app tree whose bin/probe is built here.
func buildApp(t *testing.T) string {
	t.Helper()
	app := filepath.Join(t.TempDir(), "app")
	cmd := exec.Command("go", "build", "-o", filepath.Join(app, "bin", "probe"), "arbor/tests/sandboxcli/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	return app
}

func probe(t *testing.T, arbor, rt, app string, flags []string, checks ...string) map[string]string {
	t.Helper()
	args := append([]string{"sandbox", "--runtime=" + rt, "--app=" + app}, flags...)
	args = append(append(args, "--", "probe"), checks...)
	out, errOut, err := testutil.RunErr(arbor, args...)
	if err != nil {
		t.Fatalf("probe: %v\n%s%s", err, out, errOut)
	}
	res := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, rest, _ := strings.Cut(line, " ")
		res[name] = rest
	}
	return res
}

func TestProbeInBuiltRuntime(t *testing.T) {
	testutil.Privileged(t)
	arbor := testutil.BuildArbor(t)
	rt, app := buildRuntime(t), buildApp(t)
	addr := testutil.LoopbackServer(t, "")
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	granted := t.TempDir()
	if err := os.WriteFile(filepath.Join(granted, "f"), []byte("granted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	created := filepath.Join(t.TempDir(), "made")

	refused := map[string]string{ // probe -> the errno that must come back
		"write=/usr/x": "", "write=/app/x": "", "read=" + secret: "", "host-procs": "",
		"connect=" + addr: "", "userns": "operation not permitted", "mount": "operation not permitted",
		"ptrace": "operation not permitted", "af-packet": "address family not supported by protocol",
		"af-key": "address family not supported by protocol", "tiocsti": "operation not permitted",
		"io-uring": "operation not permitted",
	}
	var checks []string
	for c := range refused {
		checks = append(checks, c)
	}
	got := probe(t, arbor, rt, app, nil, checks...)
	for c, errno := range refused {
		name, _, _ := strings.Cut(c, "=")
		r := got[name]
		if !strings.HasPrefix(r, "refused") || errno != "" && !strings.Contains(r, errno) {
			t.Errorf("%s: %q, want refused %s", c, r, errno)
		}
	}

	// Granted: the network, a host directory read-only, a :create one.
	got = probe(t, arbor, rt, app, []string{"--share=network", "--filesystem=" + granted + ":ro",
		"--filesystem=" + created + ":create", "--allow=devel"},
		"connect="+addr, "read="+filepath.Join(granted, "f"), "write="+filepath.Join(created, "w"), "ptrace")
	for _, name := range []string{"connect", "read", "write", "ptrace"} {
		if got[name] != "ok" {
			t.Errorf("%s when granted: %q", name, got[name])
		}
	}
	if _, err := os.Stat(filepath.Join(created, "w")); err != nil {
		t.Errorf("the :create directory: %v", err)
	}
	got = probe(t, arbor, rt, app, []string{"--filesystem=" + granted + ":ro"}, "write="+filepath.Join(granted, "g"))
	if !strings.HasPrefix(got["write"], "refused") {
		t.Errorf("writing a read-only grant: %q", got["write"])
	}

	// The runtime's own binaries and libraries run as /usr.
	out := testutil.Run(t, arbor, "sandbox", "--runtime="+rt, "--", "sh", "-c", "id -u && cat /etc/passwd && ls /usr/bin")
	if !strings.Contains(out, ":x:") || !strings.Contains(out, "cat") {
		t.Errorf("a shell of the built runtime printed %q", out)
	}
}

// The kernel's control files and io_uring are out of reach through the
// CLI too, as root and as an unprivileged user (who gets a user
// namespace), with the network shared or not.
func TestProbeKernelAsRootAndUser(t *testing.T) {
	testutil.NeedRoot(t) // to run as both
	testutil.NeedTool(t, "setpriv")
	// Everything the unprivileged run uses, where that user can reach it.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		testutil.Must(t, os.Chmod(d, 0o755))
	}
	for _, name := range []string{"arbor", "arbor-full"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(testutil.BuildArbor(t)), name))
		testutil.Must(t, err)
		testutil.Must(t, os.WriteFile(filepath.Join(dir, name), b, 0o755))
	}
	arbor := filepath.Join(dir, "arbor")
	app := buildApp(t)
	for _, d := range []string{filepath.Dir(filepath.Dir(app)), filepath.Dir(app)} {
		testutil.Must(t, os.Chmod(d, 0o755))
	}
	refused := map[string]string{ // probe -> an errno that may come back; "" for any refusal
		"open-write=/proc/sys/kernel/core_pattern": "read-only file system|permission denied",
		"open-write=/proc/sys/net/ipv4/ip_forward": "read-only file system|permission denied",
		"content=/proc/interrupts":                 "empty",
		"io-uring":                                 "operation not permitted",
	}
	var checks []string
	for c := range refused {
		checks = append(checks, c)
	}
	for _, user := range []string{"root", "nobody"} {
		for _, flags := range [][]string{nil, {"--share=network"}} {
			args := append([]string{"sandbox", "--runtime=/usr", "--app=" + app}, flags...)
			args = append(append(args, "--", "probe"), checks...)
			name, argv := arbor, args
			if user == "nobody" {
				name, argv = "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", arbor}, args...)
			}
			out, errOut, err := testutil.RunErr(name, argv...)
			if err != nil {
				t.Fatalf("%s %v: %v\n%s%s", user, flags, err, out, errOut)
			}
			// A line per check, in order (two share the name open-write).
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != len(checks) {
				t.Fatalf("%s %v: %d lines for %d checks:\n%s", user, flags, len(lines), len(checks), out)
			}
			for i, c := range checks {
				errnos := refused[c]
				_, r, _ := strings.Cut(lines[i], " ")
				ok := strings.HasPrefix(r, "refused")
				if ok && errnos != "" {
					ok = slices.ContainsFunc(strings.Split(errnos, "|"), func(e string) bool { return strings.Contains(r, e) })
				}
				if !ok {
					t.Errorf("%s %v: %s: %q, want refused (%s)", user, flags, c, r, errnos)
				}
			}
		}
	}
}
