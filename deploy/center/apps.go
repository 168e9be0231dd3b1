package center

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"arbor/deploy/apps"
	"arbor/deploy/flatpak"
	"arbor/deploy/flatpak/appstream"
	"arbor/deploy/flatpak/safety"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/object"
)

// maxCatalog bounds a remote's appstream.xml, as the CLI's search does.
const maxCatalog = 256 << 20

// Apps is the backend of flatpak apps and runtimes: its catalogue is every
// enabled remote's AppStream branch, its state the installation.
type Apps struct {
	m    *apps.Manager
	arch string

	mu       sync.Mutex
	catalogs map[string]*catalog // by remote
	items    []*Item             // the list, rebuilt when state changes
	byID     map[string]*Item
	cfgStamp [2]int64
	// histStamp is the history's when the list was built: every workflow
	// appends to it, the CLI's too, so a change shows it is stale.
	histStamp [2]int64
}

// catalog is what one remote offers.
type catalog struct {
	appstream object.Checksum            // the appstream2 commit read
	comps     []appstream.Component      // its components
	refs      map[string]object.Checksum // the summary's refs, when fetched
	icons     map[string]bool            // icons/64x64/ names in the appstream commit
}

var _ Preparer = (*Apps)(nil)

// NewApps is the backend over an installation's workflows.
func NewApps(m *apps.Manager) *Apps {
	return &Apps{m: m, arch: flatpak.Arch(), catalogs: map[string]*catalog{}}
}

// Name implements Backend.
func (a *Apps) Name() string { return "apps" }

func (a *Apps) repo() *store.Repo { return a.m.Repo }

// appstreamBranch is the branch AppStream data is read from.
func (a *Apps) appstreamBranch() string { return "appstream2/" + a.arch }

// stamp is a file's modification time and size, zero when it is absent.
func stamp(path string) [2]int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return [2]int64{}
	}
	return [2]int64{fi.ModTime().UnixNano(), fi.Size()}
}

// reloadConfig picks up remotes a CLI command changed meanwhile, and
// drops the list they may change. Callers hold mu.
func (a *Apps) reloadConfig() {
	st := stamp(filepath.Join(a.repo().Path(), "config"))
	if st != a.cfgStamp && a.repo().ReloadConfig() == nil {
		a.cfgStamp, a.items = st, nil
	}
}

// enabled lists the remotes not disabled, highest priority first.
func (a *Apps) enabled() []string {
	var out []string
	for _, r := range a.Remotes() {
		if r.Enabled {
			out = append(out, r.Name)
		}
	}
	return out
}

// Refresh fetches every enabled remote's summary and AppStream branch
// (both checked as a pull checks them) and rebuilds the list.
func (a *Apps) Refresh(ctx context.Context, p Progress) error {
	a.mu.Lock()
	a.reloadConfig()
	a.mu.Unlock()
	var errs []error
	for _, remote := range a.enabled() {
		if err := ctx.Err(); err != nil {
			return err
		}
		say(p, Event{Phase: "refreshing", Message: "fetching the list of apps of " + remote})
		refs, err := a.m.RemoteRefs(ctx, remote)
		if err != nil {
			errs = append(errs, fmt.Errorf("remote %s: %w", remote, err))
			continue
		}
		if _, ok := refs[a.appstreamBranch()]; ok {
			say(p, Event{Phase: "refreshing", Message: "fetching the AppStream data of " + remote})
			_, err := fetch.Pull(ctx, a.repo(), remote, fetch.PullOptions{Refs: []string{a.appstreamBranch()},
				Progress: func(fp fetch.Progress) {
					say(p, Event{Phase: "refreshing", Message: "fetching the AppStream data of " + remote, Objects: fp.Objects, Fetched: fp.Fetched, Bytes: fp.Bytes})
				}})
			if err != nil {
				errs = append(errs, fmt.Errorf("remote %s: AppStream data: %w", remote, err))
			}
		}
		cat, err := a.loadCatalog(ctx, remote)
		if err != nil {
			errs = append(errs, err)
		}
		cat.refs = refs
		a.mu.Lock()
		a.catalogs[remote] = cat
		a.items = nil
		a.mu.Unlock()
	}
	return errors.Join(errs...)
}

// loadCatalog reads a remote's AppStream branch as last pulled; no branch
// is an empty catalogue.
func (a *Apps) loadCatalog(ctx context.Context, remote string) (*catalog, error) {
	cat := &catalog{icons: map[string]bool{}}
	c, err := a.repo().Resolve(remote + ":" + a.appstreamBranch())
	if err != nil {
		return cat, nil
	}
	doc, err := a.repo().ReadFile(c, "/appstream.xml", maxCatalog)
	if err != nil {
		return cat, fmt.Errorf("remote %s: AppStream data: %w", remote, err)
	}
	comps, err := appstream.Parse(doc)
	if err != nil {
		return cat, fmt.Errorf("remote %s: %w", remote, err)
	}
	cat.appstream, cat.comps = c, comps
	if n, err := a.repo().Lookup(c, "/icons/64x64"); err == nil && n.IsDir {
		if dt, err := a.repo().ReadDirTree(n.Tree); err == nil {
			for _, f := range dt.Files {
				cat.icons[f.Name] = true
			}
		}
	}
	return cat, ctx.Err()
}

// List implements Backend: the catalogue's apps and what is installed,
// built once per change.
func (a *Apps) List(ctx context.Context) ([]*Item, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reloadConfig()
	hist := stamp(apps.HistoryPath(a.m.In))
	if a.items != nil && hist == a.histStamp {
		return a.items, nil
	}
	a.histStamp = hist
	enabled := a.enabled()
	for _, remote := range enabled {
		if _, ok := a.catalogs[remote]; !ok {
			cat, err := a.loadCatalog(ctx, remote)
			if err != nil {
				return nil, err
			}
			a.catalogs[remote] = cat
		}
	}
	items, err := a.build(enabled)
	if err != nil {
		return nil, err
	}
	a.items, a.byID = items, map[string]*Item{}
	for _, it := range items {
		a.byID[it.ID] = it
	}
	return items, nil
}

// itemID names a ref from a remote.
func itemID(ref flatpak.Ref, remote string) string { return "apps/" + ref.String() + "@" + remote }

// parseItemID is itemID's inverse.
func parseItemID(id string) (flatpak.Ref, string, error) {
	rest, ok := strings.CutPrefix(id, "apps/")
	at := strings.LastIndexByte(rest, '@')
	if !ok || at < 0 {
		return flatpak.Ref{}, "", ErrNotFound{id}
	}
	ref, err := flatpak.ParseRef(rest[:at])
	if err != nil {
		return flatpak.Ref{}, "", ErrNotFound{id}
	}
	return ref, rest[at+1:], nil
}

// build makes the list: each enabled remote's catalogue components whose
// bundle is an app of this arch, in the remotes' order of priority, then
// what is installed and in no catalogue. Callers hold mu.
func (a *Apps) build(remotes []string) ([]*Item, error) {
	in := a.m.In
	installed, err := in.Installed()
	if err != nil {
		return nil, err
	}
	deployed := map[string]*flatpak.Deployed{}
	for _, ref := range installed {
		if d, err := in.Get(ref); err == nil {
			deployed[ref.String()] = d
		}
	}
	seen := map[string]bool{}
	var out []*Item
	for _, remote := range remotes {
		cat := a.catalogs[remote]
		for i := range cat.comps {
			comp := &cat.comps[i]
			ref, err := flatpak.ParseRef(comp.Bundle)
			if err != nil || ref.Arch != a.arch {
				continue
			}
			it := fromComponent(comp, ref, remote)
			if cat.icons[comp.Icon] {
				it.Icon = "/icons/" + remote + "/" + comp.Icon
			}
			a.state(it, deployed[ref.String()], cat)
			seen[ref.String()+"@"+it.Remote] = true
			it.Fold()
			out = append(out, it)
		}
	}
	for _, ref := range installed {
		d := deployed[ref.String()]
		if d == nil || seen[ref.String()+"@"+d.Origin] {
			continue
		}
		it := &Item{ID: itemID(ref, d.Origin), Backend: "apps", Kind: string(ref.Kind), Name: ref.ID, Ref: ref.String(),
			Branch: ref.Branch, Remote: d.Origin}
		if ref.Kind == flatpak.Runtime {
			it.Summary = "Runtime"
		}
		a.state(it, d, a.catalogs[d.Origin])
		it.Fold()
		out = append(out, it)
	}
	return out, nil
}

// fromComponent is an item as the catalogue describes it.
func fromComponent(c *appstream.Component, ref flatpak.Ref, remote string) *Item {
	it := &Item{ID: itemID(ref, remote), Backend: "apps", Kind: string(ref.Kind), Name: c.Name, Summary: c.Summary,
		Categories: c.Categories, Keywords: c.Keywords, Developer: c.Developer, License: c.License, Homepage: c.Homepage,
		Version: c.Version(), Remote: remote, Ref: ref.String(), Branch: ref.Branch}
	if it.Name == "" {
		it.Name = ref.ID
	}
	return it
}

// details adds what the page shows on an app's own page.
func details(it *Item, c *appstream.Component) {
	it.Description = paragraphs(c.Description)
	for _, r := range c.Releases {
		it.Releases = append(it.Releases, Release{Version: r.Version, Date: r.Date, Description: paragraphs(r.Description)})
	}
	for _, s := range c.Screenshots {
		if strings.HasPrefix(s.URL, "https://") || strings.HasPrefix(s.URL, "http://") {
			it.Screenshots = append(it.Screenshots, Screenshot{URL: s.URL, Caption: s.Caption})
		}
	}
}

func paragraphs(ps []appstream.Paragraph) []Paragraph {
	out := make([]Paragraph, 0, len(ps))
	for _, p := range ps {
		out = append(out, Paragraph{Text: p.Text, Items: p.Items})
	}
	return out
}

// state sets what is installed of the item, and whether the remote has
// newer. Callers hold mu.
func (a *Apps) state(it *Item, d *flatpak.Deployed, cat *catalog) {
	it.State, it.Actions = Available, []string{ActInstall}
	if cat != nil {
		if c, ok := cat.refs[it.Ref]; ok {
			it.AvailableCommit = c.String()
		}
	}
	if d == nil || d.Origin != it.Remote {
		return
	}
	it.State, it.Actions = Installed, []string{ActRemove}
	it.InstalledCommit = d.Commit.String()
	if it.AvailableCommit != "" && it.AvailableCommit != it.InstalledCommit {
		it.State, it.Actions = Updatable, []string{ActUpdate, ActDownload, ActRemove}
	}
}

// Refine implements Backend: the item with the commit's sizes and
// permissions, fetched (and verified) when not yet here.
func (a *Apps) Refine(ctx context.Context, id string) (*Item, error) {
	if _, err := a.List(ctx); err != nil {
		return nil, err
	}
	ref, remote, err := parseItemID(id)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	base, ok := a.byID[id]
	var comp *appstream.Component
	if cat := a.catalogs[remote]; cat != nil {
		for i := range cat.comps {
			if cat.comps[i].Bundle == ref.String() {
				comp = &cat.comps[i]
			}
		}
	}
	a.mu.Unlock()
	if !ok {
		return nil, ErrNotFound{id}
	}
	cp := *base
	it := &cp
	if comp != nil {
		details(it, comp)
	}
	d, _ := a.m.In.Get(ref)
	// The commit shown: the available one, else the installed one.
	var md *flatpak.Metadata
	if it.AvailableCommit != "" || it.InstalledCommit == "" {
		meta, sizes, err := a.commitInfo(ctx, remote, ref)
		if err != nil {
			return nil, err
		}
		md, it.DownloadSize, it.InstalledSize = meta, sizes[1], sizes[0]
	}
	if md == nil && d != nil {
		md = d.Metadata
	}
	if md != nil {
		ps := safety.DescribeGrants(safety.FromMetadata(md))
		it.Permissions, it.Safety = fromSafety(ps), safety.Rate(ps).String()
		if d != nil && d.Metadata != nil && it.State == Updatable {
			it.NewPermissions = fromSafety(safety.AddedGrants(safety.FromMetadata(d.Metadata), safety.FromMetadata(md)))
		}
		if md.Kind == flatpak.App && md.Runtime != "" {
			it.Runtime = a.runtimeNeed(ctx, remote, md.Runtime)
		}
	}
	if d != nil {
		if n, err := apps.DiskBytes(ctx, a.repo(), d.Commit); err == nil {
			it.DiskBytes = n
		}
		running, _ := a.Running(ctx)
		for _, r := range running {
			if r.Ref == ref.String() && r.UpdateLanded {
				it.NeedsRestart = true
			}
		}
	}
	return it, nil
}

// commitInfo fetches a ref's commit alone, verified, and returns its
// xa.metadata and its installed and download sizes.
func (a *Apps) commitInfo(ctx context.Context, remote string, ref flatpak.Ref) (*flatpak.Metadata, [2]uint64, error) {
	ci, err := a.m.RemoteCommit(ctx, remote, ref)
	if err != nil {
		return nil, [2]uint64{}, fmt.Errorf("%s from %s: %w", ref, remote, err)
	}
	return ci.Metadata, [2]uint64{ci.InstalledSize, ci.DownloadSize}, nil
}

// runtimeNeed is the runtime an app would pull, and its sizes when a
// remote has it.
func (a *Apps) runtimeNeed(ctx context.Context, appRemote, partial string) *Need {
	rt, err := flatpak.ParsePartial(flatpak.Runtime, partial)
	if err != nil {
		return nil
	}
	n := &Need{Ref: rt.String()}
	if _, err := a.m.In.Get(rt); err == nil {
		n.Installed = true
		return n
	}
	remotes := append([]string{appRemote}, a.enabled()...)
	for _, remote := range remotes {
		a.mu.Lock()
		cat := a.catalogs[remote]
		_, listed := cat.refsHas(rt.String())
		a.mu.Unlock()
		if !listed {
			continue
		}
		if _, sizes, err := a.commitInfo(ctx, remote, rt); err == nil {
			n.Remote, n.InstalledSize, n.DownloadSize = remote, sizes[0], sizes[1]
			return n
		}
	}
	return n
}

func (c *catalog) refsHas(ref string) (object.Checksum, bool) {
	if c == nil {
		return object.Checksum{}, false
	}
	v, ok := c.refs[ref]
	return v, ok
}

func fromSafety(ps []safety.Permission) []Permission {
	out := make([]Permission, 0, len(ps))
	for _, p := range ps {
		out = append(out, Permission{ID: p.ID, Label: p.Label, Detail: p.Detail, Level: p.Level.String()})
	}
	return out
}

// changed drops the list so that the next call rebuilds it.
func (a *Apps) changed() {
	a.mu.Lock()
	a.items = nil
	a.mu.Unlock()
}

// progress turns the workflows' events into the center's.
func progress(p Progress) apps.Progress {
	return func(e apps.Event) {
		say(p, Event{Phase: e.Phase, Message: e.Message, Objects: e.Objects, Fetched: e.Fetched, Bytes: e.Bytes})
	}
}

func say(p Progress, e Event) {
	if p != nil {
		p(e)
	}
}

// Install implements Backend: the app and, when missing, its runtime.
func (a *Apps) Install(ctx context.Context, id string, o Options, p Progress) (*Result, error) {
	ref, remote, err := parseItemID(id)
	if err != nil {
		return nil, err
	}
	defer a.changed()
	ch, err := a.m.Install(ctx, apps.InstallRequest{Remote: remote, Name: ref.String(), Kind: ref.Kind, Commit: o.Commit}, progress(p))
	return changes(ch), err
}

// Prepare implements Preparer: the app (or runtime), and the runtime an
// app needs, fetched and verified ahead of an install; nothing deployed.
func (a *Apps) Prepare(ctx context.Context, id string) error {
	ref, remote, err := parseItemID(id)
	if err != nil {
		return err
	}
	return a.m.Prepare(ctx, remote, ref)
}

// Remove implements Backend.
func (a *Apps) Remove(ctx context.Context, id string, p Progress) (*Result, error) {
	ref, _, err := parseItemID(id)
	if err != nil {
		return nil, err
	}
	defer a.changed()
	_, err = a.m.Uninstall(ctx, apps.UninstallRequest{Refs: []flatpak.Ref{ref}}, progress(p))
	return nil, err
}

// Update implements Backend. An update that asks for new permissions is
// held back unless allowed, and reported as held.
func (a *Apps) Update(ctx context.Context, ids []string, o Options, p Progress) (*Result, error) {
	var refs []flatpak.Ref
	for _, id := range ids {
		ref, _, err := parseItemID(id)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	defer a.changed()
	ch, err := a.m.Update(ctx, apps.UpdateRequest{Refs: refs, Commit: o.Commit, AllowNewPermissions: o.AllowPermissions, DownloadOnly: o.DownloadOnly}, progress(p))
	res := changes(ch)
	for _, c := range ch {
		if c.To.IsZero() && len(c.NewPermissions) > 0 {
			d, _ := a.m.In.Get(c.Ref)
			origin := ""
			if d != nil {
				origin = d.Origin
			}
			h := Held{ID: itemID(c.Ref, origin)}
			for _, s := range c.NewPermissions {
				h.NewPermissions = append(h.NewPermissions, Permission{ID: s, Label: s, Level: safety.PotentiallyUnsafe.String()})
			}
			// The words with their levels, as the details show them.
			a.changed()
			if it, err := a.Refine(ctx, h.ID); err == nil && len(it.NewPermissions) > 0 {
				h.NewPermissions = it.NewPermissions
			}
			res.Held = append(res.Held, h)
		}
	}
	return res, err
}

func changes(ch []apps.Change) *Result {
	res := &Result{}
	for _, c := range ch {
		res.Warnings = append(res.Warnings, c.Warnings...)
	}
	return res
}
