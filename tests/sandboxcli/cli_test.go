// Package sandboxcli tests `arbor sandbox` as a user runs it.
package sandboxcli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"arbor/tests/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.Cleanup()
	os.Exit(code)
}

// A command whose name begins with '-' is run, never read as an option
// (CVE-2024-32462 in flatpak).
func TestDashCommandIsACommand(t *testing.T) {
	testutil.Privileged(t)
	arbor := testutil.BuildArbor(t)
	app := t.TempDir()
	if err := os.MkdirAll(filepath.Join(app, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "bin", "--version"), []byte("#!/bin/sh\necho ran the app\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := testutil.Run(t, arbor, "sandbox", "--runtime=/usr", "--app="+app, "--", "--version")
	if !strings.Contains(out, "ran the app") {
		t.Fatalf("arbor sandbox -- --version printed %q", out)
	}
	_, errOut, err := testutil.RunErr(arbor, "sandbox", "--runtime=/usr", "--", "-rf")
	if err == nil || !strings.Contains(errOut, "-rf: command not found") {
		t.Fatalf("arbor sandbox -- -rf: %v, %s", err, errOut)
	}
	// The command's exit status is arbor's.
	_, _, err = testutil.RunErr(arbor, "sandbox", "--runtime=/usr", "--", "sh", "-c", "exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("exit status: %v", err)
	}
}

// The sandbox dies with the arbor that started it.
func TestSandboxDiesWithItsParent(t *testing.T) {
	testutil.Privileged(t)
	arbor := testutil.BuildArbor(t)
	secs := strconv.Itoa(2000000 + os.Getpid()) // tells this sleep from others
	cmd := exec.Command(arbor, "sandbox", "--runtime=/usr", "--", "sleep", secs)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The sandboxed sleep, as the host sees it: argv[0] is sleep itself
	// (arbor's own command line holds the same words).
	found := func() bool {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			args := strings.Split(string(b), "\x00")
			if len(args) >= 2 && filepath.Base(args[0]) == "sleep" && args[1] == secs {
				return true
			}
		}
		return false
	}
	for i := 0; !found(); i++ {
		if i > 600 {
			cmd.Process.Kill()
			t.Fatal("the sandboxed command did not start")
		}
		time.Sleep(25 * time.Millisecond)
	}
	cmd.Process.Kill() // SIGKILL: no chance to clean up
	cmd.Wait()
	for i := 0; found(); i++ {
		if i > 600 {
			t.Fatal("the sandboxed command outlived arbor")
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// A persistent path that climbs out of ~/.var/app/ID is refused, from the
// command line and from metadata alike, with the value named, before
// anything is made.
func TestPersistMustStayInTheAppDir(t *testing.T) {
	testutil.Privileged(t)
	arbor := testutil.BuildArbor(t)
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	metadata := filepath.Join(t.TempDir(), "metadata")
	for _, bad := range []string{"../../X", "../x", "/etc", "a/../../x"} {
		testutil.WriteFile(t, metadata, "[Context]\npersistent="+bad+";\n", 0o644)
		for _, flag := range []string{"--persist=" + bad, "--metadata=" + metadata} {
			cmd := exec.Command(arbor, "sandbox", "--runtime=/usr", "--app-id=org.example.App", flag, "--", "true")
			cmd.Env = append(os.Environ(), "HOME="+home)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "persistent="+bad) {
				t.Errorf("%s: %v\n%s", flag, err, out)
			}
		}
	}
	for _, p := range []string{filepath.Join(home, ".var/X"), filepath.Join(home, ".var/app/x"), filepath.Dir(home) + "/X", "/X"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was made", p)
		}
	}
}
