package apps

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"arbor/mountd"
	"arbor/mountd/mountinfo"
	"arbor/tests/nginx"
	"arbor/tests/testutil"
)

// published is a repository of a runtime and an app, served by nginx.
type published struct {
	repo, rtBuild, appBuild string
	srv                     *nginx.Server
	big                     string // a runtime file nobody reads
}

// publishApps builds a runtime from the host's shell and an app, exports
// them, updates the repository (signing everything with key, if given)
// and serves it.
func publishApps(t *testing.T, arbor, dir string, key *testutil.GPGKey) published {
	t.Helper()
	var sign []string
	if key != nil {
		sign = []string{"--gpg-sign=" + key.ID, "--gpg-homedir=" + key.Home}
	}
	rtBuild := filepath.Join(dir, "rt")
	testutil.WriteFile(t, filepath.Join(rtBuild, "metadata"), "[Runtime]\nname=org.example.Platform\nruntime=org.example.Platform/x86_64/1.0\n\n[Environment]\nGREETING=world\n", 0o644)
	testutil.HostRuntime(t, filepath.Join(rtBuild, "usr"), "sh")
	big := strings.Repeat("unused runtime data ", 1<<18) // 5 MiB nobody reads
	testutil.WriteFile(t, filepath.Join(rtBuild, "usr/share/big"), big, 0o644)
	os.MkdirAll(filepath.Join(rtBuild, "files"), 0o755)

	appBuild := filepath.Join(dir, "app")
	testutil.Run(t, arbor, "build-init", appBuild, "org.example.Hello", "org.example.Platform", "org.example.Platform", "1.0")
	// The runtime has only sh: the script uses its builtins.
	testutil.WriteFile(t, filepath.Join(appBuild, "files/bin/hello"), "#!/bin/sh\nwhile read -r l; do case $l in name=*) n=$l;; esac; done < /.flatpak-info\necho \"hello, $GREETING, from $n\"\n", 0o755)
	testutil.WriteFile(t, filepath.Join(appBuild, "files/share/applications/org.example.Hello.desktop"),
		"[Desktop Entry]\nName=Hello\nExec=hello %U\nType=Application\n", 0o644)
	testutil.WriteFile(t, filepath.Join(appBuild, "files/share/metainfo/org.example.Hello.metainfo.xml"),
		"<component type=\"desktop-application\"><id>org.example.Hello</id><name>Hello</name><summary>Greets the world</summary></component>\n", 0o644)
	testutil.Run(t, arbor, "build-finish", appBuild, "--command=hello")

	repo := filepath.Join(dir, "repo")
	testutil.Run(t, arbor, "--repo="+repo, "init", "--mode=archive")
	testutil.Run(t, arbor, append([]string{"build-export", "--runtime", repo, rtBuild, "1.0"}, sign...)...)
	testutil.Run(t, arbor, append([]string{"build-export", repo, appBuild, "1.0"}, sign...)...)
	testutil.Run(t, arbor, append([]string{"build-update-repo", "--generate-static-deltas", repo}, sign...)...)
	srv, err := nginx.Start(filepath.Join(dir, "nginx"), repo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return published{repo: repo, rtBuild: rtBuild, appBuild: appBuild, srv: srv, big: big}
}

// publishBuilt exports a runtime and an app built in rt and app (branch
// 1.0) to a new archive repository at dir/repo, updates its summary and
// serves it with nginx until t ends.
func publishBuilt(t *testing.T, arbor, dir, rt, app string) *nginx.Server {
	t.Helper()
	repo := filepath.Join(dir, "repo")
	testutil.Run(t, arbor, "--repo="+repo, "init", "--mode=archive")
	testutil.Run(t, arbor, "build-export", "--runtime", repo, rt, "1.0")
	testutil.Run(t, arbor, "build-export", repo, app, "1.0")
	testutil.Run(t, arbor, "build-update-repo", repo)
	srv, err := nginx.Start(filepath.Join(dir, "nginx"), repo)
	testutil.Must(t, err)
	t.Cleanup(srv.Stop)
	return srv
}

// newInstallation makes an installation at dir/name with the remote
// origin at url, its daemon stopped when t ends, and returns its repository.
func newInstallation(t *testing.T, arbor, dir, name, url string) string {
	t.Helper()
	inst := filepath.Join(dir, name, "repo")
	testutil.Run(t, arbor, "--repo="+inst, "init", "--mode=bare-user")
	t.Cleanup(func() { mountd.Stop(inst, 10*time.Second) })
	testutil.Run(t, arbor, "--repo="+inst, "remote", "add", "--no-gpg-verify", "origin", url)
	return inst
}

// Publish a runtime and an app, install the app lazily in another
// repository, run it: only part of the runtime is fetched.
func TestInstallAndRunLazily(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "ldd")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()

	p := publishApps(t, arbor, dir, nil)
	repo, appBuild, srv, big := p.repo, p.appBuild, p.srv, p.big
	inst := newInstallation(t, arbor, dir, "inst", srv.URL)
	if _, errOut, err := testutil.RunErr(arbor, "--repo="+inst, "install", "origin", "org.example.Hello"); err == nil ||
		!strings.Contains(errOut, "needs the runtime") {
		t.Fatalf("install without -y and without a terminal: %v %s", err, errOut)
	}
	// The app is installed, without its runtime: a second install
	// installs what it lacks, the app left as it is.
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "org.example.Hello")
	list := testutil.Run(t, arbor, "--repo="+inst, "list")
	for _, want := range []string{"app/org.example.Hello/x86_64/1.0", "runtime/org.example.Platform/x86_64/1.0"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %s:\n%s", want, list)
		}
	}
	// The desktop sees the app: its desktop file, pointing at arbor run,
	// and a launcher.
	desktop, err := os.ReadFile(filepath.Join(dir, "inst/exports/share/applications/org.example.Hello.desktop"))
	if err != nil || !strings.Contains(string(desktop), "run --branch=1.0 --command=hello org.example.Hello %U") {
		t.Errorf("exported desktop file: %q, %v", desktop, err)
	}
	if out := testutil.Run(t, filepath.Join(dir, "inst/exports/bin/org.example.Hello")); !strings.HasPrefix(out, "hello, world") {
		t.Errorf("the launcher printed %q", out)
	}
	testutil.Must(t, srv.ResetLog())
	out := testutil.Run(t, arbor, "--repo="+inst, "run", "org.example.Hello")
	if strings.TrimSpace(out) != "hello, world, from name=org.example.Hello" {
		t.Fatalf("the app printed %q", out)
	}
	sent, err := srv.BytesSent()
	testutil.Must(t, err)
	if sent >= int64(len(big)) {
		t.Errorf("running the app fetched %d bytes, more than the runtime file nobody read", sent)
	}
	if ls := testutil.Run(t, arbor, "--repo="+inst, "remote-ls", "origin"); !strings.Contains(ls, "app/org.example.Hello/x86_64/1.0") ||
		!strings.Contains(ls, "runtime/org.example.Platform/x86_64/1.0") || strings.Contains(ls, "appstream") {
		t.Errorf("remote-ls:\n%s", ls)
	}
	info := testutil.Run(t, arbor, "--repo="+inst, "info", "org.example.Hello")
	for _, want := range []string{"Runtime: org.example.Platform/x86_64/1.0", "Origin: origin", "Installed size: "} {
		if !strings.Contains(info, want) {
			t.Errorf("info lacks %q:\n%s", want, info)
		}
	}

	if found := testutil.Run(t, arbor, "--repo="+inst, "search", "GREETS"); !strings.Contains(found, "org.example.Hello") ||
		!strings.Contains(found, "Greets the world") {
		t.Errorf("search:\n%s", found)
	}
	if found := testutil.Run(t, arbor, "--repo="+inst, "search", "no-such-app"); !strings.Contains(found, "No matches found") {
		t.Errorf("search for nothing:\n%s", found)
	}

	// build runs in the sandbox with the installed SDK at /usr (here the
	// runtime names itself as SDK) and the build's files writable at /app.
	nb := filepath.Join(dir, "newapp")
	testutil.Run(t, arbor, "build-init", nb, "org.example.New", "org.example.Platform", "org.example.Platform", "1.0")
	testutil.Run(t, arbor, "--repo="+inst, "build", nb, "sh", "-c", "echo built > /app/made && ! echo x > /usr/x")
	if b, err := os.ReadFile(filepath.Join(nb, "files/made")); err != nil || string(b) != "built\n" {
		t.Errorf("what the build made: %q, %v", b, err)
	}

	// A running instance holds its commits with instance/ refs, so a prune
	// meanwhile keeps them; they go when it exits.
	held := exec.Command(arbor, "--repo="+inst, "run", "--command=sh", "org.example.Hello", "-c", "read x; true")
	stdin, err := held.StdinPipe()
	testutil.Must(t, err)
	testutil.Must(t, held.Start())
	holding := func() bool {
		return strings.Contains(testutil.Run(t, arbor, "--repo="+inst, "refs"), "instance/"+strconv.Itoa(held.Process.Pid)+"-")
	}
	for i := 0; !holding(); i++ {
		if i > 200 {
			held.Process.Kill()
			t.Fatal("a running app holds no instance refs")
		}
		time.Sleep(25 * time.Millisecond)
	}
	testutil.Run(t, arbor, "--repo="+inst, "prune", "--refs-only")
	stdin.Close()
	testutil.Must(t, held.Wait())
	if holding() {
		t.Error("instance refs left after the app exited")
	}

	// Overrides apply over the app's metadata, until reset.
	testutil.Run(t, arbor, "--repo="+inst, "override", "org.example.Hello", "--env=GREETING=overridden", "--unshare=network")
	if show := testutil.Run(t, arbor, "--repo="+inst, "override", "--show", "org.example.Hello"); !strings.Contains(show, "GREETING=overridden") ||
		!strings.Contains(show, "shared=!network;") {
		t.Errorf("override --show:\n%s", show)
	}
	if out := strings.TrimSpace(testutil.Run(t, arbor, "--repo="+inst, "run", "org.example.Hello")); !strings.HasPrefix(out, "hello, overridden") {
		t.Errorf("with the override the app printed %q", out)
	}
	testutil.Run(t, arbor, "--repo="+inst, "override", "--reset", "org.example.Hello")

	// A new release: update switches to it; update --commit rolls back.
	old := strings.Fields(testutil.Run(t, arbor, "--repo="+repo, "rev-parse", "app/org.example.Hello/x86_64/1.0"))[0]
	testutil.WriteFile(t, filepath.Join(appBuild, "files/bin/hello"), "#!/bin/sh\necho release two\n", 0o755)
	testutil.Run(t, arbor, "build-export", repo, appBuild, "1.0")
	testutil.Run(t, arbor, "build-update-repo", repo)
	testutil.Run(t, arbor, "--repo="+inst, "update")
	if out := strings.TrimSpace(testutil.Run(t, arbor, "--repo="+inst, "run", "org.example.Hello")); out != "release two" {
		t.Fatalf("after update the app printed %q", out)
	}
	testutil.Run(t, arbor, "--repo="+inst, "update", "--commit="+old, "org.example.Hello")
	if out := strings.TrimSpace(testutil.Run(t, arbor, "--repo="+inst, "run", "org.example.Hello")); !strings.HasPrefix(out, "hello, world") {
		t.Fatalf("after the rollback the app printed %q", out)
	}

	// Uninstall: the app, then the runtime it leaves unused.
	for _, mp := range mountsOf(t, inst) {
		testutil.Run(t, arbor, "--repo="+inst, "umount", mp)
	}
	testutil.Run(t, arbor, "--repo="+inst, "uninstall", "org.example.Hello")
	for _, p := range []string{"inst/exports/share/applications/org.example.Hello.desktop", "inst/exports/bin/org.example.Hello"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s left after uninstall", p)
		}
	}
	if list := testutil.Run(t, arbor, "--repo="+inst, "list"); strings.Contains(list, "app/") || !strings.Contains(list, "runtime/") {
		t.Fatalf("after uninstalling the app:\n%s", list)
	}
	testutil.Run(t, arbor, "--repo="+inst, "uninstall", "--unused")
	if list := strings.TrimSpace(testutil.Run(t, arbor, "--repo="+inst, "list")); list != "" {
		t.Fatalf("after uninstall --unused:\n%s", list)
	}
	if refs := testutil.Run(t, arbor, "--repo="+inst, "refs"); strings.Contains(refs, "deploy/") {
		t.Fatalf("deploy refs left:\n%s", refs)
	}

	// The history has it all, newest first in JSON, with the commits.
	var entries []struct{ Op, Ref, From, To, Error string }
	testutil.Must(t, json.Unmarshal([]byte(testutil.Run(t, arbor, "--repo="+inst, "history", "--json")), &entries))
	var ops []string
	for _, e := range entries {
		ops = append(ops, e.Op+" "+e.Ref)
		if e.Op == "update" && (e.From == "" || e.To == "" || e.From == e.To) || e.Op == "uninstall" && e.From == "" {
			t.Errorf("history entry without its commits: %+v", e)
		}
	}
	app, rt := "app/org.example.Hello/x86_64/1.0", "runtime/org.example.Platform/x86_64/1.0"
	if got, want := strings.Join(ops, ", "), strings.Join([]string{"uninstall " + rt, "uninstall " + app, "update " + app, "update " + app,
		"install " + rt, "install " + app}, ", "); got != want {
		t.Errorf("history: %s\nwant %s", got, want)
	}
	if h := testutil.Run(t, arbor, "--repo="+inst, "history", "-n", "1"); !strings.HasPrefix(h, "Time\tChange\tApplication\tBranch\tInstallation\tRemote") ||
		!strings.Contains(h, "uninstall\torg.example.Platform\t1.0\t") {
		t.Errorf("history -n 1:\n%s", h)
	}
}

func mountsOf(t *testing.T, repo string) []string {
	t.Helper()
	var out []string
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], filepath.Dir(repo)+"/") && mountinfo.IsArbor(f[4]) {
			out = append(out, f[4])
		}
	}
	return out
}

// A signed repository: install --from a .flatpakref that carries the key
// adds the remote, verifies commits and summary, installs app and runtime;
// a .flatpakref with another key is refused. remote-add --from reads a
// .flatpakrepo.
func TestFlatpakRefAndRepoFiles(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "gpg")
	testutil.NeedTool(t, "ldd")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	key := testutil.NewGPGKey(t, "Arbor Apps Publisher")
	p := publishApps(t, arbor, dir, &key)
	pub, err := os.ReadFile(key.Public)
	testutil.Must(t, err)
	other := testutil.NewGPGKey(t, "Someone Else")
	otherPub, err := os.ReadFile(other.Public)
	testutil.Must(t, err)

	refFile := func(name string, k []byte) string {
		path := filepath.Join(dir, name+".flatpakref")
		testutil.WriteFile(t, path, "[Flatpak Ref]\nName=org.example.Hello\nBranch=1.0\nUrl="+p.srv.URL+"\nSuggestRemoteName=hello-remote\nGPGKey="+
			base64.StdEncoding.EncodeToString(k)+"\n", 0o644)
		return path
	}
	for _, c := range []struct {
		name string
		key  []byte
		ok   bool
	}{{"wrong-key", otherPub, false}, {"right-key", pub, true}} {
		inst := filepath.Join(dir, c.name, "repo")
		testutil.Run(t, arbor, "--repo="+inst, "init", "--mode=bare-user")
		t.Cleanup(func() { mountd.Stop(inst, 10*time.Second) })
		_, errOut, err := testutil.RunErr(arbor, "--repo="+inst, "install", "-y", "--from", refFile(c.name, c.key))
		if c.ok != (err == nil) {
			t.Fatalf("%s: install --from: %v\n%s", c.name, err, errOut)
		}
		if !c.ok {
			if !strings.Contains(errOut, "signature") {
				t.Errorf("%s: the refusal does not name the signature: %s", c.name, errOut)
			}
			continue
		}
		cfg, err := os.ReadFile(filepath.Join(inst, "config"))
		testutil.Must(t, err)
		if !strings.Contains(string(cfg), `[remote "hello-remote"]`) || !strings.Contains(string(cfg), "gpg-verify-summary=true") {
			t.Errorf("the remote from the .flatpakref:\n%s", cfg)
		}
		list := testutil.Run(t, arbor, "--repo="+inst, "list")
		if !strings.Contains(list, "app/org.example.Hello") || !strings.Contains(list, "runtime/org.example.Platform") {
			t.Errorf("installed:\n%s", list)
		}
	}

	repoFile := filepath.Join(dir, "example.flatpakrepo")
	testutil.WriteFile(t, repoFile, "[Flatpak Repo]\nTitle=Example Apps\nUrl="+p.srv.URL+"\nGPGKey="+base64.StdEncoding.EncodeToString(pub)+"\n", 0o644)
	inst := filepath.Join(dir, "repo-file", "repo")
	testutil.Run(t, arbor, "--repo="+inst, "init", "--mode=bare-user")
	testutil.Run(t, arbor, "--repo="+inst, "remote-add", "--if-not-exists", "example", repoFile)
	testutil.Run(t, arbor, "--repo="+inst, "remote-add", "--if-not-exists", "example", repoFile)
	if ls := testutil.Run(t, arbor, "--repo="+inst, "remote-ls", "example"); !strings.Contains(ls, "app/org.example.Hello/") {
		t.Errorf("remote-ls of a verified remote:\n%s", ls)
	}
	cfg, err := os.ReadFile(filepath.Join(inst, "config"))
	testutil.Must(t, err)
	if !strings.Contains(string(cfg), "xa.title=Example Apps") {
		t.Errorf("the remote from the .flatpakrepo:\n%s", cfg)
	}
}

// install --materialize fetches everything and checks it out: the app
// then runs with the server gone and no mount at all.
func TestMaterializedRunsOffline(t *testing.T) {
	testutil.Privileged(t)
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	p := publishApps(t, arbor, dir, nil)
	inst := newInstallation(t, arbor, dir, "inst", p.srv.URL)
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "--materialize", "origin", "org.example.Hello")
	p.srv.Stop()
	out := testutil.Run(t, arbor, "--repo="+inst, "run", "org.example.Hello")
	if !strings.HasPrefix(strings.TrimSpace(out), "hello, world") {
		t.Fatalf("the materialized app printed %q", out)
	}
	if ms := mountsOf(t, inst); len(ms) != 0 {
		t.Fatalf("a materialized app was run from mounts: %v", ms)
	}
	testutil.Run(t, arbor, "--repo="+inst, "fsck")
}

// An install asks the server for the remote's summary once, though it
// pulls the app and the runtime in several steps; it keeps the tree
// indexes arbor published, takes the exports' directories from them, and
// the first run looks up no directory over the network: only file
// contents are fetched.
func TestInstallRequests(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "ldd")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	p := publishApps(t, arbor, dir, nil)
	inst := newInstallation(t, arbor, dir, "inst", p.srv.URL)
	testutil.Must(t, p.srv.ResetLog())
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "org.example.Hello")
	reqs, err := p.srv.Requests()
	testutil.Must(t, err)
	count := func(reqs []nginx.Request, suffix string) (n int) {
		for _, r := range reqs {
			if strings.HasSuffix(r.Path, suffix) {
				n++
			}
		}
		return n
	}
	if n := count(reqs, "/summary"); n != 1 {
		t.Errorf("the install fetched the summary %d times, want once: %v", n, reqs)
	}
	if n := count(reqs, ".treeindex"); n != 2 {
		t.Errorf("the install fetched %d tree indexes, want the app's and the runtime's: %v", n, reqs)
	}
	kept, _ := filepath.Glob(filepath.Join(inst, "extensions/arbor/trees/*.treeindex"))
	if len(kept) != 2 {
		t.Errorf("kept tree indexes: %v", kept)
	}
	// The root's, fetched beside the index for the metadata file; the
	// exports' directories come from the index.
	if n := count(reqs, ".dirtree"); n > 2 {
		t.Errorf("the install fetched %d dirtrees, more than each commit's root (the tree indexes hold them): %v", n, reqs)
	}
	testutil.Must(t, p.srv.ResetLog())
	if out := testutil.Run(t, arbor, "--repo="+inst, "run", "org.example.Hello"); !strings.HasPrefix(out, "hello, world") {
		t.Fatalf("the app printed %q", out)
	}
	reqs, err = p.srv.Requests()
	testutil.Must(t, err)
	for _, r := range reqs {
		if !strings.HasSuffix(r.Path, ".filez") {
			t.Errorf("the first run fetched %s: only file contents should be left to fetch", r.Path)
		}
	}
}

// A publisher records what a run reads and packs it: an install then
// fetches the pack in one request, and the first run fetches nothing.
// A pack whose objects are not what its list says is refused, the object
// named, and nothing of it stored.
func TestPackedFirstRun(t *testing.T) {
	testutil.Privileged(t)
	testutil.NeedTool(t, "ldd")
	arbor := testutil.BuildArbor(t)
	dir := t.TempDir()
	p := publishApps(t, arbor, dir, nil)

	rec := newInstallation(t, arbor, dir, "recorder", p.srv.URL)
	testutil.Run(t, arbor, "--repo="+rec, "install", "-y", "origin", "org.example.Hello")
	profile := filepath.Join(dir, "hello.profile")
	if out := testutil.Run(t, arbor, "--repo="+rec, "run", "--record-profile="+profile, "org.example.Hello"); !strings.HasPrefix(out, "hello, world") {
		t.Fatalf("the recorded run printed %q", out)
	}
	prof := testutil.ReadFile(t, profile)
	for _, want := range []string{"app/org.example.Hello/x86_64/1.0\tfiles/bin/hello", "runtime/org.example.Platform/x86_64/1.0\tfiles/bin/sh"} {
		if !strings.Contains(prof, want+"\n") {
			t.Errorf("the profile lacks %q:\n%s", want, prof)
		}
	}
	if strings.Contains(prof, "share/big") {
		t.Errorf("the profile has the file nobody read:\n%s", prof)
	}
	out := testutil.Run(t, arbor, "build-update-repo", "--profile="+profile, p.repo)
	if !strings.Contains(out, "of app/org.example.Hello/x86_64/1.0 for its first run") || !strings.Contains(out, "of runtime/org.example.Platform/x86_64/1.0 for its first run") {
		t.Errorf("build-update-repo --profile printed:\n%s", out)
	}

	inst := newInstallation(t, arbor, dir, "inst", p.srv.URL)
	testutil.Must(t, p.srv.ResetLog())
	testutil.Run(t, arbor, "--repo="+inst, "install", "-y", "origin", "org.example.Hello")
	reqs, err := p.srv.Requests()
	testutil.Must(t, err)
	packs := 0
	for _, r := range reqs {
		if strings.HasSuffix(r.Path, ".pack") && r.Status == 200 {
			packs++
		}
	}
	if packs != 2 {
		t.Errorf("the install fetched %d packs, want the app's and the runtime's: %v", packs, reqs)
	}
	testutil.Must(t, p.srv.ResetLog())
	if out := testutil.Run(t, arbor, "--repo="+inst, "run", "org.example.Hello"); !strings.HasPrefix(out, "hello, world") {
		t.Fatalf("the app printed %q", out)
	}
	if reqs, err := p.srv.Requests(); err != nil || len(reqs) != 0 {
		t.Errorf("the first run after a packed install fetched %v (%v), want nothing", reqs, err)
	}

	// A pack of other bytes than its list names.
	packs0, _ := filepath.Glob(filepath.Join(p.repo, "extensions/arbor/packs/*.pack"))
	for _, pk := range packs0 {
		b, err := os.ReadFile(pk)
		testutil.Must(t, err)
		for i := range b {
			b[i] ^= 0x55
		}
		testutil.Must(t, os.WriteFile(pk, b, 0o644))
	}
	bad := newInstallation(t, arbor, dir, "bad", p.srv.URL)
	_, errOut, err := testutil.RunErr(arbor, "--repo="+bad, "install", "-y", "origin", "org.example.Hello")
	if err == nil || !strings.Contains(errOut, ".pack") || !strings.Contains(errOut, ".file") {
		t.Errorf("install from a corrupt pack: %v\n%s", err, errOut)
	}
	objs, _ := filepath.Glob(filepath.Join(bad, "objects/*/*.file"))
	for _, o := range objs {
		if fi, err := os.Stat(o); err == nil && fi.Size() > 0 {
			b, _ := os.ReadFile(o)
			if strings.Contains(string(b), "hello") && strings.Contains(string(b), "GREETING") {
				t.Errorf("a file of the corrupt pack was stored: %s", o)
			}
		}
	}
}
