package center

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"arbor/deploy/apps"
	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/commits"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/object"
)

// catalogue is an archive repository of a runtime and apps with AppStream
// data and icons, read by an installation through a file URL.
type catalogue struct {
	t    *testing.T
	repo *store.Repo
	dir  string
}

// A 1x1 PNG.
var png = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func put(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func newCatalogue(t *testing.T) *catalogue {
	t.Helper()
	dir := t.TempDir()
	r, err := store.Init(filepath.Join(dir, "repo"), store.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	rt := filepath.Join(dir, "rt")
	put(t, filepath.Join(rt, "metadata"), []byte("[Runtime]\nname=org.example.Platform\nruntime=org.example.Platform/"+flatpak.Arch()+"/1.0\n"))
	put(t, filepath.Join(rt, "usr/bin/sh"), []byte("not a shell"))
	if _, _, err := commits.BuildExport(context.Background(), r, rt, commits.ExportOptions{Branch: "1.0", Runtime: true}); err != nil {
		t.Fatal(err)
	}
	return &catalogue{t: t, repo: r, dir: dir}
}

// app exports a release of an app with [Context] perms and its metainfo,
// then updates the AppStream branch and the summary.
func (c *catalogue) app(id, name, version, perms string) {
	t := c.t
	t.Helper()
	dir := filepath.Join(c.dir, id+"-"+version)
	meta := "[Application]\nname=" + id + "\nruntime=org.example.Platform/" + flatpak.Arch() + "/1.0\nsdk=org.example.Platform/" + flatpak.Arch() + "/1.0\ncommand=run\n"
	if perms != "" {
		meta += "\n[Context]\n" + perms + "\n"
	}
	put(t, filepath.Join(dir, "metadata"), []byte(meta))
	put(t, filepath.Join(dir, "files/bin/run"), []byte("#!/bin/sh\n"))
	put(t, filepath.Join(dir, "files/share/metainfo/"+id+".metainfo.xml"), []byte(`<component type="desktop-application"><id>`+id+`</id><name>`+name+`</name>
<summary>Does `+name+` things</summary><description><p>All about `+name+`.</p></description>
<categories><category>Utility</category></categories><developer_name>Example</developer_name><project_license>MIT</project_license>
<releases><release version="`+version+`" date="2026-01-0`+version+`"/></releases></component>`))
	put(t, filepath.Join(dir, "files/share/icons/hicolor/64x64/apps/"+id+".png"), png)
	if _, _, err := commits.BuildExport(context.Background(), c.repo, dir, commits.ExportOptions{Branch: "1.0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := commits.UpdateAppStream(context.Background(), c.repo, flatpak.Arch()); err != nil {
		t.Fatal(err)
	}
	sb, err := c.repo.BuildSummary(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.repo.WriteSummary(sb, nil); err != nil {
		t.Fatal(err)
	}
}

func newApps(t *testing.T, c *catalogue) (*Apps, *Center) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inst", "repo")
	r, err := store.Init(path, store.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := fetch.AddRemote(r, "origin", "file://"+c.repo.Path(), fetch.AddOptions{NoGPGVerify: true}); err != nil {
		t.Fatal(err)
	}
	m := apps.NewManager(r, flatpak.NewInstallation(path))
	m.Arbor = "/usr/bin/arbor"
	a := NewApps(m)
	ctx, cancel := context.WithCancel(context.Background())
	center := New(ctx, a)
	// Before the repository closes: a preparation the details started
	// is stopped and over.
	t.Cleanup(func() { cancel(); center.Drain(context.Background()) })
	return a, center
}

// run starts a job and waits for its end.
func run(t *testing.T, c *Center, req Request) Job {
	t.Helper()
	ch, stop := c.Subscribe()
	defer stop()
	j, err := c.Start(req)
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case n := <-ch:
			if n.Job != nil && n.Job.ID == j.ID && (n.Job.State == Done || n.Job.State == Failed || n.Job.State == Cancelled) {
				return *n.Job
			}
			if n.Job != nil && n.Job.ID == j.ID && n.Job.State == Running && n.Job.Message == "" {
				t.Errorf("a running job without a message: %+v", n.Job)
			}
		case <-timeout:
			t.Fatalf("job %s did not end", j.ID)
		}
	}
}

func find(t *testing.T, c *Center, q Query, id string) *Item {
	t.Helper()
	p, err := c.Items(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range p.Items {
		if it.ID == id {
			return it
		}
	}
	return nil
}

// The whole life of an app in the center: in the catalogue with its icon,
// found by search, its details, installed, updated with new permissions
// held back then allowed, removed, and each step in the history.
func TestAppsBackend(t *testing.T) {
	ctx := context.Background()
	cat := newCatalogue(t)
	cat.app("org.example.Hello", "Hello", "1", "sockets=wayland;")
	cat.app("org.example.Paint", "Paint", "1", "shared=network;")
	a, c := newApps(t, cat)
	id := "apps/app/org.example.Hello/" + flatpak.Arch() + "/1.0@origin"

	if j := run(t, c, Request{Action: ActRefresh}); j.State != Done {
		t.Fatalf("refresh: %+v", j)
	}
	it := find(t, c, Query{View: ViewExplore}, id)
	if it == nil || it.Name != "Hello" || it.State != Available || it.Icon != "/icons/origin/org.example.Hello.png" || it.Version != "1" {
		t.Fatalf("explore: %+v", it)
	}
	if b, err := a.Icon(ctx, "origin", "org.example.Hello.png"); err != nil || string(b) != string(png) {
		t.Fatalf("icon: %v", err)
	}
	if _, err := a.Icon(ctx, "origin", "../config.png"); err == nil {
		t.Fatal("an icon name with a slash was served")
	}
	p, err := c.Items(ctx, Query{View: ViewExplore, Text: "pai"})
	if err != nil || p.Total != 1 || p.Items[0].Name != "Paint" {
		t.Fatalf("search: %+v %v", p, err)
	}
	if len(p.Categories) != 1 || p.Categories[0] != (Count{"Utility", 1}) {
		t.Errorf("categories %+v", p.Categories)
	}

	d, err := c.Item(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Safety != "safe" || len(d.Permissions) != 1 || d.InstalledSize == 0 || d.Runtime == nil || d.Runtime.Installed ||
		d.Runtime.InstalledSize == 0 || len(d.Description) != 1 || d.Description[0].Text != "All about Hello." || d.License != "MIT" {
		t.Fatalf("details: %+v", d)
	}

	if j := run(t, c, Request{Action: ActInstall, Item: id}); j.State != Done {
		t.Fatalf("install: %+v", j)
	}
	if it := find(t, c, Query{View: ViewInstalled}, id); it == nil || it.State != Installed {
		t.Fatalf("installed: %+v", it)
	}
	if find(t, c, Query{View: ViewInstalled}, "apps/runtime/org.example.Platform/"+flatpak.Arch()+"/1.0@origin") == nil {
		t.Error("the runtime is not listed as installed")
	}

	cat.app("org.example.Hello", "Hello", "2", "sockets=wayland;\nfilesystems=host;")
	run(t, c, Request{Action: ActRefresh})
	if it := find(t, c, Query{View: ViewUpdates}, id); it == nil || it.State != Updatable {
		t.Fatalf("updates: %+v", it)
	}
	if d, err := c.Item(ctx, id); err != nil || len(d.NewPermissions) != 1 || d.NewPermissions[0].ID != "filesystem:host:rw" || d.NewPermissions[0].Level != "unsafe" {
		t.Fatalf("the update's new permissions: %+v %v", d, err)
	}
	j := run(t, c, Request{Action: ActUpdateAll})
	if j.State != Done || j.Result == nil || len(j.Result.Held) != 1 || j.Result.Held[0].ID != id || len(j.Result.Held[0].NewPermissions) != 1 || j.Result.Held[0].NewPermissions[0].Level != "unsafe" {
		t.Fatalf("update all with new permissions: %+v", j)
	}
	if it := find(t, c, Query{View: ViewUpdates}, id); it == nil {
		t.Fatal("the held update was applied")
	}
	if j := run(t, c, Request{Action: ActUpdate, Item: id, Options: Options{AllowPermissions: true}}); j.State != Done {
		t.Fatalf("update allowed: %+v", j)
	}
	if it := find(t, c, Query{View: ViewInstalled}, id); it == nil || it.State != Installed || it.Version != "2" {
		t.Fatalf("after the update: %+v", it)
	}

	du, err := a.Disk(ctx)
	if err != nil || len(du.Items) != 2 {
		t.Fatalf("disk: %+v %v", du, err)
	}
	if j := run(t, c, Request{Action: ActRemove, Item: id}); j.State != Done {
		t.Fatalf("remove: %+v", j)
	}
	if du, err := a.Disk(ctx); err != nil || len(du.Items) != 1 || !du.Items[0].Unused {
		t.Fatalf("disk after the removal: %+v %v", du, err)
	}
	h, err := a.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range h {
		ops = append(ops, e.Op+" "+e.Ref)
	}
	want := []string{"uninstall app/org.example.Hello", "update app/org.example.Hello", "install runtime/org.example.Platform", "install app/org.example.Hello"}
	if len(ops) != len(want) {
		t.Fatalf("history %v", ops)
	}
	for i := range want {
		if len(ops[i]) < len(want[i]) || ops[i][:len(want[i])] != want[i] {
			t.Errorf("history %v, want %v", ops, want)
		}
	}

	// A disabled remote leaves the catalogue.
	off := false
	if err := a.ModifyRemote(ctx, "origin", RemoteChange{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if rs := a.Remotes(); len(rs) != 1 || rs[0].Enabled {
		t.Fatalf("remotes %+v", rs)
	}
	if it := find(t, c, Query{View: ViewExplore}, id); it != nil {
		t.Fatalf("a disabled remote's app is listed: %+v", it)
	}
}

// A failed install is a failed job naming what failed; nothing is
// installed.
func TestInstallFails(t *testing.T) {
	cat := newCatalogue(t)
	cat.app("org.example.Hello", "Hello", "1", "")
	a, c := newApps(t, cat)
	run(t, c, Request{Action: ActRefresh})
	os.RemoveAll(filepath.Join(cat.repo.Path(), "objects"))
	j := run(t, c, Request{Action: ActInstall, Item: "apps/app/org.example.Hello/" + flatpak.Arch() + "/1.0@origin"})
	if j.State != Failed || j.Error == "" {
		t.Fatalf("%+v", j)
	}
	if refs, _ := a.m.In.Installed(); len(refs) != 0 {
		t.Fatalf("installed %v", refs)
	}
}

// A subscriber that reads nothing while many jobs run still gets each
// job's final state once it reads, and Wait sees jobs that ended before
// it was called.
func TestSlowSubscriber(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := New(ctx, nopBackend{})
	ch, stop := c.Subscribe()
	defer stop()
	var ids []string
	for i := 0; i < 200; i++ {
		j, err := c.Start(Request{Action: ActRefresh})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	last, err := c.Wait(ctx, ids[len(ids)-1])
	if err != nil || last.State != Done {
		t.Fatalf("wait: %+v %v", last, err)
	}
	if again, err := c.Wait(ctx, ids[len(ids)-1]); err != nil || again.State != Done {
		t.Fatalf("wait after the end: %+v %v", again, err)
	}
	final := map[string]string{}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-ch:
			if n.Job != nil {
				final[n.Job.ID] = n.Job.State
			}
		case <-deadline:
			for _, id := range ids {
				if final[id] != Done {
					t.Errorf("job %s last heard as %q", id, final[id])
				}
			}
			return
		}
		done := 0
		for _, st := range final {
			if st == Done {
				done++
			}
		}
		if done == len(ids) {
			return
		}
	}
}

type nopBackend struct{}

func (nopBackend) Name() string                            { return "nop" }
func (nopBackend) Refresh(context.Context, Progress) error { return nil }
func (nopBackend) List(context.Context) ([]*Item, error)   { return nil, nil }
func (nopBackend) Refine(_ context.Context, id string) (*Item, error) {
	return nil, ErrNotFound{id}
}
func (nopBackend) Install(context.Context, string, Options, Progress) (*Result, error) {
	return nil, nil
}
func (nopBackend) Remove(context.Context, string, Progress) (*Result, error) { return nil, nil }
func (nopBackend) Update(context.Context, []string, Options, Progress) (*Result, error) {
	return nil, nil
}

// A job's progress reaches subscribers at most once per progressEvery,
// the newest state last, even when its phase changes with each event.
func TestProgressThrottled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := New(ctx, nopBackend{})
	ch, stop := c.Subscribe()
	defer stop()
	release := make(chan struct{})
	var took time.Duration
	j, err := c.StartFunc("test", "", "a test", func(ctx context.Context, p Progress) (*Result, error) {
		start := time.Now()
		for i := 0; i < 50; i++ {
			p(Event{Phase: fmt.Sprintf("phase %d", i%3), Message: fmt.Sprintf("step %d", i)})
			time.Sleep(2 * time.Millisecond)
		}
		took = time.Since(start)
		<-release
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var running []Job
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-ch:
			if n.Job == nil || n.Job.ID != j.ID {
				continue
			}
			if n.Job.State == Running {
				running = append(running, *n.Job)
				if n.Job.Message == "step 49" {
					close(release)
				}
			}
			if n.Job.State == Done {
				// "starting", then one a tenth of a second, and what
				// was held back last.
				if max := 2 + int(took/progressEvery); len(running) > max {
					t.Errorf("%d running notices for 50 events in %v, want at most %d", len(running), took, max)
				}
				return
			}
		case <-deadline:
			t.Fatalf("the newest progress was never sent; sent %+v", running)
		}
	}
}

// Reading an available app's details prepares its install: the app's and
// its runtime's metadata files are fetched in the background and nothing
// is installed; the install that follows waits for the preparation and
// deploys what it fetched. An installed app's details prepare nothing.
func TestDetailsPrepareInstall(t *testing.T) {
	ctx := context.Background()
	cat := newCatalogue(t)
	cat.app("org.example.Hello", "Hello", "1", "")
	a, c := newApps(t, cat)
	run(t, c, Request{Action: ActRefresh})
	app := flatpak.Ref{Kind: flatpak.App, ID: "org.example.Hello", Arch: flatpak.Arch(), Branch: "1.0"}
	rt := flatpak.Ref{Kind: flatpak.Runtime, ID: "org.example.Platform", Arch: flatpak.Arch(), Branch: "1.0"}
	id := "apps/app/" + app.ID + "/" + app.Arch + "/1.0@origin"
	if _, err := c.Item(ctx, id); err != nil {
		t.Fatal(err)
	}
	c.waitPrepared(ctx, id, nil)
	for _, ref := range []flatpak.Ref{app, rt} {
		commit, err := a.m.Repo.ReadRef("origin:" + ref.String())
		if err != nil {
			t.Fatalf("%s: its commit is not fetched: %v", ref, err)
		}
		n, err := a.m.Repo.Lookup(commit, "/metadata")
		if err != nil {
			t.Fatal(err)
		}
		if has, err := a.m.Repo.HasObject(n.File, object.TypeFile); err != nil || !has {
			t.Errorf("%s: its metadata file is not prepared (%v)", ref, err)
		}
		if _, err := a.m.In.Get(ref); err == nil {
			t.Errorf("%s is installed by reading the details", ref)
		}
	}
	if j := run(t, c, Request{Action: ActInstall, Item: id}); j.State != Done {
		t.Fatalf("install: %+v", j)
	}
	if _, err := c.Item(ctx, id); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	p := c.preparing
	c.mu.Unlock()
	if p != nil {
		t.Errorf("the details of an installed app prepare %s", p.item)
	}
}
