package apps

import (
	"encoding/base64"
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

// flatpakTool runs the real flatpak with its per-user installation, home
// and runtime directory inside the test's directory.
type flatpakTool struct{ env []string }

func newFlatpak(t *testing.T, dir string) *flatpakTool {
	t.Helper()
	testutil.NeedTool(t, "flatpak")
	home := filepath.Join(dir, "fp-home")
	run := filepath.Join(dir, "fp-run")
	for _, d := range []string{home, run} {
		testutil.Must(t, os.MkdirAll(d, 0o700))
	}
	return &flatpakTool{env: append(os.Environ(), "FLATPAK_USER_DIR="+filepath.Join(dir, "fp-user"), "HOME="+home,
		"XDG_RUNTIME_DIR="+run, "XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))}
}

func (f *flatpakTool) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("flatpak", args...)
	cmd.Env = f.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("flatpak %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// A runtime and an app made by the real flatpak tools (build-init, build,
// build-finish, build-export, build-update-repo, all signed), published in
// two repositories: arbor installs the app from a .flatpakref that names
// the runtime's repository as RuntimeRepo, and runs it.
func TestFlatpakMadeAppsInstallAndRun(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "gpg")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	fp := newFlatpak(t, dir)
	key := testutil.NewGPGKey(t, "Flatpak Publisher")
	sign := []string{"--gpg-sign=" + key.ID, "--gpg-homedir=" + key.Home}
	pub := filepath.Join(dir, "pub")
	rtRepo, appRepo := filepath.Join(pub, "runtimes"), filepath.Join(pub, "apps")
	testutil.Must(t, os.MkdirAll(pub, 0o755))

	rt := filepath.Join(dir, "rt")
	testutil.WriteFile(t, filepath.Join(rt, "metadata"), "[Runtime]\nname=org.test.Platform\nruntime=org.test.Platform/x86_64/1.0\nsdk=org.test.Platform/x86_64/1.0\n", 0o644)
	testutil.HostRuntime(t, filepath.Join(rt, "usr"), "sh", "mkdir", "chmod")
	testutil.Must(t, os.MkdirAll(filepath.Join(rt, "files"), 0o755))
	fp.run(t, append([]string{"build-export", "--runtime"}, append(sign, rtRepo, rt, "1.0")...)...)
	fp.run(t, append([]string{"build-update-repo"}, append(sign, rtRepo)...)...)
	// flatpak builds against an installed SDK: this runtime names itself.
	fp.run(t, "remote-add", "--user", "--gpg-import="+key.Public, "runtimes", rtRepo)
	fp.run(t, "install", "--user", "-y", "--noninteractive", "runtimes", "runtime/org.test.Platform/x86_64/1.0")

	app := filepath.Join(dir, "app")
	fp.run(t, "build-init", app, "org.test.Hello", "org.test.Platform", "org.test.Platform", "1.0")
	fp.run(t, "build", app, "sh", "-c", `mkdir -p /app/bin && printf '#!/bin/sh\necho "hello from flatpak build, $FROM"\n' > /app/bin/hello && chmod 755 /app/bin/hello`)
	fp.run(t, "build-finish", app, "--command=hello", "--share=network", "--env=FROM=its metadata")
	fp.run(t, append([]string{"build-export"}, append(sign, appRepo, app, "1.0")...)...)
	fp.run(t, append([]string{"build-update-repo", "--title=Test Apps"}, append(sign, appRepo)...)...)

	srv, err := nginx.Start(filepath.Join(dir, "nginx"), pub)
	testutil.Must(t, err)
	t.Cleanup(srv.Stop)
	keyB64 := base64.StdEncoding.EncodeToString([]byte(testutil.ReadFile(t, key.Public)))
	testutil.WriteFile(t, filepath.Join(pub, "runtimes.flatpakrepo"), "[Flatpak Repo]\nTitle=Test Runtimes\nUrl="+srv.URL+"runtimes/\nHomepage=https://example.org/\nGPGKey="+keyB64+"\n", 0o644)
	testutil.WriteFile(t, filepath.Join(pub, "hello.flatpakref"), "[Flatpak Ref]\nTitle=Hello\nName=org.test.Hello\nBranch=1.0\nUrl="+srv.URL+"apps/\nIsRuntime=false\nGPGKey="+keyB64+
		"\nRuntimeRepo="+srv.URL+"runtimes.flatpakrepo\n", 0o644)

	inst := filepath.Join(dir, "inst", "repo")
	testutil.Run(t, arbor, "--repo="+inst, "init", "--mode=bare-user")
	t.Cleanup(func() { mountd.Stop(inst, 10*time.Second) })
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "--from", srv.URL+"hello.flatpakref")
	list := testutil.Run(t, arbor, "--repo="+inst, "list")
	for _, want := range []string{"app/org.test.Hello/x86_64/1.0\thello-origin", "runtime/org.test.Platform/x86_64/1.0\truntimes"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}
	cfg := testutil.ReadFile(t, filepath.Join(inst, "config"))
	if !strings.Contains(cfg, `[remote "runtimes"]`) || strings.Count(cfg, "gpg-verify-summary=true") != 2 {
		t.Errorf("the remotes added:\n%s", cfg)
	}
	if out := strings.TrimSpace(testutil.Run(t, arbor, "--repo="+inst, "run", "org.test.Hello")); out != "hello from flatpak build, its metadata" {
		t.Errorf("the flatpak-made app printed %q", out)
	}
	if info := testutil.Run(t, arbor, "--repo="+inst, "info", "org.test.Hello"); !strings.Contains(info, "shared=network;") {
		t.Errorf("info shows no network permission:\n%s", info)
	}
}

// An app and runtime that arbor built, exported and signed install and run
// with the real flatpak, which checks the summary's and commits' signatures.
func TestArborMadeAppsRunInFlatpak(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "gpg")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	fp := newFlatpak(t, dir)
	key := testutil.NewGPGKey(t, "Arbor Publisher")
	p := publishApps(t, arbor, dir, &key)
	fp.run(t, "remote-add", "--user", "--gpg-import="+key.Public, "origin", p.srv.URL)
	testutil.Must(t, p.srv.ResetLog())
	fp.run(t, "install", "--user", "-y", "--noninteractive", "origin", "app/org.example.Hello/x86_64/1.0")
	// Through the static deltas build-update-repo --generate-static-deltas
	// wrote, from scratch: flatpak's pull chose them.
	reqs, err := p.srv.Requests()
	testutil.Must(t, err)
	superblocks := 0
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, "/deltas/") && strings.HasSuffix(r.Path, "/superblock") && r.Status == 200 {
			superblocks++
		}
	}
	if superblocks < 2 {
		t.Errorf("flatpak's install fetched %d delta superblocks; want the app's and the runtime's", superblocks)
	}
	if out := strings.TrimSpace(fp.run(t, "run", "org.example.Hello//1.0")); out != "hello, world, from name=org.example.Hello" {
		t.Errorf("flatpak run of arbor's app printed %q", out)
	}
	if ls := fp.run(t, "list", "--user", "--columns=ref"); !strings.Contains(ls, "org.example.Platform/x86_64/1.0") {
		t.Errorf("flatpak list:\n%s", ls)
	}
}
