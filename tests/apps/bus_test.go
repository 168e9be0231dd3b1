package apps

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

// busProbe asks the bus, from inside the sandbox, what the app reaches:
// which names answer a call, which it may own, which it sees listed.
const busProbe = `#!/bin/sh
call() { if dbus-send --session --print-reply --reply-timeout=5000 --dest=$1 / org.arbor.Probe.Ping >/dev/null 2>&1; then echo "talk $1 yes"; else echo "talk $1 no"; fi; }
own() { if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.RequestName string:$1 uint32:4 2>/dev/null | grep -q "uint32 1"; then echo "own $1 yes"; else echo "own $1 no"; fi; }
for n in org.arbor.Allowed org.arbor.Denied org.arbor.Seen org.freedesktop.portal.Fake; do call $n; done
for n in org.test.Bus.Sub org.arbor.Extra org.arbor.Other; do own $n; done
names=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ListNames)
for n in org.arbor.Seen org.arbor.Denied org.arbor.Allowed; do case $names in *\"$n\"*) echo "see $n yes";; *) echo "see $n no";; esac; done
if dbus-send --session --print-reply --dest=org.freedesktop.portal.Desktop /org/freedesktop/portal/desktop org.freedesktop.portal.NetworkMonitor.GetAvailable 2>&1 | grep -q "not available inside the sandbox"; then echo "portal: sandboxed"; else echo "portal: not sandboxed"; fi
`

// An app's bus policy, run by arbor and by the real flatpak on the same
// session bus: through the filtering proxy both let the same names pass,
// and xdg-desktop-portal knows the app for a sandboxed one (its network
// monitor answers only apps with network access).
func TestBusPolicyAsFlatpak(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "xdg-dbus-proxy")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data")) // what the portals store, the test's own
	bus := testutil.StartBus(t, filepath.Join(dir, "bus"), "org.arbor.Allowed", "org.arbor.Denied", "org.arbor.Seen", "org.freedesktop.portal.Fake")
	bus.StartPortal(t)

	rt := filepath.Join(dir, "rt")
	testutil.WriteFile(t, filepath.Join(rt, "metadata"), "[Runtime]\nname=org.test.BusPlatform\nruntime=org.test.BusPlatform/x86_64/1.0\n", 0o644)
	testutil.HostRuntime(t, filepath.Join(rt, "usr"), "sh", "dbus-send", "grep")
	testutil.Must(t, os.MkdirAll(filepath.Join(rt, "files"), 0o755))
	app := filepath.Join(dir, "app")
	testutil.Run(t, arbor, "build-init", app, "org.test.Bus", "org.test.BusPlatform", "org.test.BusPlatform", "1.0")
	testutil.WriteFile(t, filepath.Join(app, "files/bin/probe"), busProbe, 0o755)
	testutil.Run(t, arbor, "build-finish", app, "--command=probe", "--talk-name=org.arbor.Allowed", "--own-name=org.arbor.Extra")
	// "see" has no option in flatpak's build-finish: it is written by hand.
	md := testutil.ReadFile(t, filepath.Join(app, "metadata"))
	if !strings.Contains(md, "[Session Bus Policy]\n") || !strings.Contains(md, "org.arbor.Allowed=talk") {
		t.Fatalf("build-finish wrote no bus policy:\n%s", md)
	}
	testutil.WriteFile(t, filepath.Join(app, "metadata"), strings.Replace(md, "[Session Bus Policy]\n", "[Session Bus Policy]\norg.arbor.Seen=see\n", 1), 0o644)
	srv := publishBuilt(t, arbor, dir, rt, app)

	inst := newInstallation(t, arbor, dir, "inst", srv.URL)
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "org.test.Bus")
	cmd := exec.Command(arbor, "--repo="+inst, "run", "org.test.Bus")
	cmd.Env = bus.Env(os.Environ())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("arbor run: %v\n%s%s", err, out, stderr.String())
	}
	got := string(out)
	want := `talk org.arbor.Allowed yes
talk org.arbor.Denied no
talk org.arbor.Seen no
talk org.freedesktop.portal.Fake yes
own org.test.Bus.Sub yes
own org.arbor.Extra yes
own org.arbor.Other no
see org.arbor.Seen yes
see org.arbor.Denied no
see org.arbor.Allowed yes
portal: sandboxed
`
	if got != want {
		t.Errorf("arbor run: the app reached\n%s\nwant\n%s", got, want)
	}
	if bus.Owned("org.arbor.Other") {
		t.Error("the app owns org.arbor.Other on the host's bus")
	}

	fp := newFlatpak(t, dir)
	fp.env = bus.Env(fp.env)
	fp.run(t, "remote-add", "--user", "--no-gpg-verify", "origin", srv.URL)
	fp.run(t, "install", "--user", "-y", "--noninteractive", "origin", "app/org.test.Bus/x86_64/1.0")
	if fout := fp.run(t, "run", "org.test.Bus"); fout != got {
		t.Errorf("flatpak run: the app reached\n%s\narbor's reached\n%s", fout, got)
	}
}
