package apps

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

// arbor's permission-* and flatpak's talk to the same permission store:
// what one sets, the other shows, and removes.
func TestPermissionStore(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "flatpak")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	// The store the bus starts keeps its tables in XDG_DATA_HOME: the
	// test's own.
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	bus := testutil.StartBus(t, filepath.Join(dir, "bus"))
	env := bus.Env(os.Environ())
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(arbor, "permission-set", "notifications", "notification", "org.example.Hello", "yes")
	if out := run("flatpak", "permission-show", "org.example.Hello"); !strings.Contains(out, "notifications") || !strings.Contains(out, "yes") {
		t.Errorf("flatpak permission-show after arbor's permission-set:\n%s", out)
	}
	run("flatpak", "permission-set", "devices", "camera", "org.example.Other", "no")
	if out := run(arbor, "permission-list"); !strings.Contains(out, "devices\tcamera\torg.example.Other\tno\t") ||
		!strings.Contains(out, "notifications\tnotification\torg.example.Hello\tyes\t") {
		t.Errorf("arbor permission-list:\n%s", out)
	}
	if out := run(arbor, "permission-show", "org.example.Other"); !strings.HasPrefix(out, "devices\tcamera\torg.example.Other\tno\t") || strings.Count(out, "\n") != 1 {
		t.Errorf("arbor permission-show: %q", out)
	}
	run(arbor, "permission-reset", "org.example.Hello")
	if out := run("flatpak", "permission-show", "org.example.Hello"); strings.Contains(out, "notification") {
		t.Errorf("flatpak permission-show after arbor's permission-reset:\n%s", out)
	}
	run(arbor, "permission-remove", "devices", "camera")
	if out := run(arbor, "permission-list", "devices"); out != "" {
		t.Errorf("arbor permission-list devices after permission-remove: %q", out)
	}
}
