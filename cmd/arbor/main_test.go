package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinksNoStore keeps the start path small: what arbor links is paid
// at every app start, so the object store and the rest stay in arbor-full.
func TestLinksNoStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "arbor/cmd/arbor").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	if !deps["arbor/sandbox"] || !deps["arbor/deploy/flatpak"] {
		t.Fatalf("arbor does not link the sandbox and installations any more: %v", strings.Fields(string(out)))
	}
	// libseccomp too: arbor is built without cgo (a static binary, no
	// dynamic loader at start), the sandbox's seccomp programs compiled
	// ahead of time.
	for _, heavy := range []string{"arbor/store", "arbor/fetch", "arbor/fs", "arbor/mountd", "arbor/sandbox/rules",
		"github.com/dgraph-io/badger/v4", "github.com/hanwen/go-fuse/v2/fuse", "github.com/ProtonMail/go-crypto/openpgp", "net/http",
		"github.com/seccomp/libseccomp-golang"} {
		if deps[heavy] {
			t.Errorf("arbor links %s, which belongs in arbor-full", heavy)
		}
	}
}

// TestWithoutFull: a command arbor hands on fails clearly when arbor-full
// is nowhere to be found.
func TestWithoutFull(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "arbor")
	build := exec.Command("go", "build", "-o", bin, "arbor/cmd/arbor")
	build.Env = append(build.Environ(), "CGO_ENABLED=0") // as make builds it
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--repo="+dir, "refs")
	cmd.Env = []string{"PATH=" + dir}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "arbor-full") {
		t.Fatalf("arbor refs without arbor-full: %v\n%s", err, out)
	}
}
