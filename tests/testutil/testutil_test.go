package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// recorder catches Skip/Fatal calls so the gating helpers can be tested
// without ending the real test. Those helpers stop via runtime.Goexit in a
// real T; here they just return, which is all the tests need.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skipf(f string, a ...any)       { r.skipped = fmt.Sprintf(f, a...) }
func (r *recorder) Fatalf(f string, a ...any)      { r.failed = fmt.Sprintf(f, a...) }
func (r *recorder) Skip(a ...any)                  { r.skipped = fmt.Sprint(a...) }
func (r *recorder) Fatal(a ...any)                 { r.failed = fmt.Sprint(a...) }
func (r *recorder) Logf(f string, a ...any)        {}
func (r *recorder) Errorf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

func TestGating(t *testing.T) {
	const missing = "arbor-no-such-tool-xyz"
	t.Setenv(PrivilegedEnv, "")
	r := &recorder{TB: t}
	Privileged(r)
	NeedTool(r, missing)
	if r.skipped == "" || r.failed != "" {
		t.Errorf("unprivileged: skipped=%q failed=%q, want a skip", r.skipped, r.failed)
	}

	t.Setenv(PrivilegedEnv, "1")
	r = &recorder{TB: t}
	Privileged(r)
	NeedTool(r, "sh")
	if r.skipped != "" || r.failed != "" {
		t.Errorf("privileged with sh: skipped=%q failed=%q", r.skipped, r.failed)
	}
	NeedTool(r, missing)
	if !strings.Contains(r.failed, missing) {
		t.Errorf("privileged, missing tool: failed=%q, want a failure naming it", r.failed)
	}
}

func TestRun(t *testing.T) {
	if got := Run(t, "sh", "-c", "printf out; printf err >&2"); got != "out" {
		t.Errorf("Run stdout %q", got)
	}
	out, errOut, err := RunErr("sh", "-c", "echo o; echo e >&2; exit 3")
	if err == nil || out != "o\n" || errOut != "e\n" || !strings.Contains(err.Error(), "exit 3'") {
		t.Errorf("RunErr: %q %q %v", out, errOut, err)
	}
	r := &recorder{TB: t}
	Run(r, "sh", "-c", "echo visible >&2; false")
	if !strings.Contains(r.failed, "visible") || !strings.Contains(r.failed, "sh -c") {
		t.Errorf("Run failure message lacks command or stderr: %q", r.failed)
	}
	if got := CommandLine("ostree", "--repo=/r", "a b", "it's", ""); got != `ostree --repo=/r 'a b' 'it'\''s' ''` {
		t.Errorf("CommandLine: %s", got)
	}
}

func TestDiff(t *testing.T) {
	a := "l1\nl2\nl3\nl4\n"
	if d := Diff(a, a); d != "" {
		t.Errorf("Diff of equal: %q", d)
	}
	d := Diff(a, "l1\nL2\nl3\nl4\nl5\n")
	for _, want := range []string{"\n-l2\n", "\n+L2\n", "\n+l5\n"} {
		if !strings.Contains(d, want) {
			t.Errorf("Diff lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "l1") || strings.Contains(d, "l3") {
		t.Errorf("Diff shows unchanged lines:\n%s", d)
	}
	var big strings.Builder
	for i := range 100 {
		fmt.Fprintf(&big, "x%d\n", i)
	}
	d = Diff("", big.String())
	if n := strings.Count(d, "\n+x"); n != DiffLimit || !strings.Contains(d, "60 more") {
		t.Errorf("Diff not capped at %d lines (%d):\n%s", DiffLimit, n, d)
	}
}

func TestManifestOrderAndTypes(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/x", "a b", "a-b", "B"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a b", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	m, err := ManifestWith(dir, ManifestOpts{IgnoreOwner: true})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, l := range strings.Split(strings.TrimSpace(m), "\n") {
		p, err := strconv.QuotedPrefix(l)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		paths = append(paths, p)
	}
	// Byte order over whole paths: ' ' < '-' < '/' and 'B' < 'a'.
	want := `"." "B" "a" "a b" "a-b" "a/x" "l"`
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("order %s, want %s\n%s", got, want, m)
	}
	if !strings.Contains(m, `"l" symlink mode=0120777 target="a b"`) || strings.Contains(m, "uid=") {
		t.Errorf("unexpected manifest:\n%s", m)
	}
	if _, err := Manifest(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Manifest of a missing dir: %v", err)
	}
}

// TestBuildArbor only runs once cmd/arbor exists; it checks the binary is
// built once and reused.
func TestBuildArbor(t *testing.T) {
	if _, err := os.Stat("../../cmd/arbor"); err != nil {
		t.Skip("cmd/arbor not present yet")
	}
	a := BuildArbor(t)
	if fi, err := os.Stat(a); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("built binary %s: %v", a, err)
	}
	if b := BuildArbor(t); b != a {
		t.Errorf("second BuildArbor built again: %s != %s", b, a)
	}
}
