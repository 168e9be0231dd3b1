package apps

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arbor/mountd"
	"arbor/tests/nginx"
	"arbor/tests/testutil"
)

// Permissions end to end, on an installed app: without network it cannot
// reach a loopback server, with --share=network or an override it can; and
// a commit whose xa.metadata (what the user is shown) differs from its
// tree's metadata file (what would run) is refused at install.
func TestAppPermissions(t *testing.T) {
	testutil.Privileged(t)
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()

	rt := filepath.Join(dir, "rt")
	testutil.WriteFile(t, filepath.Join(rt, "metadata"), "[Runtime]\nname=org.test.Base\nruntime=org.test.Base/x86_64/1\n", 0o644)
	testutil.HostRuntime(t, filepath.Join(rt, "usr"), "sh")
	app := filepath.Join(dir, "app")
	testutil.Run(t, arbor, "build-init", app, "org.test.Probe", "org.test.Base", "org.test.Base", "1")
	build := exec.Command("go", "build", "-o", filepath.Join(app, "files/bin/probe"), "arbor/tests/sandboxcli/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	testutil.Run(t, arbor, "build-finish", app, "--command=probe")

	// The hostile commit: its tree's metadata grants the host's files,
	// its xa.metadata (copied from the honest app) grants nothing.
	evil := filepath.Join(dir, "evil")
	honest, err := os.ReadFile(filepath.Join(app, "metadata"))
	testutil.Must(t, err)
	testutil.WriteFile(t, filepath.Join(evil, "metadata"), strings.Replace(string(honest), "org.test.Probe", "org.test.Evil", 1)+"\n[Context]\nfilesystems=host;\n", 0o644)
	testutil.WriteFile(t, filepath.Join(evil, "files/bin/probe"), "#!/bin/sh\necho pwned\n", 0o755)

	repo := filepath.Join(dir, "repo")
	testutil.Run(t, arbor, "--repo="+repo, "init", "--mode=archive")
	testutil.Run(t, arbor, "build-export", "--runtime", repo, rt, "1")
	testutil.Run(t, arbor, "build-export", repo, app, "1")
	testutil.Run(t, arbor, "--repo="+repo, "commit", "-b", "app/org.test.Evil/x86_64/1", "--tree=dir="+evil,
		"--add-metadata-string=xa.metadata="+strings.Replace(string(honest), "org.test.Probe", "org.test.Evil", 1),
		"--add-metadata-string=xa.ref=app/org.test.Evil/x86_64/1")
	testutil.Run(t, arbor, "build-update-repo", repo)
	srv, err := nginx.Start(filepath.Join(dir, "nginx"), repo)
	testutil.Must(t, err)
	t.Cleanup(srv.Stop)

	inst := filepath.Join(dir, "inst", "repo")
	testutil.Run(t, arbor, "--repo="+inst, "init", "--mode=bare-user")
	t.Cleanup(func() { mountd.Stop(inst, 10*time.Second) })
	testutil.Run(t, arbor, "--repo="+inst, "remote", "add", "--no-gpg-verify", "origin", srv.URL)
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "org.test.Probe")

	addr := testutil.LoopbackServer(t, "hi")
	connect := func(flags ...string) string {
		t.Helper()
		args := append(append([]string{"--repo=" + inst, "run"}, flags...), "org.test.Probe", "connect="+addr)
		return strings.TrimSpace(testutil.Run(t, arbor, args...))
	}
	if out := connect(); !strings.HasPrefix(out, "connect refused") {
		t.Errorf("without network the app's connect: %q", out)
	}
	if out := connect("--share=network"); out != "connect ok" {
		t.Errorf("with --share=network the app's connect: %q", out)
	}
	testutil.Run(t, arbor, "--repo="+inst, "override", "org.test.Probe", "--share=network")
	if out := connect(); out != "connect ok" {
		t.Errorf("with the network override the app's connect: %q", out)
	}
	testutil.Run(t, arbor, "--repo="+inst, "override", "org.test.Probe", "--unshare=network")
	if out := connect(); !strings.HasPrefix(out, "connect refused") {
		t.Errorf("with the override unsharing network again the app's connect: %q", out)
	}

	_, errOut, err := testutil.RunErr(arbor, "--repo="+inst, "install", "-y", "origin", "org.test.Evil")
	if err == nil || !strings.Contains(errOut, "app/org.test.Evil/x86_64/1") || !strings.Contains(errOut, "differs from the commit's xa.metadata") {
		t.Fatalf("installing a commit whose metadata file differs from xa.metadata: %v\n%s", err, errOut)
	}
	if list := testutil.Run(t, arbor, "--repo="+inst, "list"); strings.Contains(list, "org.test.Evil") {
		t.Errorf("the refused app is listed:\n%s", list)
	}
	if _, err := os.Stat(filepath.Join(dir, "inst/app/org.test.Evil")); err == nil {
		t.Errorf("the refused app left a deployment directory")
	}
}
