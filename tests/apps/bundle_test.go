package apps

import (
	"path/filepath"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

// A bundle flatpak wrote installs as flatpak installs it: from a remote
// named after the app, its runtime from the remote that has it, and it
// runs. One that carries keys installs only with a commit they signed.
func TestInstallBundle(t *testing.T) {
	arbor, dir, p, inst := publishAndInstallation(t)
	testutil.NeedTool(t, "flatpak")
	run := onRepo(t, arbor, inst)
	bundle := filepath.Join(dir, "hello.flatpak")
	testutil.Run(t, "flatpak", "build-bundle", p.repo, bundle, "org.example.Hello", "1.0")
	run("install", "-y", bundle)
	if out := run("list", "--columns=application,origin"); !strings.Contains(out, "org.example.Hello\torg.example.Hello-origin") || !strings.Contains(out, "org.example.Platform\torigin") {
		t.Errorf("list after installing the bundle:\n%s", out)
	}
	if out := run("run", "org.example.Hello"); !strings.HasPrefix(out, "hello, world") {
		t.Errorf("the bundle's app says %q", out)
	}
	_, stderr, err := testutil.RunErr(arbor, "--repo="+inst, "install", "-y", "--bundle", bundle)
	if err != nil || !strings.Contains(stderr, "Skipping: app/org.example.Hello/x86_64/1.0 is already installed") {
		t.Errorf("installing the bundle again: %v, %q", err, stderr)
	}

	// Keys in a bundle are the origin's: its commit must be signed by
	// them. This one is not, and nothing is installed.
	key := testutil.NewGPGKey(t, "Bundle Publisher")
	keyed := filepath.Join(dir, "keyed.flatpak")
	testutil.Run(t, "flatpak", "build-bundle", "--gpg-keys="+key.Public, p.repo, keyed, "org.example.Hello", "1.0")
	other := newInstallation(t, arbor, dir, "other", p.srv.URL)
	_, stderr, err = testutil.RunErr(arbor, "--repo="+other, "install", "-y", "--no-deps", keyed)
	if err == nil || !strings.Contains(stderr, "signature") {
		t.Errorf("a keyed bundle of an unsigned commit: %v, %q", err, stderr)
	}
	if out := testutil.Run(t, arbor, "--repo="+other, "list"); strings.Contains(out, "org.example.Hello") {
		t.Errorf("the refused bundle is listed:\n%s", out)
	}
	if out := testutil.Run(t, arbor, "--repo="+other, "remotes"); strings.Contains(out, "org.example.Hello-origin") {
		t.Errorf("the refused bundle left its remote:\n%s", out)
	}
	// Signed by them, it installs.
	signed := publishApps(t, arbor, filepath.Join(dir, "signed"), &key)
	sb := filepath.Join(dir, "signed.flatpak")
	testutil.Run(t, "flatpak", "build-bundle", "--gpg-keys="+key.Public, "--gpg-sign="+key.ID, "--gpg-homedir="+key.Home, signed.repo, sb, "org.example.Hello", "1.0")
	testutil.Run(t, arbor, "--repo="+other, "install", "-y", "--no-deps", sb)
	if out := testutil.Run(t, arbor, "--repo="+other, "list", "--columns=application,origin"); !strings.Contains(out, "org.example.Hello\torg.example.Hello-origin") {
		t.Errorf("list after the signed bundle:\n%s", out)
	}
}
