// Package testutil holds helpers shared by arbor's interop and integration
// tests: gating on privilege and tools, running commands, and describing
// trees so checkouts can be compared.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// PrivilegedEnv, when non-empty, says the environment (CI) can run tests
// needing root, FUSE or namespaces, and that missing tools are errors.
const PrivilegedEnv = "ARBOR_TEST_PRIVILEGED"

func privileged() bool { return os.Getenv(PrivilegedEnv) != "" }

// Privileged skips t unless ARBOR_TEST_PRIVILEGED is set.
func Privileged(t testing.TB) {
	t.Helper()
	if !privileged() {
		t.Skipf("needs privileges; set %s=1 to run", PrivilegedEnv)
	}
}

// NeedRoot skips a test that needs root, but only where privileged tests
// may be skipped: with PrivilegedEnv set (CI), not being root fails it.
func NeedRoot(t testing.TB) {
	t.Helper()
	Privileged(t)
	if os.Geteuid() != 0 {
		t.Fatalf("needs root (%s is set, but this runs as uid %d)", PrivilegedEnv, os.Geteuid())
	}
}

// NeedTool skips t if the binary name is not on PATH, but fails it in
// privileged runs so CI can never pass by silently skipping.
func NeedTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if privileged() {
			t.Fatalf("required tool %s missing (%s is set): %v", name, PrivilegedEnv, err)
		}
		t.Skipf("tool %s not found: %v", name, err)
	}
}

// RunErr runs name with args and returns its stdout and stderr; err is
// non-nil if it could not start or exited non-zero.
func RunErr(name string, args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s: %w", CommandLine(name, args...), err)
	}
	return o.String(), e.String(), err
}

// Run runs name with args and returns stdout, failing t with the command
// line and both outputs if it does not succeed.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, errOut, err := RunErr(name, args...)
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	return out
}

// CommandLine renders a command shell-style, quoting only where needed, so
// failures can be pasted into a terminal.
func CommandLine(name string, args ...string) string {
	parts := make([]string, 0, 1+len(args))
	for _, a := range append([]string{name}, args...) {
		if a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// The arbor binary is built once per test binary: go build costs seconds.
var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// BuildArbor builds arbor/cmd/arbor into a temporary directory the first
// time it is called and returns the binary's path. Call Cleanup from
// TestMain to remove it.
func BuildArbor(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("go toolchain not on PATH: %w", err)
			return
		}
		// Not t.TempDir: that would vanish when the first caller finishes.
		buildDir, err = os.MkdirTemp("", "arbor-bin-")
		if err != nil {
			buildErr = fmt.Errorf("mkdir temp for arbor binary: %w", err)
			return
		}
		buildBin = filepath.Join(buildDir, "arbor")
		// arbor's other commands and arbord go beside arbor, where it
		// looks.
		for _, cmd := range []string{"arbor", "arbor-full", "arbord", "arbor-unxz"} {
			out, errOut, err := RunErr(goBin, "build", "-o", filepath.Join(buildDir, cmd), "arbor/cmd/"+cmd)
			if err != nil {
				buildErr = fmt.Errorf("%w\n%s%s", err, out, errOut)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building arbor: %v", buildErr)
	}
	return buildBin
}

// Cleanup removes what BuildArbor built; safe to call if it never ran.
func Cleanup() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir) // best effort: it is a temp dir
	}
}

// Must stops the test at an error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WriteFile writes a file, making its directory.
func WriteFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	Must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	Must(t, os.WriteFile(path, []byte(content), mode))
}

// ReadFile reads a file, stopping the test when it cannot.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	Must(t, err)
	return string(b)
}

// TerminalControl finds, in a command's output, what a terminal would act
// on: C0 controls but tab and newline, DEL, C1 controls, bidirectional
// overrides and isolates, and invalid UTF-8.
func TerminalControl(s string) (rune, bool) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return rune(s[i]), true
		case r < 0x20 && r != '\n' && r != '\t', r >= 0x7f && r <= 0x9f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return r, true
		}
		i += n
	}
	return 0, false
}

// MountOptions are the per-mount options (ro, nosuid, ...) of the mount at
// mp in /proc/self/mountinfo.
func MountOptions(t testing.TB, mp string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	Must(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == mp {
			return f[5]
		}
	}
	t.Fatalf("%s is not mounted", mp)
	return ""
}
