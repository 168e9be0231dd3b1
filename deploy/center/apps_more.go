package center

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"arbor/deploy/flatpak"
	"arbor/deploy/history"
	"arbor/fetch"
	"arbor/store"
	"arbor/store/object"
)

// Remote is a remote as the page lists it.
type Remote struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Title     string `json:"title,omitempty"`
	Enabled   bool   `json:"enabled"`
	Priority  int    `json:"priority"`
	GPGVerify bool   `json:"gpg_verify"`
}

func group(name string) string { return fmt.Sprintf("remote %q", name) }

func remoteDisabled(r *store.Repo, name string) bool {
	v, _ := r.Config().Get(group(name), "xa.disable")
	return v == "true"
}

// Remotes lists the installation's remotes, highest priority first (as
// flatpak orders them: xa.prio, default 1).
func (a *Apps) Remotes() []Remote {
	r := a.repo()
	out := []Remote{}
	for _, name := range fetch.ListRemotes(r) {
		rm, err := fetch.LoadRemote(r, name)
		if err != nil {
			continue
		}
		cfg := r.Config()
		title, _ := cfg.Get(group(name), "xa.title")
		prio := 1
		if v, ok := cfg.Get(group(name), "xa.prio"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				prio = n
			}
		}
		out = append(out, Remote{Name: name, URL: rm.URL, Title: title, Enabled: !remoteDisabled(r, name), Priority: prio, GPGVerify: rm.GPGVerify})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority > out[j].Priority })
	return out
}

// AddRemote is a remote to add: a URL, or a .flatpakrepo's text.
type AddRemote struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
	File string `json:"file,omitempty"`
}

// AddRemote adds a remote. One added by URL alone has no key, so its
// signatures are not checked, as `remote-add --no-gpg-verify`.
func (a *Apps) AddRemote(ctx context.Context, req AddRemote) error {
	defer a.changed()
	if req.File != "" {
		return a.m.AddRepoFile(ctx, req.Name, []byte(req.File))
	}
	if req.URL == "" {
		return errors.New("a remote needs a URL or a .flatpakrepo")
	}
	err := fetch.AddRemote(a.repo(), req.Name, req.URL, fetch.AddOptions{NoGPGVerify: true})
	a.record(history.Entry{Op: "remote-add", Remote: req.Name}, err)
	return err
}

// RemoteChange edits a remote; nil fields stay.
type RemoteChange struct {
	Enabled  *bool `json:"enabled,omitempty"`
	Priority *int  `json:"priority,omitempty"`
}

// ModifyRemote enables, disables or reorders a remote, with flatpak's keys.
func (a *Apps) ModifyRemote(ctx context.Context, name string, ch RemoteChange) error {
	r := a.repo()
	cfg := r.Config()
	if !cfg.HasGroup(group(name)) {
		return fmt.Errorf("remote %s: %w", name, fetch.ErrNoRemote)
	}
	if ch.Enabled != nil {
		if *ch.Enabled {
			cfg.Delete(group(name), "xa.disable")
		} else {
			cfg.Set(group(name), "xa.disable", "true")
		}
	}
	if ch.Priority != nil {
		cfg.Set(group(name), "xa.prio", strconv.Itoa(*ch.Priority))
	}
	defer a.changed()
	err := r.WriteConfig()
	a.record(history.Entry{Op: "remote-modify", Remote: name}, err)
	return err
}

func (a *Apps) record(e history.Entry, err error) {
	if a.m.History == nil {
		return
	}
	if err != nil {
		e.Error = err.Error()
	}
	a.m.History.Append(e)
}

// History returns the installation's operations, newest first.
func (a *Apps) History(ctx context.Context, max int) ([]history.Entry, error) {
	if a.m.History == nil {
		return []history.Entry{}, nil
	}
	if max <= 0 {
		max = 500
	}
	h, err := a.m.History.Read(ctx, max)
	if h == nil {
		h = []history.Entry{}
	}
	return h, err
}

// Use is what an installed ref takes on disk.
type Use struct {
	ID     string `json:"id"`
	Ref    string `json:"ref"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Bytes  uint64 `json:"bytes"`
	Unused bool   `json:"unused"`
}

// DiskUse is every installed ref's use.
type DiskUse struct {
	Items []Use  `json:"items"`
	Total uint64 `json:"total"`
}

// Disk measures what each installed app and runtime takes: the objects of
// its commit present here (fetched lazily or in full), each object counted
// once overall.
func (a *Apps) Disk(ctx context.Context) (*DiskUse, error) {
	in := a.m.In
	refs, err := in.Installed()
	if err != nil {
		return nil, err
	}
	unused, err := in.Unused()
	if err != nil {
		return nil, err
	}
	isUnused := map[string]bool{}
	for _, u := range unused {
		isUnused[u.String()] = true
	}
	names := map[string]string{}
	if items, err := a.List(ctx); err == nil {
		for _, it := range items {
			names[it.Ref] = it.Name
		}
	}
	out := &DiskUse{Items: []Use{}}
	for _, ref := range refs {
		d, err := in.Get(ref)
		if err != nil {
			return nil, err
		}
		n, err := a.diskBytes(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		name := names[ref.String()]
		if name == "" {
			name = ref.ID
		}
		out.Items = append(out.Items, Use{ID: itemID(ref, d.Origin), Ref: ref.String(), Name: name, Kind: string(ref.Kind), Bytes: n, Unused: isUnused[ref.String()]})
		out.Total += n
	}
	sort.SliceStable(out.Items, func(i, j int) bool { return out.Items[i].Bytes > out.Items[j].Bytes })
	return out, nil
}

// diskBytes sums the sizes of a deployed commit's file objects present in
// the repository, each distinct object once.
func (a *Apps) diskBytes(ctx context.Context, d *flatpak.Deployed) (uint64, error) {
	r := a.repo()
	root, err := r.RootOf(d.Commit)
	if err != nil {
		return 0, err
	}
	var total uint64
	seen := map[object.Checksum]bool{}
	err = store.Distinct{
		Dir: func(ctx context.Context, d store.Dir) error {
			for _, f := range d.Entries.Files {
				if seen[f.Checksum] {
					continue
				}
				seen[f.Checksum] = true
				var st syscall.Stat_t
				if syscall.Stat(r.ObjectPath(f.Checksum, object.TypeFile), &st) == nil {
					total += uint64(st.Blocks) * 512
				}
			}
			return ctx.Err()
		},
		// A lazy install's directories not yet fetched hold nothing here.
		OnError: func(store.Dir, error) error { return nil },
	}.Walk(ctx, r, root)
	return total, err
}

// Instance is an app running from the installation.
type Instance struct {
	ID           string `json:"id"`
	Ref          string `json:"ref"`
	PID          int    `json:"pid"`
	Commit       string `json:"commit"`
	UpdateLanded bool   `json:"update_landed"`
}

// Running lists the apps running now, and which of them run a commit
// older than the one now installed: they are to be restarted.
func (a *Apps) Running(ctx context.Context) ([]Instance, error) {
	in := a.m.In
	inst, err := in.Instances()
	if err != nil {
		return nil, err
	}
	apps, err := in.InstalledOf(flatpak.App)
	if err != nil {
		return nil, err
	}
	out := []Instance{}
	for _, i := range inst {
		if len(i.Commits) == 0 {
			continue
		}
		for _, ref := range apps {
			if _, err := os.Stat(in.RefDir(ref) + "/" + i.Commits[0].String()); err != nil {
				continue
			}
			d, err := in.Get(ref)
			if err != nil {
				continue
			}
			out = append(out, Instance{ID: itemID(ref, d.Origin), Ref: ref.String(), PID: i.PID, Commit: i.Commits[0].String(),
				UpdateLanded: d.Commit != i.Commits[0]})
		}
	}
	return out, nil
}

// OpenRequest is a .flatpakref or .flatpakrepo to look at: a URL, or the
// text of a file.
type OpenRequest struct {
	URL  string `json:"url,omitempty"`
	File string `json:"file,omitempty"`
	Name string `json:"name,omitempty"` // the file's name, for its kind
}

// Opened is what such a file would do.
type Opened struct {
	Kind   string `json:"kind"` // ref, repo
	Title  string `json:"title,omitempty"`
	Ref    string `json:"ref,omitempty"`
	Remote string `json:"remote,omitempty"` // the remote it uses or would add
	URL    string `json:"url"`
	Signed bool   `json:"signed"` // it carries a key: signatures will be checked
	Item   *Item  `json:"item"`   // when the catalogue has it
}

// read fetches the file's text.
func (o OpenRequest) read(ctx context.Context) ([]byte, error) {
	if o.File != "" {
		return []byte(o.File), nil
	}
	if o.URL == "" {
		return nil, errors.New("give a URL or a file")
	}
	return fetch.GetURL(ctx, o.URL, 1<<20)
}

// kind tells a .flatpakref from a .flatpakrepo by its group.
func kind(b []byte) string {
	if strings.Contains(string(b), "[Flatpak Repo]") {
		return "repo"
	}
	return "ref"
}

// Open previews a .flatpakref or .flatpakrepo; nothing changes.
func (a *Apps) Open(ctx context.Context, o OpenRequest) (*Opened, error) {
	b, err := o.read(ctx)
	if err != nil {
		return nil, err
	}
	if kind(b) == "repo" {
		f, err := flatpak.ParseRepoFile(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.label(), err)
		}
		return &Opened{Kind: "repo", Title: f.Title, URL: f.URL, Signed: f.GPGKey != nil, Remote: strings.TrimSuffix(o.Name, ".flatpakrepo")}, nil
	}
	f, err := flatpak.ParseRefFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.label(), err)
	}
	op := &Opened{Kind: "ref", Title: f.Title, Ref: f.Ref().String(), URL: f.URL, Signed: f.GPGKey != nil, Remote: f.OriginRemoteName()}
	for _, rm := range a.Remotes() {
		if strings.TrimSuffix(rm.URL, "/") == strings.TrimSuffix(f.URL, "/") {
			op.Remote = rm.Name
			if it, err := a.Refine(ctx, itemID(f.Ref(), rm.Name)); err == nil {
				op.Item = it
			}
		}
	}
	return op, nil
}

func (o OpenRequest) label() string {
	if o.URL != "" {
		return o.URL
	}
	if o.Name != "" {
		return o.Name
	}
	return "the file"
}

// StartInstallFile queues a job that installs what a .flatpakref names
// (adding its remote) or adds a .flatpakrepo's remote.
func (a *Apps) StartInstallFile(c *Center, file []byte, url string) (Job, error) {
	o := OpenRequest{File: string(file), URL: url}
	title := "Installing from " + o.label()
	return c.StartFunc(ActInstall, "", title, func(ctx context.Context, p Progress) (*Result, error) {
		b, err := o.read(ctx)
		if err != nil {
			return nil, err
		}
		defer a.changed()
		if kind(b) == "repo" {
			f, err := flatpak.ParseRepoFile(b)
			if err != nil {
				return nil, err
			}
			name := strings.ToLower(strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
					return r
				}
				return -1
			}, f.Title))
			if name == "" {
				name = "remote"
			}
			return nil, a.m.AddRepoFile(ctx, name, b)
		}
		ch, err := a.m.InstallRefFile(ctx, b, progress(p), nil)
		return changes(ch), err
	})
}

// Icon returns a catalogue icon: a file of the remote's AppStream commit,
// which the pull verified object by object.
func (a *Apps) Icon(ctx context.Context, remote, file string) ([]byte, error) {
	if strings.ContainsAny(file, "/\x00") || !strings.HasSuffix(file, ".png") {
		return nil, fmt.Errorf("icon %q: not an icon name", file)
	}
	a.mu.Lock()
	cat := a.catalogs[remote]
	a.mu.Unlock()
	if cat == nil || !cat.icons[file] {
		return nil, fmt.Errorf("remote %s has no icon %q", remote, file)
	}
	return a.repo().ReadFile(cat.appstream, "/icons/64x64/"+file, 1<<20)
}
