package center

import (
	"arbor/deploy/apps"
	"context"
	"errors"
	"fmt"
	"strings"

	"arbor/deploy/flatpak"
	"arbor/deploy/history"
	"arbor/fetch"
	"arbor/sandbox/cgroup"
)

// Remote is a remote as the page lists it.
type Remote = apps.Remote

// RemoteChange edits a remote; nil fields stay.
type RemoteChange = apps.RemoteChange

// Remotes lists the installation's remotes, highest priority first.
func (a *Apps) Remotes() []Remote { return a.m.Remotes() }

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
	return a.m.AddRemote(ctx, req.Name, req.URL, fetch.AddOptions{NoGPGVerify: true})
}

// ModifyRemote enables, disables or reorders a remote.
func (a *Apps) ModifyRemote(ctx context.Context, name string, ch RemoteChange) error {
	defer a.changed()
	return a.m.ModifyRemote(ctx, name, ch)
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

// Disk is what each installed app and runtime takes, named as the
// catalogue names them.
func (a *Apps) Disk(ctx context.Context) (*DiskUse, error) {
	uses, err := a.m.DiskUse(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	if items, err := a.List(ctx); err == nil {
		for _, it := range items {
			names[it.Ref] = it.Name
		}
	}
	out := &DiskUse{Items: []Use{}}
	for _, u := range uses {
		name := names[u.Ref.String()]
		if name == "" {
			name = u.Ref.ID
		}
		out.Items = append(out.Items, Use{ID: itemID(u.Ref, u.Origin), Ref: u.Ref.String(), Name: name, Kind: string(u.Ref.Kind), Bytes: u.Bytes, Unused: u.Unused})
		out.Total += u.Bytes
	}
	return out, nil
}

// Instance is an app running from the installation.
type Instance struct {
	ID           string        `json:"id"`
	Ref          string        `json:"ref"`
	PID          int           `json:"pid"`
	Commit       string        `json:"commit"`
	UpdateLanded bool          `json:"update_landed"`
	Instance     string        `json:"instance,omitempty"` // its number, as arbor ps shows it
	Usage        *cgroup.Usage `json:"usage,omitempty"`    // what its cgroup used, and its limits
}

// Running lists the apps running now, and which of them are to be
// restarted to use the version installed since.
func (a *Apps) Running(ctx context.Context) ([]Instance, error) {
	run, err := a.m.Running(ctx)
	if err != nil {
		return nil, err
	}
	out := []Instance{}
	for _, r := range run {
		d, err := a.m.In.Get(r.Ref)
		if err != nil {
			continue
		}
		out = append(out, Instance{ID: itemID(r.Ref, d.Origin), Ref: r.Ref.String(), PID: r.PID, Commit: r.Commit.String(), UpdateLanded: r.UpdateLanded,
			Instance: r.InstanceID, Usage: r.Usage})
	}
	return out, nil
}

// Limit bounds what a running instance (by its number) may take, as
// `arbor limit` does.
func (a *Apps) Limit(ctx context.Context, instance string, l cgroup.Limits) error {
	_, err := a.m.Limit(ctx, instance, l)
	return err
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
