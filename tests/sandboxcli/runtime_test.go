package sandboxcli

import (
	"os"
	"os/exec"
	"path/filepath"
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
