package sandboxcli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

// Bus policies from a metadata file and the command line, on the session
// and the system bus, through the proxy; and the lines flatpak refuses or
// drops.
func TestBusPolicy(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "xdg-dbus-proxy")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	session := testutil.StartBus(t, filepath.Join(dir, "session"), "org.arbor.Allowed", "org.arbor.Denied")
	testutil.StartBus(t, filepath.Join(dir, "system"), "org.arbor.SysAllowed", "org.arbor.SysDenied")
	// The system bus's address goes through a link, as the usual
	// /var/run/dbus/... does: the proxy's bind takes the link's target.
	testutil.Must(t, os.Symlink(filepath.Join(dir, "system"), filepath.Join(dir, "system-link")))
	env := append(session.Env(os.Environ()), "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+filepath.Join(dir, "system-link", "bus"))
	md := filepath.Join(dir, "metadata")
	testutil.WriteFile(t, md, "[Application]\nname=org.test.App\n\n[Session Bus Policy]\norg.arbor.Allowed=talk\norg.arbor.Denied=talkative\n", 0o644)
	call := func(bus, name string) string {
		return `if dbus-send --` + bus + ` --print-reply --reply-timeout=5000 --dest=` + name + ` / org.arbor.Probe.Ping >/dev/null 2>&1; then echo "` + name + ` yes"; else echo "` + name + ` no"; fi; `
	}
	probe := call("session", "org.arbor.Allowed") + call("session", "org.arbor.Denied") + call("system", "org.arbor.SysAllowed") + call("system", "org.arbor.SysDenied") +
		`echo "session=$DBUS_SESSION_BUS_ADDRESS"; if [ -e /run/dbus/system_bus_socket ]; then echo "system socket"; fi`
	run := func(flags ...string) (string, string, error) {
		args := append(append([]string{"sandbox", "--runtime=/usr", "--app-id=org.test.App", "--metadata=" + md}, flags...), "--", "sh", "-c", probe)
		cmd := exec.Command(arbor, args...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		return string(out), stderr.String(), err
	}
	for _, c := range []struct {
		name  string
		flags []string
		want  []string
	}{
		{"metadata", nil, []string{"org.arbor.Allowed yes", "org.arbor.Denied no", "org.arbor.SysAllowed no",
			"session=unix:path=/run/flatpak/bus"}},
		{"taken away on the command line", []string{"--no-talk-name=org.arbor.Allowed"}, []string{"org.arbor.Allowed no"}},
		{"the system bus", []string{"--system-talk-name=org.arbor.SysAllowed"}, []string{"org.arbor.SysAllowed yes", "org.arbor.SysDenied no", "system socket"}},
		{"the whole session bus", []string{"--socket=session-bus"}, []string{"org.arbor.Denied yes"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, err := run(c.flags...)
			if err != nil {
				t.Fatalf("%v\n%s%s", err, out, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w+"\n") {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
			if c.flags == nil && strings.Contains(out, "system socket") {
				t.Errorf("a system bus without a policy for it:\n%s", out)
			}
			// A level flatpak does not know drops the line, named.
			if !strings.Contains(errOut, "org.arbor.Denied=talkative") {
				t.Errorf("no warning naming the dropped line:\n%s", errOut)
			}
		})
	}
	// A name that is not a bus name refuses the file, as flatpak does.
	testutil.WriteFile(t, md, "[Application]\nname=org.test.App\n\n[Session Bus Policy]\n:1.4=talk\n", 0o644)
	if _, errOut, err := run(); err == nil || !strings.Contains(errOut, `invalid D-Bus name ":1.4"`) {
		t.Errorf("a unique name in the policy: %v\n%s", err, errOut)
	}
	testutil.WriteFile(t, md, "[Application]\nname=org.test.App\n", 0o644)
	if _, errOut, err := run("--talk-name=org"); err == nil || !strings.Contains(errOut, "--talk-name=org") {
		t.Errorf("--talk-name=org: %v\n%s", err, errOut)
	}
}

// A portal knows a sandboxed command by its bus proxy's /.flatpak-info,
// permissions included: its network monitor answers only with network.
func TestPortalSeesThePermissions(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "xdg-dbus-proxy")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data")) // what the portals store, the test's own
	bus := testutil.StartBus(t, filepath.Join(dir, "bus"))
	bus.StartPortal(t)
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{nil, "not available inside the sandbox"},
		{[]string{"--share=network"}, "boolean true"},
	} {
		args := append(append([]string{"sandbox", "--runtime=/usr", "--app-id=org.test.App"}, c.flags...), "--", "dbus-send", "--session", "--print-reply",
			"--dest=org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop", "org.freedesktop.portal.NetworkMonitor.GetAvailable")
		cmd := exec.Command(arbor, args...)
		cmd.Env = bus.Env(os.Environ())
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%v: the network monitor answered\n%s\nwant %q", c.flags, out, c.want)
		}
	}
}

// A file given to an app through the document portal (flatpak
// document-export) is at /run/flatpak/doc/ID/ in its sandbox, as under
// flatpak; another app sees none of it, and the host's copy stays
// hidden.
func TestDocumentPortal(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "flatpak")
	testutil.NeedTool(t, "fusermount3")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	runtimeDir := filepath.Join(dir, "run")
	testutil.Must(t, os.MkdirAll(runtimeDir, 0o700))
	// The permission store, which the bus starts for the portal, keeps
	// the documents in XDG_DATA_HOME: the test's own.
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	bus := testutil.StartBus(t, filepath.Join(dir, "bus"))
	bus.StartDocumentPortal(t, runtimeDir)
	env := append(bus.Env(os.Environ()), "XDG_RUNTIME_DIR="+runtimeDir)
	shared := filepath.Join(dir, "shared.txt")
	testutil.WriteFile(t, shared, "given to the app\n", 0o644)
	exp := exec.Command("flatpak", "document-export", "--app=org.test.App", shared)
	exp.Env = env
	out, err := exp.Output()
	if err != nil {
		t.Fatalf("flatpak document-export: %v", err)
	}
	docPath := strings.TrimSpace(string(out)) // RUNTIME/doc/ID/shared.txt
	id := filepath.Base(filepath.Dir(docPath))
	sh := func(app, script string) string {
		cmd := exec.Command(arbor, "sandbox", "--runtime=/usr", "--app-id="+app, "--", "sh", "-c", script)
		cmd.Env = env
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	got := sh("org.test.App", `cat /run/flatpak/doc/`+id+`/shared.txt; ls /run/flatpak/doc; ls "$XDG_RUNTIME_DIR/doc"; cat `+shared+` || echo "host copy hidden"`)
	if want := "given to the app\n" + id + "\n" + id + "\n"; !strings.HasPrefix(got, want) || !strings.Contains(got, "host copy hidden") {
		t.Errorf("the app saw\n%s\nwant %q and the host copy hidden", got, want)
	}
	if got := sh("org.test.Other", `ls /run/flatpak/doc; cat /run/flatpak/doc/`+id+`/shared.txt || echo "not given"`); strings.Contains(got, "given to the app") || !strings.Contains(got, "not given") {
		t.Errorf("another app saw\n%s", got)
	}
}

// A session's bus address left in a shell whose bus is gone: the app
// runs, without a bus, rather than not at all.
func TestStaleBusAddress(t *testing.T) {
	testutil.Privileged(t)
	arbor := testutil.BuildArbor(t)
	cmd := exec.Command(arbor, "sandbox", "--runtime=/usr", "--app-id=org.test.App", "--", "sh", "-c", `echo "bus=$DBUS_SESSION_BUS_ADDRESS"`)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "gone"))
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "bus=" {
		t.Fatalf("%v: %s", err, out)
	}
}
