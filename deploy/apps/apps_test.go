package apps

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/commits"
	"arbor/deploy/history"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/object"
)

// pub is an archive repository of a runtime and an app, which an
// installation's remote reads through a file URL (fetch treats it as a
// server: summary, objects, no shortcut).
type pub struct {
	t    *testing.T
	repo *store.Repo
	dir  string
}

var (
	helloRef    = flatpak.Ref{Kind: flatpak.App, ID: "org.example.Hello", Arch: flatpak.Arch(), Branch: "1.0"}
	platformRef = flatpak.Ref{Kind: flatpak.Runtime, ID: "org.example.Platform", Arch: flatpak.Arch(), Branch: "1.0"}
)

func newPub(t *testing.T) *pub {
	t.Helper()
	dir := t.TempDir()
	r, err := store.Init(filepath.Join(dir, "repo"), store.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	p := &pub{t: t, repo: r, dir: dir}
	rt := filepath.Join(dir, "rt")
	write(t, filepath.Join(rt, "metadata"), "[Runtime]\nname=org.example.Platform\nruntime=org.example.Platform/"+flatpak.Arch()+"/1.0\n")
	write(t, filepath.Join(rt, "usr/bin/sh"), "not really a shell")
	if _, _, err := commits.BuildExport(context.Background(), r, rt, commits.ExportOptions{Branch: "1.0", Runtime: true}); err != nil {
		t.Fatal(err)
	}
	return p
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// app exports a release of org.example.Hello with the given [Context]
// lines and publishes the summary.
func (p *pub) app(release, perms string) object.Checksum {
	t := p.t
	t.Helper()
	dir := filepath.Join(p.dir, "app-"+release)
	meta := "[Application]\nname=org.example.Hello\nruntime=org.example.Platform/" + flatpak.Arch() + "/1.0\nsdk=org.example.Platform/" + flatpak.Arch() + "/1.0\ncommand=hello\n"
	if perms != "" {
		meta += "\n[Context]\n" + perms + "\n"
	}
	write(t, filepath.Join(dir, "metadata"), meta)
	write(t, filepath.Join(dir, "files/bin/hello"), "#!/bin/sh\necho "+release+"\n")
	write(t, filepath.Join(dir, "export/share/applications/org.example.Hello.desktop"), "[Desktop Entry]\nType=Application\nName=Hello\nExec=hello\n")
	_, c, err := commits.BuildExport(context.Background(), p.repo, dir, commits.ExportOptions{Branch: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	p.publish()
	return c
}

func (p *pub) publish() {
	p.t.Helper()
	sb, err := p.repo.BuildSummary(time.Now(), nil)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.repo.WriteSummary(sb, nil); err != nil {
		p.t.Fatal(err)
	}
}

// events collects what a workflow reported.
type events struct {
	mu sync.Mutex
	es []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.es = append(e.es, ev)
	e.mu.Unlock()
}

// check fails when an event has no words.
func (e *events) check(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.es) == 0 {
		t.Error("no events")
	}
	for _, ev := range e.es {
		if ev.Message == "" || ev.Phase == "" || ev.Ref == "" {
			t.Errorf("an event without a message, phase or ref: %+v", ev)
		}
	}
}

func newManager(t *testing.T, p *pub) *Manager {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inst", "repo")
	r, err := store.Init(path, store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := fetch.AddRemote(r, "origin", "file://"+p.repo.Path(), fetch.AddOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	m := NewManager(r, flatpak.NewInstallation(path))
	m.Arbor = "/usr/bin/arbor"
	return m
}

func historyOf(t *testing.T, m *Manager) []history.Entry {
	t.Helper()
	es, err := m.History.Read(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(es) // oldest first, to read as the story
	return es
}

func installed(t *testing.T, m *Manager, ref flatpak.Ref) object.Checksum {
	t.Helper()
	d, err := m.In.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	return d.Commit
}

// Install (the app, then its runtime), an update, an uninstall: the
// changes say from which commit to which, every event has words, and the
// history records each with its commits.
func TestInstallUpdateUninstall(t *testing.T) {
	ctx := context.Background()
	p := newPub(t)
	v1 := p.app("one", "shared=network;")
	m := newManager(t, p)

	var ev events
	var asked []flatpak.Ref
	changes, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello", Kind: flatpak.App,
		Runtime: func(rt flatpak.Ref) bool { asked = append(asked, rt); return true }}, ev.add)
	if err != nil {
		t.Fatal(err)
	}
	ev.check(t)
	if len(changes) != 2 || changes[0].Ref != helloRef || changes[0].To != v1 || !changes[0].From.IsZero() || changes[1].Ref != platformRef {
		t.Fatalf("install changes: %+v", changes)
	}
	if len(asked) != 1 || asked[0] != platformRef {
		t.Errorf("asked about %v", asked)
	}
	if _, err := os.Stat(filepath.Join(m.In.Dir, "exports/share/applications/org.example.Hello.desktop")); err != nil {
		t.Errorf("the app's desktop file is not exported: %v", err)
	}

	if ups, err := m.Updates(ctx); err != nil || len(ups) != 0 {
		t.Fatalf("updates before a new release: %+v, %v", ups, err)
	}
	// A second install skips what is installed; --or-update updates it.
	if _, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello"}, nil); !errors.Is(err, ErrAlreadyInstalled) {
		t.Fatalf("installing an installed app: %v", err)
	}
	if ch, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello", Installed: OrUpdate}, nil); err != nil || len(ch) != 1 || ch[0].From != v1 || ch[0].To != v1 {
		t.Fatalf("install --or-update with nothing newer: %+v, %v", ch, err)
	}
	if found, err := m.RemotesOffering(ctx, "org.example.Hello", ""); err != nil || len(found) != 1 || found[0].Remote != "origin" || found[0].Ref != helloRef {
		t.Fatalf("remotes offering the app: %+v, %v", found, err)
	}
	v2 := p.app("two", "shared=network;")
	ups, err := m.Updates(ctx)
	if err != nil || len(ups) != 1 || ups[0].Ref != helloRef || ups[0].From != v1 || ups[0].To != v2 || len(ups[0].NewPermissions) != 0 || ups[0].Downloaded {
		t.Fatalf("updates: %+v, %v", ups, err)
	}
	ev = events{}
	changes, err = m.Update(ctx, UpdateRequest{}, ev.add)
	if err != nil {
		t.Fatal(err)
	}
	ev.check(t)
	var app, rt Change
	for _, c := range changes {
		switch c.Ref {
		case helloRef:
			app = c
		case platformRef:
			rt = c
		}
	}
	if app.From != v1 || app.To != v2 || rt.From != rt.To || rt.To.IsZero() {
		t.Fatalf("update changes: %+v", changes)
	}
	if installed(t, m, helloRef) != v2 {
		t.Fatal("the update is not deployed")
	}

	// Rolling back with a commit.
	if _, err := m.Update(ctx, UpdateRequest{Refs: []flatpak.Ref{helloRef}, Commit: v1.String()}, nil); err != nil {
		t.Fatal(err)
	}
	if installed(t, m, helloRef) != v1 {
		t.Fatal("the rollback is not deployed")
	}

	// The runtime the app uses is not removed before the app, unless
	// the user confirms.
	_, err = m.Uninstall(ctx, UninstallRequest{Refs: []flatpak.Ref{platformRef}}, nil)
	var inUse *InUseError
	if !errors.As(err, &inUse) || len(inUse.Apps) != 1 || inUse.Apps[0] != helloRef {
		t.Fatalf("uninstalling the app's runtime: %v", err)
	}
	if _, err := m.In.Get(platformRef); err != nil {
		t.Fatalf("the refused removal removed the runtime: %v", err)
	}
	removed, err := m.Uninstall(ctx, UninstallRequest{Refs: []flatpak.Ref{helloRef}, Unused: true}, nil)
	if err != nil || len(removed) != 2 {
		t.Fatalf("uninstalled %v, %v", removed, err)
	}
	if refs, _ := m.In.Installed(); len(refs) != 0 {
		t.Fatalf("left installed: %v", refs)
	}

	var got []string
	for _, e := range historyOf(t, m) {
		if e.Error != "" {
			t.Errorf("a failure recorded: %+v", e)
		}
		got = append(got, e.Op+" "+e.Ref+" "+short12(e.From)+">"+short12(e.To))
	}
	want := []string{
		"install " + helloRef.String() + " >" + short(v1),
		"install " + platformRef.String() + " >" + short(changes[1].To),
		"update " + helloRef.String() + " " + short(v1) + ">" + short(v2),
		"update " + helloRef.String() + " " + short(v2) + ">" + short(v1),
		"uninstall " + helloRef.String() + " " + short(v1) + ">",
		"uninstall " + platformRef.String() + " " + short(rt.To) + ">",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// An update that grants new permissions is held back, the installed
// commit left as it is, until allowed.
func TestUpdateHeldForNewPermissions(t *testing.T) {
	ctx := context.Background()
	p := newPub(t)
	v1 := p.app("one", "shared=network;")
	m := newManager(t, p)
	if _, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello"}, nil); err != nil {
		t.Fatal(err)
	}
	v2 := p.app("two", "shared=network;\nsockets=x11;\nfilesystems=home;")

	ups, err := m.Updates(ctx)
	if err != nil || len(ups) != 1 || strings.Join(ups[0].NewPermissions, ",") != "Read and write your home folder,Uses X11, a legacy display system" {
		t.Fatalf("updates: %+v, %v", ups, err)
	}
	changes, err := m.Update(ctx, UpdateRequest{Refs: []flatpak.Ref{helloRef}}, nil)
	if err != nil || len(changes) != 1 || !changes[0].Held() || changes[0].From != v1 || len(changes[0].NewPermissions) != 2 {
		t.Fatalf("held update: %+v, %v", changes, err)
	}
	if installed(t, m, helloRef) != v1 {
		t.Fatal("a held update was deployed")
	}

	changes, err = m.Update(ctx, UpdateRequest{Refs: []flatpak.Ref{helloRef}, AllowNewPermissions: true}, nil)
	if err != nil || len(changes) != 1 || changes[0].To != v2 || changes[0].NewPermissions[0] != "Read and write your home folder" {
		t.Fatalf("allowed update: %+v, %v", changes, err)
	}
	if installed(t, m, helloRef) != v2 {
		t.Fatal("the allowed update is not deployed")
	}
	es := historyOf(t, m)
	if last := es[len(es)-1]; last.Op != "update" || last.From != v1.String() || last.To != v2.String() {
		t.Fatalf("history ends with %+v", last)
	}
}

// A download fetches what the update needs and deploys nothing; the next
// update deploys it without the remote.
func TestDownloadThenApplyOffline(t *testing.T) {
	ctx := context.Background()
	p := newPub(t)
	v1 := p.app("one", "")
	m := newManager(t, p)
	if _, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello"}, nil); err != nil {
		t.Fatal(err)
	}
	v2 := p.app("two", "")
	changes, err := m.Update(ctx, UpdateRequest{Refs: []flatpak.Ref{helloRef}, DownloadOnly: true}, nil)
	if err != nil || len(changes) != 1 || !changes[0].Downloaded || changes[0].To != v2 {
		t.Fatalf("download: %+v, %v", changes, err)
	}
	if installed(t, m, helloRef) != v1 {
		t.Fatal("a download was deployed")
	}
	if ups, err := m.Updates(ctx); err != nil || len(ups) != 1 || !ups[0].Downloaded {
		t.Fatalf("updates after the download: %+v, %v", ups, err)
	}
	// The server is gone.
	if err := m.Repo.EditConfig(func(c store.ConfigFile) error {
		c.Set(`remote "origin"`, "url", "file://"+filepath.Join(p.dir, "gone")+"/")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	changes, err = m.Update(ctx, UpdateRequest{Refs: []flatpak.Ref{helloRef}}, nil)
	if err != nil || len(changes) != 1 || changes[0].To != v2 || changes[0].Downloaded {
		t.Fatalf("applying the download offline: %+v, %v", changes, err)
	}
	if installed(t, m, helloRef) != v2 {
		t.Fatal("the download is not deployed")
	}
	if _, ok := m.downloaded(helloRef); ok {
		t.Error("the download is still recorded once deployed")
	}
	var ops []string
	for _, e := range historyOf(t, m) {
		ops = append(ops, e.Op)
	}
	if strings.Join(ops, " ") != "install install download update" {
		t.Errorf("history: %v", ops)
	}
}

// Prepare fetches ahead what an install fetches before it deploys (the
// app's and its runtime's metadata files, the app's exports), deploys and
// records nothing; the install after it fetches none of that again: it
// succeeds with those objects gone from the remote.
func TestPrepareThenInstall(t *testing.T) {
	ctx := context.Background()
	p := newPub(t)
	v1 := p.app("one", "")
	m := newManager(t, p)
	if err := m.Prepare(ctx, "origin", helloRef); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []flatpak.Ref{helloRef, platformRef} {
		if _, err := m.In.Get(ref); err == nil {
			t.Errorf("%s is installed by Prepare", ref)
		}
	}
	if h := historyOf(t, m); len(h) != 0 {
		t.Errorf("Prepare recorded %+v", h)
	}
	rtCommit, err := m.Repo.ReadRef("origin:" + platformRef.String())
	if err != nil {
		t.Fatalf("the runtime's commit is not fetched: %v", err)
	}
	prepared := []struct {
		commit object.Checksum
		path   string
	}{
		{v1, "/metadata"},
		{v1, "/export/share/applications/org.example.Hello.desktop"},
		{rtCommit, "/metadata"},
	}
	for _, f := range prepared {
		n, err := m.Repo.Lookup(f.commit, f.path)
		if err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
		if has, err := m.Repo.HasObject(n.File, object.TypeFile); err != nil || !has {
			t.Fatalf("%s of %s is not fetched: %v", f.path, f.commit, err)
		}
		if err := os.Remove(filepath.Join(p.repo.Path(), object.Path(n.File, object.TypeFile, true))); err != nil {
			t.Fatal(err)
		}
	}
	// Without them, an installation not prepared cannot install.
	if _, err := newManager(t, p).Install(ctx, InstallRequest{Remote: "origin", Name: helloRef.String()}, nil); err == nil {
		t.Fatal("an install not prepared succeeded without the objects removed")
	}
	if _, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: helloRef.String()}, nil); err != nil {
		t.Fatalf("installing after Prepare, with what it fetched gone from the remote: %v", err)
	}
	if installed(t, m, helloRef) != v1 || installed(t, m, platformRef) != rtCommit {
		t.Fatal("the install did not deploy the prepared commits")
	}
	if _, err := os.Stat(filepath.Join(m.In.Dir, "exports/share/applications/org.example.Hello.desktop")); err != nil {
		t.Errorf("the app's desktop file is not exported: %v", err)
	}
	// An installed app is left alone.
	if err := m.Prepare(ctx, "origin", helloRef); err != nil {
		t.Fatal(err)
	}
}

// Prepare takes on only trees whose commits declare both sizes, within
// prepareMax.
func TestPreparable(t *testing.T) {
	for _, c := range []struct {
		installed, download uint64
		want                bool
	}{
		{1 << 20, 1 << 19, true},
		{prepareMax, prepareMax, true},
		{prepareMax + 1, 1 << 20, false},
		{1 << 20, prepareMax + 1, false},
		{0, 1 << 20, false},
		{1 << 20, 0, false},
	} {
		if got := preparable(c.installed, c.download); got != c.want {
			t.Errorf("preparable(%d, %d) = %v, want %v", c.installed, c.download, got, c.want)
		}
	}
}

// A failed install is recorded with its error, and leaves nothing.
func TestFailedInstallRecorded(t *testing.T) {
	ctx := context.Background()
	p := newPub(t)
	p.app("one", "")
	m := newManager(t, p)
	if _, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Nope"}, nil); err == nil {
		t.Fatal("installed an app the remote does not have")
	}
	es := historyOf(t, m)
	if len(es) != 1 || es[0].Op != "install" || es[0].Ref != "org.example.Nope" || !strings.Contains(es[0].Error, "no such ref") {
		t.Fatalf("history: %+v", es)
	}
	// Declining the runtime: the app is installed, and says why not the runtime.
	_, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello", Runtime: func(flatpak.Ref) bool { return false }}, nil)
	if !errors.Is(err, ErrRuntimeDeclined) {
		t.Fatalf("declined runtime: %v", err)
	}
	if _, err := m.In.Get(platformRef); err == nil {
		t.Error("the declined runtime was installed")
	}
}

// A cancelled context stops a workflow before it changes anything.
func TestCancelled(t *testing.T) {
	p := newPub(t)
	p.app("one", "")
	m := newManager(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello"}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("install with a cancelled context: %v", err)
	}
	if refs, _ := m.In.Installed(); len(refs) != 0 {
		t.Fatalf("installed: %v", refs)
	}
}

func TestChangeJSON(t *testing.T) {
	var c object.Checksum
	c[0] = 0xab
	b, err := json.Marshal([]Change{{Ref: helloRef, To: c}, {Ref: helloRef, From: c, NewPermissions: []string{"sockets=x11"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"ref":"` + helloRef.String() + `","from":"","to":"` + c.String() + `"},{"ref":"` + helloRef.String() + `","from":"` + c.String() + `","to":"","new_permissions":["sockets=x11"],"held":true}]`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

func TestMatchPattern(t *testing.T) {
	app := flatpak.Ref{Kind: flatpak.App, ID: "org.example.Hello", Arch: "x86_64", Branch: "stable"}
	for _, c := range []struct {
		pattern string
		want    bool
	}{
		{"org.example.Hello", true},
		{"org.example.*", true},
		{"org.other.*", false},
		{"app/org.example.Hello", true},
		{"runtime/org.example.Hello", false},
		{"org.example.Hello//stable", true},
		{"org.example.Hello//beta", false},
		{"org.example.Hello/aarch64", false},
		{"org.example.Hello/*/stab*", true},
	} {
		if got := MatchPattern(c.pattern, app); got != c.want {
			t.Errorf("MatchPattern(%q) = %v, want %v", c.pattern, got, c.want)
		}
	}
	for _, bad := range []string{"", "a/b/c/d", "org.[", "app/"} {
		if err := CheckPattern(bad); err == nil {
			t.Errorf("CheckPattern(%q) accepted it", bad)
		}
	}
}

func TestMaskAndPin(t *testing.T) {
	ctx := context.Background()
	p := newPub(t)
	p.app("one", "")
	m := newManager(t, p)
	if err := m.EditPatterns(ctx, "masked", []string{"org.example.Hello"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello"}, nil); err == nil || !strings.Contains(err.Error(), "masked") {
		t.Fatalf("installing a masked app: %v", err)
	}
	// Nor is a masked app prepared: not even its commit is fetched.
	if err := m.Prepare(ctx, "origin", helloRef); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Repo.ReadRef("origin:" + helloRef.String()); err == nil {
		t.Error("a masked app's commit was fetched to prepare it")
	}
	if err := m.EditPatterns(ctx, "masked", []string{"org.example.Hello"}, true); err != nil {
		t.Fatal(err)
	}
	if ps, _ := m.Patterns("masked"); len(ps) != 0 {
		t.Fatalf("masked after --remove: %v", ps)
	}
	if _, err := m.Install(ctx, InstallRequest{Remote: "origin", Name: "org.example.Hello"}, nil); err != nil {
		t.Fatal(err)
	}
	// A pinned runtime stays when the app that used it goes.
	if err := m.EditPatterns(ctx, "pinned", []string{"runtime/org.example.Platform"}, false); err != nil {
		t.Fatal(err)
	}
	removed, err := m.Uninstall(ctx, UninstallRequest{Refs: []flatpak.Ref{helloRef}, Unused: true}, nil)
	if err != nil || len(removed) != 1 {
		t.Fatalf("uninstall --unused with the runtime pinned: %v, %v", removed, err)
	}
	if _, err := m.In.Get(platformRef); err != nil {
		t.Fatalf("the pinned runtime was removed: %v", err)
	}
}
