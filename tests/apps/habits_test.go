package apps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/tests/testutil"
)

// onRepo runs arbor on one repository, failing t when it fails.
func onRepo(t *testing.T, arbor, repo string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		return testutil.Run(t, arbor, append([]string{"--repo=" + repo}, args...)...)
	}
}

// publishAndInstallation publishes the test apps and makes an
// installation with their remote, as origin.
func publishAndInstallation(t *testing.T) (arbor, dir string, p published, inst string) {
	t.Helper()
	testutil.Privileged(t)
	arbor = testutil.BuildArbor(t)
	dir = t.TempDir()
	p = publishApps(t, arbor, dir, nil)
	return arbor, dir, p, newInstallation(t, arbor, dir, "inst", p.srv.URL)
}

// A user coming from flatpak types flatpak's commands and flags: each
// does what flatpak's does, and what would lose something is refused
// with the reason.
func TestFlatpakHabits(t *testing.T) {
	arbor, dir, p, inst := publishAndInstallation(t)
	run := onRepo(t, arbor, inst)
	fails := func(want string, args ...string) {
		t.Helper()
		_, stderr, err := testutil.RunErr(arbor, append([]string{"--repo=" + inst}, args...)...)
		if err == nil || !strings.Contains(stderr, want) {
			t.Errorf("arbor %s: err %v, stderr %q; want a failure saying %q", strings.Join(args, " "), err, stderr, want)
		}
	}

	// install ID without a remote finds the one that offers it; a runtime
	// is installed by its ID, with --runtime.
	run("install", "-y", "--runtime", "org.example.Platform")
	run("install", "-y", "org.example.Hello")
	_, stderr, err := testutil.RunErr(arbor, "--repo="+inst, "install", "-y", "origin", "org.example.Hello")
	if err != nil || !strings.Contains(stderr, "Skipping: app/org.example.Hello/") {
		t.Errorf("a second install: %v, stderr %q", err, stderr)
	}
	if out := run("install", "-y", "--or-update", "origin", "org.example.Hello"); !strings.Contains(out, "is up to date") {
		t.Errorf("install --or-update of the newest: %q", out)
	}

	commit := strings.TrimSpace(run("info", "--show-commit", "org.example.Hello"))
	if remote := strings.TrimSpace(run("remote-info", "-c", "origin", "org.example.Hello")); len(commit) != 64 || remote != commit {
		t.Errorf("info --show-commit %q, remote-info -c %q: want the same commit", commit, remote)
	}
	if origin := strings.TrimSpace(run("info", "-o", "org.example.Hello")); origin != "origin" {
		t.Errorf("info --show-origin: %q", origin)
	}
	if out := run("list", "--columns=application,branch,origin"); !strings.Contains(out, "org.example.Hello\t1.0\torigin\n") || !strings.Contains(out, "org.example.Platform\t1.0\torigin\n") {
		t.Errorf("list --columns:\n%s", out)
	}
	fails("unknown column", "list", "--columns=nonsense")
	// An app whose metadata went bad is warned of; the rest are listed.
	meta := filepath.Join(filepath.Dir(inst), "app/org.example.Hello/x86_64/1.0", commit, "metadata")
	good, err := os.ReadFile(meta)
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(meta, []byte("[Application\nname=\x01"), 0o644))
	out, stderr, err := testutil.RunErr(arbor, "--repo="+inst, "list")
	if err != nil || !strings.Contains(stderr, "warning: ") || !strings.Contains(out, "runtime/org.example.Platform/x86_64/1.0") || strings.Contains(out, "app/org.example.Hello") {
		t.Errorf("list with an app's metadata broken: %v\nstdout %q\nstderr %q", err, out, stderr)
	}
	testutil.Must(t, os.WriteFile(meta, good, 0o644))
	if out := run("remote-ls", "--runtime", "--columns=application", "origin"); strings.TrimSpace(out) != "org.example.Platform" {
		t.Errorf("remote-ls --runtime --columns=application: %q", out)
	}
	if out := run("remotes"); !strings.HasPrefix(out, "origin\t") {
		t.Errorf("remotes: %q", out)
	}

	// Settings as flatpak keeps them: a masked app does not update, a
	// pinned runtime is not unused.
	run("config", "--set", "languages", "en;de")
	if out := run("config", "--get", "languages"); out != "en;de\n" {
		t.Errorf("config --get languages: %q", out)
	}
	run("mask", "org.example.Hello")
	if out := run("mask"); out != "org.example.Hello\n" {
		t.Errorf("mask: %q", out)
	}
	fails("masked", "install", "-y", "--reinstall", "origin", "org.example.Hello")
	run("mask", "--remove", "org.example.Hello")
	run("pin", "runtime/org.example.Platform")
	if out := run("pin"); out != "runtime/org.example.Platform\n" {
		t.Errorf("pin: %q", out)
	}

	// What would break an installed app is refused, and says why.
	fails("is needed by app/org.example.Hello/", "uninstall", "org.example.Platform")
	fails("has refs installed from it", "remote-delete", "origin")
	fails("depth -5", "pull", "--depth=-5", "origin", "x")
	run("uninstall", "-y", "org.example.Hello")
	run("uninstall", "-y", "org.example.Platform")
	run("remote-delete", "origin")
	if out := run("remotes"); out != "" {
		t.Errorf("remotes after remote-delete: %q", out)
	}

	// A build finished by arbor is one flatpak's tools take, and
	// finishing it twice is refused; build-export makes the repository
	// it is given and its summary.
	fails("already finished", "build-finish", p.appBuild)
	fresh := filepath.Join(dir, "fresh-repo")
	testutil.Run(t, arbor, "build-export", fresh, p.appBuild, "2.0")
	if _, err := os.Stat(filepath.Join(fresh, "summary")); err != nil {
		t.Errorf("build-export into a new repository left no summary: %v", err)
	}
	if out := testutil.Run(t, arbor, "--repo="+fresh, "refs"); !strings.Contains(out, "app/org.example.Hello/") {
		t.Errorf("refs of the new repository: %q", out)
	}
	if _, err := os.Stat("/usr/bin/flatpak"); err == nil {
		fpRepo := filepath.Join(dir, "flatpak-repo")
		testutil.Run(t, "flatpak", "build-export", fpRepo, p.appBuild, "3.0")
		if out := testutil.Run(t, "ostree", "--repo="+fpRepo, "refs"); !strings.Contains(out, "app/org.example.Hello/") {
			t.Errorf("flatpak build-export of arbor's build: refs %q", out)
		}
	} else if os.Getenv(testutil.PrivilegedEnv) != "" {
		t.Error("flatpak is not installed (tests/deps.sh installs it)")
	}

	// A build promoted to another branch, in the same repository and
	// into another: the tree is the source's, the ref bindings the new
	// ref's; promoting it again changes nothing.
	stable := "app/org.example.Hello/x86_64/stable"
	testutil.Run(t, arbor, "build-commit-from", "--src-ref=app/org.example.Hello/x86_64/1.0", p.repo, stable)
	if out := testutil.Run(t, arbor, "build-commit-from", "--src-ref=app/org.example.Hello/x86_64/1.0", p.repo, stable); !strings.Contains(out, "no change") {
		t.Errorf("a second build-commit-from: %q", out)
	}
	testutil.Run(t, arbor, "build-commit-from", "--src-repo="+p.repo, fresh, stable)
	for _, repo := range []string{p.repo, fresh} {
		if got := testutil.Run(t, "ostree", "--repo="+repo, "show", "--print-metadata-key=xa.ref", stable); strings.TrimSpace(got) != "'"+stable+"'" {
			t.Errorf("%s: xa.ref of the promoted commit: %q", repo, got)
		}
	}
	if diff := testutil.Run(t, "ostree", "--repo="+p.repo, "diff", "app/org.example.Hello/x86_64/1.0", stable); diff != "" {
		t.Errorf("the promoted commit's tree differs from its source's:\n%s", diff)
	}

	// A bundle arbor writes is one flatpak imports, and the other way
	// round; the objects are checked, and the ref is the commit's own.
	bundle := filepath.Join(dir, "hello.flatpak")
	testutil.Run(t, arbor, "build-bundle", p.repo, bundle, "org.example.Hello", "1.0")
	fpImported := filepath.Join(dir, "fp-imported")
	testutil.Run(t, "ostree", "--repo="+fpImported, "init", "--mode=archive")
	testutil.Run(t, "flatpak", "build-import-bundle", fpImported, bundle)
	if out := testutil.Run(t, "ostree", "--repo="+fpImported, "fsck"); !strings.Contains(out, "no errors found") {
		t.Errorf("ostree fsck of flatpak's import of arbor's bundle:\n%s", out)
	}
	fpBundle := filepath.Join(dir, "flatpak-made.flatpak")
	testutil.Run(t, "flatpak", "build-bundle", p.repo, fpBundle, "org.example.Hello", "1.0")
	imported := filepath.Join(dir, "imported")
	if out := testutil.Run(t, arbor, "build-import-bundle", imported, fpBundle); !strings.HasPrefix(out, "Importing app/org.example.Hello/x86_64/1.0 (") {
		t.Errorf("build-import-bundle of flatpak's bundle: %q", out)
	}
	want := testutil.Run(t, "ostree", "--repo="+p.repo, "rev-parse", "app/org.example.Hello/x86_64/1.0")
	if got := testutil.Run(t, "ostree", "--repo="+imported, "rev-parse", "app/org.example.Hello/x86_64/1.0"); got != want {
		t.Errorf("imported commit %q, want %q", got, want)
	}
	if out := testutil.Run(t, "ostree", "--repo="+imported, "fsck"); !strings.Contains(out, "no errors found") {
		t.Errorf("ostree fsck of arbor's import:\n%s", out)
	}
	b, err := os.ReadFile(fpBundle)
	testutil.Must(t, err)
	b[len(b)-100] ^= 0xff // inside the inline part
	testutil.Must(t, os.WriteFile(fpBundle, b, 0o644))
	bad := filepath.Join(dir, "imported-bad")
	_, stderr, err = testutil.RunErr(arbor, "build-import-bundle", bad, fpBundle)
	if err == nil || !strings.Contains(stderr, "flatpak-made.flatpak") || !strings.Contains(stderr, "checksum") {
		t.Errorf("a damaged bundle: %v, %q", err, stderr)
	}
	if refs := testutil.Run(t, arbor, "--repo="+bad, "refs"); refs != "" {
		t.Errorf("a damaged bundle left refs: %q", refs)
	}

	// Bad values are refused before anything is done.
	fails("invalid env format", "run", "--env=NOEQ", "org.example.Hello")
}

// With two branches of an app installed, `run ID` starts the current
// one, the last installed, until make-current names another; the
// launcher follows.
func TestMakeCurrent(t *testing.T) {
	arbor, _, p, inst := publishAndInstallation(t)
	testutil.Run(t, arbor, "build-commit-from", "--src-ref=app/org.example.Hello/x86_64/1.0", p.repo, "app/org.example.Hello/x86_64/stable")
	run := onRepo(t, arbor, inst)
	run("install", "-y", "origin", "org.example.Hello//1.0", "org.example.Hello//stable")
	launcher := filepath.Join(filepath.Dir(inst), "exports/bin/org.example.Hello")
	for i, branch := range []string{"stable", "1.0", "stable"} {
		if i > 0 {
			run("make-current", "org.example.Hello", branch)
		}
		b, err := os.ReadFile(launcher)
		testutil.Must(t, err)
		if !strings.Contains(string(b), "'--branch="+branch+"'") {
			t.Errorf("current %s: the launcher is\n%s", branch, b)
		}
		if out := run("run", "org.example.Hello"); !strings.HasPrefix(out, "hello, world") {
			t.Errorf("current %s: run printed %q", branch, out)
		}
	}
	_, stderr, err := testutil.RunErr(arbor, "--repo="+inst, "make-current", "org.example.Hello", "nonesuch")
	if err == nil || !strings.Contains(stderr, "no such ref") {
		t.Errorf("make-current of a branch not installed: %v %q", err, stderr)
	}
}

// repair finds an object whose bytes went bad under a checked-out app,
// deletes it, fetches it again and checks the app out again: the app
// runs as before. A dry run changes nothing.
func TestRepair(t *testing.T) {
	arbor, _, _, inst := publishAndInstallation(t)
	run := onRepo(t, arbor, inst)
	run("install", "-y", "--materialize", "origin", "org.example.Hello")
	if out := run("repair"); !strings.HasPrefix(out, "Checked ") || strings.Contains(out, "Removed") {
		t.Fatalf("repair of a sound installation: %q", out)
	}
	commit := strings.TrimSpace(run("info", "-c", "org.example.Hello"))
	ls := strings.Fields(testutil.Run(t, "ostree", "--repo="+inst, "ls", "-C", commit, "/files/bin/hello"))
	sum := ls[len(ls)-2]
	obj := filepath.Join(inst, "objects", sum[:2], sum[2:]+".file")
	f, err := os.OpenFile(obj, os.O_WRONLY|os.O_APPEND, 0)
	testutil.Must(t, err)
	_, err = f.WriteString("\nexit 3\n")
	testutil.Must(t, err)
	testutil.Must(t, f.Close())

	if out := run("repair", "--dry-run"); !strings.Contains(out, "Would remove corrupt object "+sum+".file") {
		t.Errorf("repair --dry-run: %q", out)
	}
	if _, err := os.Stat(obj); err != nil {
		t.Errorf("the dry run removed the object: %v", err)
	}
	out := run("repair")
	if !strings.Contains(out, "Removed corrupt object "+sum+".file") || !strings.Contains(out, "Fetched app/org.example.Hello/x86_64/1.0 again") {
		t.Errorf("repair: %q", out)
	}
	if out := run("run", "org.example.Hello"); !strings.HasPrefix(out, "hello, world") {
		t.Errorf("after repair the app printed %q", out)
	}
	if out := testutil.Run(t, "ostree", "--repo="+inst, "fsck"); !strings.Contains(out, "no errors found") {
		t.Errorf("ostree fsck after repair:\n%s", out)
	}
}
